import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { describeExit, ManagedProcess } from './managed-process.js';
import { freePort, sleep } from './proc.js';

export interface Registry {
  /** `127.0.0.1:PORT` (or `<hostname>:PORT`), the registry part of image references. */
  host: string;
  port: number;
  /** Temp dir holding the config and the blob storage. */
  dir: string;
  pid: number;
  output(): string;
  /** Stops the registry and deletes its storage. */
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Log to this file and detach (see ManagedProcess); default: in-memory log, stopped with us. */
  logFile?: string;
  /** Give up waiting for /v2/ after this long (default 30 s). */
  timeoutMs?: number;
  /**
   * YAML lines of the registry's `auth:` section, indented under it (see registry-auth.ts:
   * htpasswdAuthConfig, tokenAuthConfig).
   */
  auth?: string[];
  /** Serve HTTPS with these PEM files; `clientCas` makes the registry demand a client certificate. */
  tls?: { certificate: string; key: string; clientCas?: string[] };
  /** The host name to put in `host` (default 127.0.0.1; it must resolve to 127.0.0.1). */
  hostname?: string;
}

export class RegistryStartError extends Error {
  override name = 'RegistryStartError';
}

function registryConfig(port: number, storage: string, opts: StartRegistryOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (opts.tls) {
    lines.push(
      '  tls:',
      `    certificate: ${JSON.stringify(opts.tls.certificate)}`,
      `    key: ${JSON.stringify(opts.tls.key)}`,
    );
    if (opts.tls.clientCas?.length) {
      lines.push('    clientcas:', ...opts.tls.clientCas.map((c) => `      - ${JSON.stringify(c)}`));
    }
  }
  if (opts.auth) lines.push('auth:', ...opts.auth);
  return `${lines.join('\n')}\n`;
}

/**
 * Starts Debian's Distribution registry (`docker-registry serve`) on a free loopback port with
 * a temp storage root; no auth and plain HTTP unless `auth` / `tls` say otherwise. Resolves
 * once `GET /v2/` answers (200, or 401 when auth is on).
 */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-registry-'));
  const config = path.join(dir, 'config.yml');
  let lastError = '';
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      await writeFile(config, registryConfig(port, path.join(dir, 'data'), opts));
      const proc = new ManagedProcess('docker-registry', ['serve', config], { logFile: opts.logFile });
      const ready = await waitReady(port, proc, opts.timeoutMs ?? 30_000, !!opts.tls);
      if (ready === 'ready') {
        return {
          host: `${opts.hostname ?? '127.0.0.1'}:${port}`,
          port,
          dir,
          pid: proc.pid,
          output: () => proc.output(),
          stop: async () => {
            await proc.stop(10_000);
            await rm(dir, { recursive: true, force: true });
          },
        };
      }
      await proc.stop(5_000);
      lastError = `${ready}\n${proc.output()}`;
      if (!/address already in use/i.test(proc.output())) break; // only a port race is worth a retry
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  await rm(dir, { recursive: true, force: true });
  throw new RegistryStartError(`docker-registry did not start: ${lastError.trim()}`);
}

/** Status of `GET /v2/` (TLS unverified), or undefined when nothing answers. */
function probe(port: number, tls: boolean): Promise<number | undefined> {
  return new Promise((resolve) => {
    const opts = { host: '127.0.0.1', port, path: '/v2/', timeout: 2_000, rejectUnauthorized: false };
    const req = (tls ? httpsRequest : httpRequest)(opts, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (err: NodeJS.ErrnoException) => {
      // A registry that demands a client certificate is up even though this probe has none.
      resolve(tls && /alert|certificate|ECONNRESET/i.test(`${err.code} ${err.message}`) ? 0 : undefined);
    });
    req.end();
  });
}

async function waitReady(port: number, proc: ManagedProcess, timeoutMs: number, tls: boolean): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.status) return `docker-registry exited (${describeExit(proc.status)})`;
    const status = await probe(port, tls);
    if (status === 200 || status === 401 || status === 0) return 'ready';
    await sleep(50);
  }
  return `no answer on 127.0.0.1:${port}/v2/ after ${timeoutMs} ms`;
}
