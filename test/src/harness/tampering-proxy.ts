import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a real Distribution registry that misbehaves on demand, for pull
 * robustness tests: it can corrupt a blob, lie about a manifest's digest, serve any manifest
 * body, or stall in the middle of a blob. It records every request it forwards.
 */

export interface SeenRequest {
  method: string;
  path: string;
  range?: string;
}

export type Tamper =
  /** Forward, but flip one byte in the middle of the body. */
  | { kind: 'corrupt' }
  /** Forward, but send this Docker-Content-Digest header. */
  | { kind: 'lie-digest'; digest: string }
  /** Answer 200 with this body and content type instead (no Content-Length: chunked). */
  | { kind: 'replace'; body: Buffer; contentType: string }
  /** Send the headers and `bytes` bytes of the body, then nothing more until the client hangs up. */
  | { kind: 'stall'; bytes: number }
  /** Forward after a pause (to make two pulls overlap). */
  | { kind: 'delay'; ms: number };

export interface TamperingProxy {
  /** `127.0.0.1:PORT`, the registry part of image references pulled through the proxy. */
  host: string;
  /** Requests seen so far, in order. */
  readonly seen: SeenRequest[];
  /** Chooses how a request is answered (undefined: forwarded untouched). Replaces the previous rule. */
  setRule(rule: ((req: SeenRequest) => Tamper | undefined) | undefined): void;
  /** Resolves when a response stalled as a `stall` rule asked (the next one after this call). */
  nextStall(): Promise<void>;
  /** GETs of `/v2/<repo>/blobs/<digest>` seen. */
  blobGets(digest: string): SeenRequest[];
  /** The most requests for these paths that were being answered at the same time. */
  peakConcurrent(which: (req: SeenRequest) => boolean): number;
  close(): Promise<void>;
}

export async function startTamperingProxy(upstream: string): Promise<TamperingProxy> {
  const seen: SeenRequest[] = [];
  let rule: ((req: SeenRequest) => Tamper | undefined) | undefined;
  let stallWaiters: Array<() => void> = [];
  const spans: Array<{ req: SeenRequest; start: number; end: number }> = [];
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const info: SeenRequest = { method: req.method ?? 'GET', path: req.url ?? '/' };
    if (typeof req.headers.range === 'string') info.range = req.headers.range;
    seen.push(info);
    const span = { req: info, start: performance.now(), end: Number.POSITIVE_INFINITY };
    spans.push(span);
    res.once('close', () => (span.end = performance.now()));
    const tamper = rule?.(info);
    void (async () => {
      if (tamper?.kind === 'delay') await new Promise((r) => setTimeout(r, tamper.ms));
      if (tamper?.kind === 'replace') {
        res.writeHead(200, { 'content-type': tamper.contentType });
        res.end(tamper.body);
        return;
      }
      const headers = { ...req.headers, host: upstream };
      const up = http.request(
        { host: '127.0.0.1', port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers },
        (ur) => {
          const outHeaders = { ...ur.headers };
          if (tamper?.kind === 'lie-digest') outHeaders['docker-content-digest'] = tamper.digest;
          if (tamper?.kind === 'corrupt' || tamper?.kind === 'stall') {
            void bufferThen(ur, (body) => {
              res.writeHead(ur.statusCode ?? 502, outHeaders);
              if (tamper.kind === 'corrupt') {
                if (body.length > 0) body[body.length >> 1] ^= 0xff;
                res.end(body);
              } else {
                res.write(body.subarray(0, Math.min(tamper.bytes, body.length)));
                res.flushHeaders();
                const waiters = stallWaiters;
                stallWaiters = [];
                for (const w of waiters) w();
              }
            });
            return;
          }
          res.writeHead(ur.statusCode ?? 502, outHeaders);
          ur.pipe(res);
        },
      );
      up.on('error', (e) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(up);
    })();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    setRule: (r) => {
      rule = r;
    },
    nextStall: () => new Promise<void>((resolve) => stallWaiters.push(resolve)),
    blobGets: (digest) => seen.filter((s) => s.method === 'GET' && s.path.endsWith(`/blobs/${digest}`)),
    peakConcurrent: (which) => {
      const mine = spans.filter((x) => which(x.req));
      return Math.max(0, ...mine.map((a) => mine.filter((b) => b.start <= a.start && a.start < b.end).length));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function bufferThen(stream: http.IncomingMessage, fn: (body: Buffer) => void): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  fn(Buffer.concat(chunks));
}
