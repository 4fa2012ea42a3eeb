import { NotFoundError, type SkiffError, UpstreamError } from '../plugin-api/errors.js';

/**
 * A registry that could not be reached or stopped talking (refused, reset, timed out,
 * truncated a body). Pulls may retry these; everything else is final.
 */
export class RegistryUnavailableError extends UpstreamError {}

/** One entry of a Distribution error body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…"}]}`. */
export interface RegistryErrorEntry {
  code: string;
  message: string;
}

/** Parses a Distribution error body; returns [] for anything else (HTML error pages, empty bodies). */
export function parseRegistryErrors(body: string): RegistryErrorEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const list = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(list)) return [];
  const out: RegistryErrorEntry[] = [];
  for (const e of list.slice(0, 10)) {
    if (!e || typeof e !== 'object') continue;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code !== 'string' || code === '') continue;
    out.push({ code: clip(code, 100), message: typeof message === 'string' ? clip(message, 500) : '' });
  }
  return out;
}

/** distribution's errcode rendering: `MANIFEST_UNKNOWN` + message → `manifest unknown: manifest unknown`. */
export function formatRegistryError(e: RegistryErrorEntry): string {
  const code = e.code.replace(/_/g, ' ').toLowerCase();
  return e.message ? `${code}: ${e.message}` : code;
}

/**
 * Turns a registry error response into dockerd's error (moby `distribution/errors.go`):
 * unknown manifest/repository and denied access are 404s with dockerd's wording.
 */
export function translateRegistryError(
  status: number,
  body: string,
  target: { familiarName: string; familiarString: string; what: 'manifest' | 'blob' },
): SkiffError {
  const errors = parseRegistryErrors(body);
  const first = errors[0];
  if (first && target.what === 'manifest') {
    switch (first.code) {
      case 'DENIED':
        return new NotFoundError(
          `pull access denied for ${target.familiarName}, repository does not exist or may require 'docker login': ${first.message || 'denied'}`,
        );
      case 'MANIFEST_UNKNOWN':
        return new NotFoundError(`manifest for ${target.familiarString} not found: ${formatRegistryError(first)}`);
      case 'NAME_UNKNOWN':
        return new NotFoundError(`repository ${target.familiarName} not found: ${formatRegistryError(first)}`);
    }
  }
  if (first) return new UpstreamError(formatRegistryError(first));
  if (target.what === 'manifest' && status === 404) {
    return new NotFoundError(`manifest for ${target.familiarString} not found: manifest unknown: manifest unknown`);
  }
  if (status === 401) return new UpstreamError('unauthorized: authentication required');
  if (status === 403) return new UpstreamError('denied: requested access to the resource is denied');
  if (status === 404) return new UpstreamError(`${target.what} unknown: ${target.what} unknown to registry`);
  if (status === 429) return new UpstreamError('toomanyrequests: too many requests');
  const text = body.trim() ? `: ${clip(body.trim().split('\n')[0]!, 200)}` : '';
  const message = `received unexpected HTTP status: ${status} ${statusText(status)}${text}`;
  return status >= 500 ? new RegistryUnavailableError(message) : new UpstreamError(message);
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: 'Bad Request',
    405: 'Method Not Allowed',
    416: 'Range Not Satisfiable',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return texts[status] ?? '';
}

/**
 * A network failure phrased like Go's net/http errors that dockerd prints, e.g.
 * `Get "http://127.0.0.1:5001/v2/": dial tcp 127.0.0.1:5001: connect: connection refused`.
 */
export function networkErrorMessage(method: string, url: string, err: unknown, timeoutMs: number): string {
  const prefix = `${method[0]!.toUpperCase()}${method.slice(1).toLowerCase()} "${redactUrl(url)}"`;
  const e = err as {
    code?: string;
    name?: string;
    message?: string;
    address?: string;
    port?: number;
    hostname?: string;
  };
  const host = new URL(url).host;
  const target = e.address ? (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`) : host;
  switch (e?.code) {
    case 'ECONNREFUSED':
      return `${prefix}: dial tcp ${target}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `${prefix}: dial tcp ${target}: connect: no route to host`;
    case 'ENETUNREACH':
      return `${prefix}: dial tcp ${target}: connect: network is unreachable`;
    case 'ENOTFOUND':
      return `${prefix}: dial tcp: lookup ${e.hostname ?? host}: no such host`;
    case 'EAI_AGAIN':
      return `${prefix}: dial tcp: lookup ${e.hostname ?? host}: temporary failure in name resolution`;
    case 'ECONNRESET':
      return `${prefix}: read tcp ${host}: connection reset by peer`;
    case 'EPIPE':
      return `${prefix}: write tcp ${host}: broken pipe`;
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return `${prefix}: EOF`;
    case 'SKIFF_CONNECT_TIMEOUT':
      return `${prefix}: dial tcp ${host}: i/o timeout (no connection after ${timeoutMs}ms)`;
    case 'SKIFF_HEADERS_TIMEOUT':
      return `${prefix}: timeout awaiting response headers (no response after ${timeoutMs}ms)`;
    case 'SKIFF_BODY_TIMEOUT':
      return `${prefix}: timeout reading the response body (stalled for ${timeoutMs}ms)`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `${prefix}: http: server gave HTTP response to HTTPS client`;
  }
  if (e?.name === 'TimeoutError') return `${prefix}: timeout: no complete response after ${timeoutMs}ms`;
  if (typeof e?.code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(e.code)) {
    return `${prefix}: tls: failed to verify certificate: ${e.message ?? e.code}`;
  }
  return `${prefix}: ${clip(e?.message ?? String(err), 300)}`;
}

/** Drops query strings (pre-signed storage URLs carry credentials there) from URLs in messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    if (u.search) u.search = '';
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
