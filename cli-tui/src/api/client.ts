// HTTP client for the Docker Engine API over a unix socket or TCP (optionally TLS):
// version negotiation via HEAD /_ping, JSON calls with typed errors, long-lived streams
// and connection hijacking for attach.

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Endpoint } from '../endpoint.js';
import { ApiError, ConnectionError, ProtocolError } from './errors.js';

/** Highest API version this client speaks (what skiffd serves). */
export const CLIENT_API_VERSION = '1.41';
/** Used when the daemon's ping carries no Api-Version header (pre-negotiation daemons). */
export const FALLBACK_API_VERSION = '1.24';

export type QueryValue = string | number | boolean | undefined | null;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Serialised as JSON with Content-Type: application/json. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Send the path as given, without the /v1.xx prefix. */
  unversioned?: boolean;
}

export interface PingResult {
  status: number;
  apiVersion?: string;
  osType?: string;
  experimental: boolean;
  builderVersion?: string;
}

/** A hijacked connection: raw bytes both ways after `101 UPGRADED`. */
export interface HijackedStream {
  socket: Socket;
  /** Bytes the daemon sent right after the 101 headers (already read off the socket). */
  head: Buffer;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ENOTSOCK',
  'ECONNRESET',
  'EPIPE',
]);

/** Compares dotted API versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The version to use given what the daemon advertises (moby client's rule: no lower bound). */
export function negotiateVersion(serverVersion: string | undefined, clientMax: string): string {
  if (!serverVersion || !/^\d+\.\d+$/.test(serverVersion)) return FALLBACK_API_VERSION;
  return compareVersions(serverVersion, clientMax) < 0 ? serverVersion : clientMax;
}

export function encodeQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === false) continue;
    params.append(key, value === true ? '1' : String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

async function readBody(res: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Builds the ApiError for an error response, from `{"message": ...}` or plain text. */
export async function errorFromResponse(res: http.IncomingMessage, url: string): Promise<ApiError> {
  const status = res.statusCode ?? 0;
  const text = (await readBody(res)).toString('utf8').trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  if (message === '') {
    message = `request returned ${http.STATUS_CODES[status] ?? status} for API route and version ${url}, check if the server supports the requested API version`;
  }
  return new ApiError(status, message);
}

export interface ClientOptions {
  maxApiVersion?: string;
  userAgent?: string;
}

export class ApiClient {
  readonly endpoint: Endpoint;
  private readonly maxApiVersion: string;
  private readonly userAgent: string;
  private readonly agent: http.Agent;
  private negotiated: Promise<string> | undefined;
  private version: string | undefined;

  constructor(endpoint: Endpoint, options: ClientOptions = {}) {
    this.endpoint = endpoint;
    this.maxApiVersion = options.maxApiVersion ?? CLIENT_API_VERSION;
    this.userAgent = options.userAgent ?? 'skiff-cli';
    const agentOptions = { keepAlive: true };
    this.agent = endpoint.kind === 'tcp' && endpoint.tls ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** The negotiated API version, once known. */
  get apiVersion(): string | undefined {
    return this.version;
  }

  /** The highest version this client would use. */
  get clientVersion(): string {
    return this.maxApiVersion;
  }

  /** HEAD /_ping, falling back to GET when HEAD is not answered with 200 or 500 (like moby). */
  async ping(): Promise<PingResult> {
    let res = await this.raw('HEAD', '/_ping', {});
    res.resume();
    if (res.statusCode !== 200 && res.statusCode !== 500) {
      res = await this.raw('GET', '/_ping', {});
      res.resume();
    }
    const header = (name: string): string | undefined => {
      const v = res.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      status: res.statusCode ?? 0,
      apiVersion: header('api-version'),
      osType: header('ostype'),
      experimental: header('docker-experimental') === 'true',
      builderVersion: header('builder-version'),
    };
  }

  /** Pings once and fixes the API version used for every later request. */
  negotiate(): Promise<string> {
    this.negotiated ??= this.ping().then((p) => {
      this.version = negotiateVersion(p.apiVersion, this.maxApiVersion);
      return this.version;
    });
    return this.negotiated;
  }

  private async fullPath(path: string, options: RequestOptions): Promise<string> {
    const query = encodeQuery(options.query);
    if (options.unversioned) return path + query;
    return `/v${await this.negotiate()}${path}${query}`;
  }

  private requestOptions(method: string, path: string, headers: Record<string, string>): https.RequestOptions {
    const base: https.RequestOptions = {
      method,
      path,
      headers: { 'User-Agent': this.userAgent, ...headers },
    };
    if (this.endpoint.kind === 'unix') return { ...base, socketPath: this.endpoint.path, host: 'localhost' };
    const tls = this.endpoint.tls;
    return {
      ...base,
      host: this.endpoint.host,
      port: this.endpoint.port,
      ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify } : {}),
    };
  }

  private send(
    method: string,
    path: string,
    options: RequestOptions,
    agent: http.Agent | false,
  ): Promise<{ req: http.ClientRequest; res?: http.IncomingMessage; upgrade?: HijackedStream }> {
    const headers: Record<string, string> = { ...options.headers };
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(JSON.stringify(options.body));
      headers['Content-Type'] ??= 'application/json';
    } else if (method === 'POST' || method === 'PUT') {
      payload = Buffer.alloc(0);
    }
    if (payload) headers['Content-Length'] = String(payload.length);
    const opts = { ...this.requestOptions(method, path, headers), agent };
    const mod = this.endpoint.kind === 'tcp' && this.endpoint.tls ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(opts);
      req.once('response', (res) => resolve({ req, res }));
      req.once('upgrade', (res, socket, head) => {
        res.resume();
        resolve({ req, upgrade: { socket: socket as Socket, head } });
      });
      req.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code && CONNECTION_CODES.has(err.code) && !req.reusedSocket) {
          reject(new ConnectionError(this.endpoint.url, err.code, { cause: err }));
        } else {
          reject(err);
        }
      });
      req.end(payload);
    });
  }

  private async raw(
    method: string,
    path: string,
    options: RequestOptions & { unversioned?: boolean },
  ): Promise<http.IncomingMessage> {
    const { res } = await this.send(method, path, options, this.agent);
    if (!res) throw new ProtocolError(`unexpected protocol upgrade for ${method} ${path}`);
    return res;
  }

  /** Any request; returns the response as soon as its headers arrive, whatever the status. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<http.IncomingMessage> {
    return this.raw(method, await this.fullPath(path, options), options);
  }

  /** Like request() but throws ApiError for status >= 400. The body is left to the caller. */
  async stream(method: string, path: string, options: RequestOptions = {}): Promise<http.IncomingMessage> {
    const full = await this.fullPath(path, options);
    const res = await this.raw(method, full, options);
    if ((res.statusCode ?? 0) >= 400) throw await errorFromResponse(res, full);
    return res;
  }

  /** A JSON call: parses the body (undefined for empty bodies, e.g. 204 or 304). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.stream(method, path, options);
    const body = await readBody(res);
    if (body.length === 0) return undefined as T;
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new ProtocolError(`invalid JSON from daemon for ${method} ${path}`);
    }
  }

  /**
   * Sends the request with `Connection: Upgrade` / `Upgrade: tcp` and requires `101`; any
   * other answer is an error (an error status becomes ApiError, like the Go client).
   */
  async hijack(method: string, path: string, options: RequestOptions = {}): Promise<HijackedStream> {
    const full = await this.fullPath(path, options);
    const headers = {
      Connection: 'Upgrade',
      Upgrade: 'tcp',
      ...(options.body === undefined ? { 'Content-Type': 'text/plain' } : {}),
      ...options.headers,
    };
    const { res, upgrade } = await this.send(method, full, { ...options, headers }, false);
    if (upgrade) return upgrade;
    if (!res) throw new ProtocolError('no response to upgrade request');
    if ((res.statusCode ?? 0) >= 400) throw await errorFromResponse(res, full);
    res.resume();
    throw new ProtocolError(`unable to upgrade to tcp, received ${res.statusCode}`);
  }

  /** Releases idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}

/** The bytes of a hijacked stream, starting with what arrived together with the 101. */
export async function* hijackedChunks(stream: HijackedStream): AsyncGenerator<Buffer> {
  if (stream.head.length > 0) yield stream.head;
  for await (const chunk of stream.socket) yield chunk as Buffer;
}
