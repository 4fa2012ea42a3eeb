import type { IncomingMessage } from 'node:http';
import { type Duplex, PassThrough } from 'node:stream';
import { statusOf } from '../plugin-api/errors.js';
import { engineHeaders, splitVersion, versionProblem } from './api-version.js';
import type { ApiDeps } from './deps.js';
import { attachDetachKeys, detachableStdin, execDetachKeys, parseDetachKeys } from './detach-keys.js';
import { boolParam } from './query.js';
import { attachSink } from './routes/attach-sink.js';
import { execSink } from './routes/exec-sink.js';

const ATTACH = /^\/containers\/([^/?]+)\/attach(?:\?|$)/;
const EXEC_START = /^\/exec\/([^/?]+)\/start(?:\?|$)/;
const MAX_BODY = 1024 * 1024;

function headerLines(h: Record<string, string>): string {
  return Object.entries(h)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}

function plainResponse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  const head = headerLines({
    ...engineHeaders(),
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  });
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Error'}\r\n${head}\r\n${body}`);
}

function upgraded(socket: Duplex, extra: Record<string, string> = {}): void {
  socket.write(
    `HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${headerLines(extra)}\r\n`,
  );
}

/**
 * Splits a hijacked connection into the request body (Content-Length bytes, which may arrive in
 * `head` and in later chunks) and what follows it: the client's stdin, ended by its half-close.
 */
function splitBody(req: IncomingMessage, socket: Duplex, head: Buffer): { body: Promise<Buffer>; stdin: PassThrough } {
  const length = Math.min(Number(req.headers['content-length'] ?? 0) || 0, MAX_BODY);
  const stdin = new PassThrough();
  stdin.pause();
  const parts: Buffer[] = [];
  let need = length;
  let resolveBody!: (b: Buffer) => void;
  const body = new Promise<Buffer>((r) => (resolveBody = r));
  const take = (chunk: Buffer) => {
    if (need > 0) {
      const n = Math.min(need, chunk.length);
      parts.push(chunk.subarray(0, n));
      need -= n;
      chunk = chunk.subarray(n);
      if (need === 0) resolveBody(Buffer.concat(parts));
    }
    if (chunk.length > 0) stdin.write(chunk);
  };
  if (length === 0) resolveBody(Buffer.alloc(0));
  take(head);
  socket.on('data', take);
  // The client's half-close ends stdin only; our side stays open until the output ends.
  socket.on('end', () => {
    if (need > 0) resolveBody(Buffer.concat(parts));
    stdin.end();
  });
  return { body, stdin };
}

/** Ends a hijacked connection whose client detached: flush what was written, then close it (as dockerd). */
function closeDetached(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end();
}

/** dockerd's `detach` / `exec_detach` event, with the attributes of the container's other events. */
function publishDetach(deps: ApiDeps, id: string, action: string, extra: Record<string, string> = {}): void {
  try {
    const c = deps.containers.get(id);
    const Attributes = { ...c.Config.Labels, ...extra, image: c.Config.Image, name: c.Name.slice(1) };
    deps.events.publish({ Type: 'container', Action: action, Actor: { ID: c.Id, Attributes } });
  } catch {
    // Removed meanwhile: nothing to report.
  }
}

/** Hijacked requests (`Connection: Upgrade`, `Upgrade: tcp`): attach and exec start. */
export function handleUpgrade(deps: ApiDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const { version, url } = splitVersion(req.url ?? '/');
  const problem = versionProblem(version);
  if (problem) {
    plainResponse(socket, 400, problem);
    return;
  }
  const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const attach = ATTACH.exec(url);
  const exec = EXEC_START.exec(url);
  if (req.method !== 'POST' || (!attach && !exec)) {
    plainResponse(socket, 404, 'page not found');
    return;
  }
  const { body, stdin } = splitBody(req, socket, head);
  try {
    const defaultKeys = deps.config.detachKeys ? parseDetachKeys(deps.config.detachKeys) : undefined;
    if (attach) {
      const container = deps.containers.get(decodeURIComponent(attach[1]!));
      const keys = attachDetachKeys(query.get('detachKeys'), defaultKeys);
      upgraded(socket);
      const sink = attachSink(socket, container, query);
      socket.on('close', () => deps.containers.detach(container.Id, sink));
      let input: NodeJS.ReadableStream | undefined = boolParam(query.get('stdin') ?? undefined) ? stdin : undefined;
      // dockerd looks for the detach sequence only with a TTY; the container keeps running.
      if (input && container.Config.Tty) {
        input = detachableStdin(stdin, keys, (escaped) => {
          deps.containers.detach(container.Id, sink);
          if (escaped) publishDetach(deps, container.Id, 'detach');
          closeDetached(socket);
        });
      }
      deps.containers.attach(container.Id, sink, input);
      return;
    }
    const e = deps.execs.get(decodeURIComponent(exec![1]!));
    void body
      .then(async () => {
        upgraded(socket, engineHeaders());
        let input: NodeJS.ReadableStream | undefined = e.config.AttachStdin ? stdin : undefined;
        if (input && e.config.Tty) {
          input = detachableStdin(stdin, execDetachKeys(e.config.DetachKeys, defaultKeys), (escaped) => {
            if (escaped) publishDetach(deps, e.containerId, 'exec_detach', { execID: e.id });
            closeDetached(socket);
          });
        }
        await deps.execs.start(e.id, { detach: false }, execSink(socket, e.config.Tty), input);
      })
      .catch((err: Error) => {
        if (!socket.destroyed) socket.end(`${err.message}\r\n`);
      });
  } catch (err) {
    plainResponse(socket, statusOf(err), (err as Error).message);
  }
}
