import http from 'node:http';

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The whole body as text (streams are read to their end). */
  body: string;
  /** The body parsed as JSON when it is JSON, else undefined. */
  json: unknown;
}

export interface ApiOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** The socket path of a `unix://` host (a bare path is accepted too). */
export function socketPathOf(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new Error(`not a unix socket host: ${host}`);
}

/**
 * One raw HTTP request over the daemon's unix socket. `body` given as a string or Buffer is sent
 * verbatim (for malformed-input tests); any other value is sent as JSON. A JSON content type is
 * set whenever there is a body, unless `headers` says otherwise.
 */
export function api(
  host: string,
  method: string,
  urlPath: string,
  body?: unknown,
  opts: ApiOptions = {},
): Promise<ApiResponse> {
  const payload =
    body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const headers: Record<string, string> = { ...opts.headers };
  if (payload !== undefined) {
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  } else if (!['GET', 'HEAD', 'DELETE'].includes(method.toUpperCase())) {
    headers['Content-Length'] = '0'; // as the docker CLI sends empty POSTs; Node would go chunked
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: socketPathOf(host), method, path: urlPath, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
      },
    );
    req.setTimeout(opts.timeoutMs ?? 120_000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in time`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Splits a JSON-lines progress stream (pull, push, build) into objects; non-JSON lines are skipped. */
export function jsonLines(body: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of body.split(/\r?\n/)) {
    const t = line.trim();
    if (!t) continue;
    try {
      out.push(JSON.parse(t) as Record<string, unknown>);
    } catch {
      // a partial or non-JSON line
    }
  }
  return out;
}
