// Requests whose body is a stream (image load/import, build contexts), over the same endpoint and
// negotiated API version as an ApiClient.

import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ApiClient, encodeQuery, errorFromResponse, type QueryValue } from './client.js';
import { ConnectionError } from './errors.js';

export interface UploadOptions {
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /** Sent chunked; undefined sends an empty body. */
  body?: Readable;
}

/** Sends `body` and returns the response once its headers arrive; ApiError for status >= 400. */
export async function uploadStream(
  client: ApiClient,
  method: string,
  path: string,
  options: UploadOptions = {},
): Promise<http.IncomingMessage> {
  const version = await client.negotiate();
  const query = encodeQuery(options.query);
  // `path` may carry repeated parameters already (changes=…&changes=…).
  const full = `/v${version}${path}${path.includes('?') && query ? `&${query.slice(1)}` : query}`;
  const endpoint = client.endpoint;
  const headers: Record<string, string> = { 'User-Agent': 'skiff-cli', ...options.headers };
  if (!options.body) headers['Content-Length'] = '0';
  const base: https.RequestOptions = { method, path: full, headers, agent: false };
  const tls = endpoint.kind === 'tcp' ? endpoint.tls : undefined;
  const opts: https.RequestOptions =
    endpoint.kind === 'unix'
      ? { ...base, socketPath: endpoint.path, host: 'localhost' }
      : {
          ...base,
          host: endpoint.host,
          port: endpoint.port,
          ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify } : {}),
        };
  const mod = tls ? https : http;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = mod.request(opts);
    req.once('response', resolve);
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES') {
        reject(new ConnectionError(endpoint.url, err.code, { cause: err }));
      } else reject(err);
    });
    if (!options.body) {
      req.end();
      return;
    }
    // The daemon may answer (e.g. with an error) before reading the whole body: keep the answer.
    pipeline(options.body, req).catch((err: Error) => {
      if (!req.destroyed) req.destroy(err);
      reject(err);
    });
  });
  if ((res.statusCode ?? 0) >= 400) throw await errorFromResponse(res, full);
  return res;
}
