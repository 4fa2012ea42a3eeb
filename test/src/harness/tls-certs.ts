import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from './proc.js';

/** A PEM certificate and key on disk (and in memory). */
export interface CertFiles {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** A throwaway certificate authority made with openssl in `dir`. */
export interface TestCa extends CertFiles {
  dir: string;
  /** Issues a certificate signed by this CA: a server cert for `hosts` (DNS names or IPs), or a client cert. */
  issue(name: string, opts: { hosts?: string[]; client?: boolean }): Promise<CertFiles>;
}

async function files(certFile: string, keyFile: string): Promise<CertFiles> {
  return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
}

/** Creates a CA (RSA 2048, one day) in `dir`. The caller owns and removes `dir`. */
export async function createTestCa(dir: string, commonName = 'skiff test CA'): Promise<TestCa> {
  const certFile = path.join(dir, 'ca.pem');
  const keyFile = path.join(dir, 'ca-key.pem');
  await runOk('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '1',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  const ca = await files(certFile, keyFile);
  let serial = 1;
  return {
    ...ca,
    dir,
    async issue(name, opts) {
      const key = path.join(dir, `${name}-key.pem`);
      const csr = path.join(dir, `${name}.csr`);
      const cert = path.join(dir, `${name}.pem`);
      const ext = path.join(dir, `${name}.ext`);
      const san = (opts.hosts ?? []).map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
      const lines = [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth'}`,
      ];
      if (san) lines.push(`subjectAltName=${san}`);
      await writeFile(ext, `${lines.join('\n')}\n`);
      await runOk('openssl', [
        'req',
        '-new',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        `/CN=${opts.hosts?.[0] ?? name}`,
        '-keyout',
        key,
        '-out',
        csr,
      ]);
      await runOk('openssl', [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        certFile,
        '-CAkey',
        keyFile,
        '-set_serial',
        String(++serial),
        '-days',
        '1',
        '-sha256',
        '-extfile',
        ext,
        '-out',
        cert,
      ]);
      return files(cert, key);
    },
  };
}
