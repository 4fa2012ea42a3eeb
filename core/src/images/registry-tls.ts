import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';
import type { Agent } from 'undici';
import { loadUndici } from './undici-lazy.js';
import { InvalidParameterError } from '../plugin-api/errors.js';

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
  timeoutMs: number;
}

/**
 * undici dispatchers per registry host: verified TLS with the system CAs plus the host's
 * certs.d CAs and client certificate; for insecure registries, TLS without verification (the
 * client certificate is still presented).
 */
export class RegistryAgents {
  private readonly common: Agent.Options;
  private shared?: Promise<{ plain: Agent; plainInsecure: Agent }>;
  private readonly perHost = new Map<string, { fp: string; agent: Agent }>();

  constructor(private readonly options: RegistryAgentsOptions) {
    this.common = { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs };
  }

  private async agent(connect: Record<string, unknown>): Promise<Agent> {
    const { Agent } = await loadUndici();
    return new Agent({ ...this.common, connect: { timeout: this.options.timeoutMs, ...connect } });
  }

  async warmUp(): Promise<void> {
    await this.defaults(false);
  }

  /** The agents without per-host material, made on first use. */
  private async defaults(insecure: boolean): Promise<Agent> {
    this.shared ??= (async () => ({
      plain: await this.agent({ ca: systemCaCertificates() }),
      plainInsecure: await this.agent({ rejectUnauthorized: false }),
    }))();
    const { plain, plainInsecure } = await this.shared;
    return insecure ? plainInsecure : plain;
  }

  /** The dispatcher for `host` (`host[:port]`). Throws InvalidParameterError on a broken certs.d entry. */
  async dispatcher(host: string, insecure: boolean): Promise<Agent> {
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
    const connect: Record<string, unknown> = insecure
      ? { rejectUnauthorized: false }
      : { ca: [...systemCaCertificates(), ...(files?.ca ?? [])] };
    if (files?.cert !== undefined) Object.assign(connect, { cert: files.cert, key: files.key });
    const agent = await this.agent(connect);
    this.perHost.set(key, { fp, agent });
    if (cached) void cached.agent.close().catch(() => {});
    return agent;
  }

  async close(): Promise<void> {
    const shared = this.shared ? Object.values(await this.shared) : [];
    const agents = [...shared, ...[...this.perHost.values()].map((e) => e.agent)];
    this.perHost.clear();
    await Promise.all(agents.map((a) => a.close()));
  }
}
