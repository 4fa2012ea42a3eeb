import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';
import type { Agent } from 'node:http';
import type { AgentOptions } from 'node:https';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { plainAgent, tlsAgent } from './http-transport.js';

export const DEFAULT_CERTS_DIR = '/etc/skiff/certs.d';

/** TLS material for one registry from `<certs-dir>/<host[:port]>/`, as docker's certs.d. */
export interface HostTlsFiles {
  /** Extra CA certificates (`*.crt`), trusted on top of the system's. */
  ca: string[];
  /** A client certificate (`*.cert`) and its key (`*.key`, same base name). */
  cert?: string;
  key?: string;
}

/**
 * Reads `dir` like dockerd's `ReadCertsDirectory`: every `*.crt` is a CA, every `*.cert` needs
 * a `*.key` of the same base name and vice versa. The first client pair (by name) is used.
 * A missing directory means no extra TLS settings (undefined).
 */
export async function readHostTlsFiles(dir: string): Promise<HostTlsFiles | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return undefined;
    }
    throw err;
  }
  const out: HostTlsFiles = { ca: [] };
  const set = new Set(names);
  for (const name of names) {
    if (name.endsWith('.crt')) {
      out.ca.push(await readFile(join(dir, name), 'utf8'));
    } else if (name.endsWith('.cert')) {
      const keyName = `${name.slice(0, -'.cert'.length)}.key`;
      if (!set.has(keyName)) {
        throw new InvalidParameterError(`missing key ${keyName} for client certificate ${name} in ${dir}`);
      }
      if (out.cert === undefined) {
        out.cert = await readFile(join(dir, name), 'utf8');
        out.key = await readFile(join(dir, keyName), 'utf8');
      }
    } else if (name.endsWith('.key')) {
      const certName = `${name.slice(0, -'.key'.length)}.cert`;
      if (!set.has(certName)) {
        throw new InvalidParameterError(`missing client certificate ${certName} for key ${name} in ${dir}`);
      }
    }
  }
  return out;
}

/** What a host directory looks like now: names, sizes and mtimes, so edits are picked up without a restart. */
async function fingerprint(dir: string): Promise<string> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.(crt|cert|key)$/.test(n)).sort();
  } catch {
    return '';
  }
  const parts: string[] = [];
  for (const n of names) {
    const s = await stat(join(dir, n)).catch(() => undefined);
    parts.push(`${n}:${s?.size ?? -1}:${s?.mtimeMs ?? -1}`);
  }
  return parts.join('|');
}

let systemCas: string[] | undefined;
/** Node's bundled roots plus the operating system's store (/etc/ssl/certs on Debian). */
export function systemCaCertificates(): string[] {
  systemCas ??= [...new Set([...getCACertificates('default'), ...getCACertificates('system')])];
  return systemCas;
}

export interface RegistryAgentsOptions {
  certsDir?: string;
}

/**
 * Keep-alive agents per registry host: verified TLS with the system CAs plus the host's certs.d
 * CAs and client certificate; for insecure registries, TLS without verification (the client
 * certificate is still presented); one plain agent for `http:`.
 */
export class RegistryAgents {
  private readonly plain = plainAgent();
  private shared?: { verified: Agent; insecure: Agent };
  private readonly perHost = new Map<string, { fp: string; agent: Agent }>();

  constructor(private readonly options: RegistryAgentsOptions) {}

  /** The agents without per-host material, made on first use. */
  private defaults(insecure: boolean): Agent {
    this.shared ??= {
      verified: tlsAgent({ ca: systemCaCertificates() }),
      insecure: tlsAgent({ rejectUnauthorized: false }),
    };
    return insecure ? this.shared.insecure : this.shared.verified;
  }

  /** The agent for `url`. Throws InvalidParameterError on a broken certs.d entry. */
  async agentFor(url: URL, insecure: boolean): Promise<Agent> {
    if (url.protocol === 'http:') return this.plain;
    const { host } = url;
    const { certsDir } = this.options;
    const safe = certsDir && host !== '' && !host.includes('/') && host !== '.' && host !== '..';
    if (!safe) return this.defaults(insecure);
    const dir = join(certsDir, host);
    const fp = await fingerprint(dir);
    if (fp === '') return this.defaults(insecure);
    const key = `${insecure ? 'i' : 's'}:${host}`;
    const cached = this.perHost.get(key);
    if (cached?.fp === fp) return cached.agent;
    const files = await readHostTlsFiles(dir);
    const tls: AgentOptions = insecure
      ? { rejectUnauthorized: false }
      : { ca: [...systemCaCertificates(), ...(files?.ca ?? [])] };
    if (files?.cert !== undefined) Object.assign(tls, { cert: files.cert, key: files.key });
    const agent = tlsAgent(tls);
    this.perHost.set(key, { fp, agent });
    cached?.agent.destroy();
    return agent;
  }

  close(): void {
    for (const a of [
      this.plain,
      ...Object.values(this.shared ?? {}),
      ...[...this.perHost.values()].map((e) => e.agent),
    ])
      a.destroy();
    this.perHost.clear();
  }
}
