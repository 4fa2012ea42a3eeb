import type { IncomingMessage } from 'node:http';
import { type Duplex, PassThrough } from 'node:stream';
import { statusOf } from '../plugin-api/errors.js';
import { engineHeaders, splitVersion, versionProblem } from './api-version.js';
import type { ApiDeps } from './deps.js';
import { boolParam } from './query.js';
import { attachSink } from './routes/attach-sink.js';

const ATTACH = /^\/containers\/([^/?]+)\/attach(?:\?|$)/;

function plainResponse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  const head = Object.entries({
    ...engineHeaders(),
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Error'}\r\n${head}\r\n${body}`);
}

/**
 * Hijacked requests (`Connection: Upgrade`, `Upgrade: tcp`): attach. Node hands us the raw
 * socket; any request body bytes (dockerode sends JSON options) arrive in `head` first.
 */
export function handleUpgrade(deps: ApiDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const { version, url } = splitVersion(req.url ?? '/');
  const problem = versionProblem(version);
  if (problem) {
    plainResponse(socket, 400, problem);
    return;
  }
  const m = ATTACH.exec(url);
  if (req.method !== 'POST' || !m) {
    plainResponse(socket, 404, 'page not found');
    return;
  }
  const id = decodeURIComponent(m[1]!);
  const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
  let container: ReturnType<ApiDeps['containers']['get']>;
  try {
    container = deps.containers.get(id);
  } catch (err) {
    plainResponse(socket, statusOf(err), (err as Error).message);
    return;
  }
  // The request's own body (dockerode sends its options as JSON) comes first; the rest is stdin.
  const bodyLength = Number(req.headers['content-length'] ?? 0) || 0;
  const early = head.subarray(Math.min(bodyLength, head.length));
  let toSkip = Math.max(0, bodyLength - head.length);
  const wantStdin = boolParam(query.get('stdin') ?? undefined);
  socket.write(
    'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
  );
  const sink = attachSink(socket, container, query);
  socket.on('close', () => deps.containers.detach(container.Id, sink));
  const stdin = new PassThrough();
  stdin.pause();
  if (early.length > 0) stdin.write(early);
  socket.on('data', (chunk: Buffer) => {
    if (toSkip > 0) {
      const skip = Math.min(toSkip, chunk.length);
      toSkip -= skip;
      chunk = chunk.subarray(skip);
    }
    if (wantStdin && chunk.length > 0) stdin.write(chunk);
  });
  // The client's half-close ends stdin only; our side stays open until the output ends.
  socket.on('end', () => stdin.end());
  deps.containers.attach(container.Id, sink, wantStdin ? stdin : undefined);
}
