import type * as Http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';

// Not `import http from 'node:http'`: an ES import reads every export of node:http, and its lazy
// WebSocket/CloseEvent/MessageEvent getters load node's bundled undici (~4 MiB resident); require
// reads none of them.
const http = createRequire(import.meta.url)('node:http') as typeof Http;

/**
 * The registry client's HTTP/1.1 transport, on node:http and node:https (whose parser is native
 * llhttp): undici's wasm parser costs the daemon ~30 MiB of resident memory once it has been
 * used, which is most of a pull's footprint.
 */

/** A response body; `dump` reads and drops up to `limit` bytes, then closes it. */
export type HttpBody = Readable & { dump(opts?: { limit?: number }): Promise<void> };

export interface HttpResponse {
  statusCode: number;
  headers: Http.IncomingHttpHeaders;
  body: HttpBody;
}

export interface HttpRequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer | Readable;
  signal?: AbortSignal;
  /** An http.Agent for `http:` URLs, an https.Agent (with its TLS settings) for `https:`. */
  agent: Http.Agent;
  /**
   * Inactivity limit: connecting, waiting for the response headers, and any pause while the body
   * is read. The error's `code` says which (SKIFF_CONNECT_TIMEOUT, _HEADERS_, _BODY_).
   */
  timeoutMs: number;
}

export type TransportTimeoutCode = 'SKIFF_CONNECT_TIMEOUT' | 'SKIFF_HEADERS_TIMEOUT' | 'SKIFF_BODY_TIMEOUT';

function timeoutError(code: TransportTimeoutCode, ms: number): Error {
  return Object.assign(new Error(`${code.slice(6).toLowerCase().replace('_', ' ')} after ${ms}ms`), { code });
}

async function dump(body: Readable, limit: number): Promise<void> {
  let read = 0;
  try {
    for await (const chunk of body) {
      read += (chunk as Buffer).length;
      if (read > limit) break;
    }
  } finally {
    body.destroy();
  }
}

/** Sends one request; resolves with the response once its headers arrived. */
export function httpRequest(url: URL, opts: HttpRequestOptions): Promise<HttpResponse> {
  const { signal, timeoutMs } = opts;
  signal?.throwIfAborted();
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: opts.method, headers: opts.headers, agent: opts.agent });
    // Not http.request's own `signal`: that fails with a generic AbortError, this with the reason.
    let response: Readable | undefined;
    const onAbort = () => {
      req.destroy(signal?.reason as Error);
      response?.destroy(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('close', () => {
      if (!response) signal?.removeEventListener('abort', onAbort);
    });
    let connected = false;
    req.once('socket', (socket: Socket) => {
      if (req.reusedSocket) connected = true;
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (connected = true));
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy(timeoutError(connected ? 'SKIFF_HEADERS_TIMEOUT' : 'SKIFF_CONNECT_TIMEOUT', timeoutMs));
    });
    req.once('error', reject);
    req.once('response', (res) => {
      // From here on the request's own timeout no longer applies: the body gets its own.
      req.setTimeout(0);
      const socket = res.socket;
      const onIdle = () => res.destroy(timeoutError('SKIFF_BODY_TIMEOUT', timeoutMs));
      socket.setTimeout(timeoutMs, onIdle);
      response = res;
      res.once('close', () => {
        signal?.removeEventListener('abort', onAbort);
        socket.off('timeout', onIdle);
        socket.setTimeout(0);
      });
      const body = Object.assign(res as Readable, {
        dump: (o: { limit?: number } = {}) => dump(res, o.limit ?? 128 * 1024),
      });
      resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body });
    });
    const { body } = opts;
    if (body instanceof Readable) {
      body.once('error', (e) => req.destroy(e));
      body.pipe(req);
    } else {
      req.end(body);
    }
  });
}

/** Keep-alive agents: one plain, and HTTPS ones made by the caller with their TLS settings. */
export function plainAgent(): Http.Agent {
  return new http.Agent({ keepAlive: true, scheduling: 'lifo' });
}

export function tlsAgent(tls: https.AgentOptions): https.Agent {
  return new https.Agent({ keepAlive: true, scheduling: 'lifo', ...tls });
}
