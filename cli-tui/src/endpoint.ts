// Which daemon to talk to: -H/--host, then SKIFF_HOST, then DOCKER_HOST, then the default
// socket. Accepts docker's host syntax: unix:///path, tcp://host:port, host:port.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_HOST = 'unix:///run/skiff/skiff.sock';
const DEFAULT_TCP_PORT = 2375;
const DEFAULT_TLS_PORT = 2376;

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Verify the server certificate (DOCKER_TLS_VERIFY). */
  verify: boolean;
}

export type Endpoint =
  | { kind: 'unix'; path: string; url: string }
  | { kind: 'tcp'; host: string; port: number; url: string; tls?: TlsMaterial };

export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

/** Parses one host specification. */
export function parseHost(spec: string, options: { tls?: boolean } = {}): Endpoint {
  const trimmed = spec.trim();
  if (trimmed === '') throw new EndpointError('invalid host: empty value');
  const schemeEnd = trimmed.indexOf('://');
  const scheme = schemeEnd >= 0 ? trimmed.slice(0, schemeEnd).toLowerCase() : 'tcp';
  const rest = schemeEnd >= 0 ? trimmed.slice(schemeEnd + 3) : trimmed;
  if (scheme === 'unix') {
    const path = rest === '' ? '/run/skiff/skiff.sock' : rest;
    if (!path.startsWith('/')) throw new EndpointError(`invalid host "${spec}": unix socket path must be absolute`);
    return { kind: 'unix', path, url: `unix://${path}` };
  }
  if (scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
    if (schemeEnd < 0 && trimmed.startsWith('/')) {
      throw new EndpointError(`invalid host "${spec}": use unix://${trimmed} for a socket path`);
    }
    const tls = options.tls === true || scheme === 'https';
    const authority = rest.replace(/\/+$/, '');
    if (authority.includes('/')) throw new EndpointError(`invalid host "${spec}": paths are not supported`);
    let host: string;
    let portText: string | undefined;
    const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(authority);
    if (v6) {
      host = v6[1] ?? '';
      portText = v6[2];
    } else {
      const colon = authority.lastIndexOf(':');
      host = colon >= 0 ? authority.slice(0, colon) : authority;
      portText = colon >= 0 ? authority.slice(colon + 1) : undefined;
    }
    if (host === '') host = '127.0.0.1';
    const port =
      portText === undefined || portText === '' ? (tls ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT) : Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new EndpointError(`invalid host "${spec}": invalid port "${portText}"`);
    }
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { kind: 'tcp', host, port, url: `tcp://${shownHost}:${port}` };
  }
  throw new EndpointError(`invalid host "${spec}": unsupported protocol "${scheme}"`);
}

function isTruthyEnv(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/** Reads the client TLS material docker-style: DOCKER_CERT_PATH/{ca,cert,key}.pem. */
function tlsFromEnv(env: NodeJS.ProcessEnv): TlsMaterial | undefined {
  const verify = isTruthyEnv(env.SKIFF_TLS_VERIFY ?? env.DOCKER_TLS_VERIFY);
  const certPath = env.SKIFF_CERT_PATH ?? env.DOCKER_CERT_PATH;
  if (!verify && !certPath) return undefined;
  const dir = certPath ?? join(env.HOME ?? '/root', '.docker');
  const read = (name: string): Buffer | undefined => {
    try {
      return readFileSync(join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new EndpointError(`could not read TLS file ${join(dir, name)}: ${(err as Error).message}`);
    }
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem'), verify };
}

/** Resolves the endpoint from the -H values (at most one) and the environment. */
export function resolveEndpoint(hostFlags: readonly string[], env: NodeJS.ProcessEnv): Endpoint {
  if (hostFlags.length > 1) throw new EndpointError('Specify only one -H');
  const candidates = [hostFlags[0], env.SKIFF_HOST, env.DOCKER_HOST];
  const spec = candidates.find((c): c is string => c !== undefined && c.trim() !== '') ?? DEFAULT_HOST;
  const tls = tlsFromEnv(env);
  const endpoint = parseHost(spec, { tls: tls !== undefined });
  if (endpoint.kind === 'tcp' && tls) return { ...endpoint, tls };
  return endpoint;
}
