import type { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { planSave, saveArchive } from '../../images/image-archive.js';
import { importImage } from '../../images/image-import.js';
import { loadImages } from '../../images/image-load.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import type { ApiDeps } from '../deps.js';
import { ProgressStream } from '../progress-stream.js';
import { boolParam } from '../query.js';
import type { ImageAction } from './image-actions.js';

type Query = Record<string, string | string[] | undefined>;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const one = (v: string | string[] | undefined): string => list(v)[0] ?? '';

/** The request body as a byte stream (tarballs arrive as text/plain, application/x-tar or untyped). */
function bodyStream(req: FastifyRequest): Readable {
  const body = req.body as unknown;
  if (body && typeof (body as Readable).pipe === 'function') return body as Readable;
  if (body === undefined || body === null) return req.raw;
  throw new InvalidParameterError('the request body must be a tar archive, not JSON');
}

/** Aborts when the client goes away before the answer is complete. */
function disconnectSignal(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
  });
  return abort.signal;
}

async function sendArchive(deps: ApiDeps, names: string[], reply: FastifyReply) {
  const entries = await planSave(deps.images, names);
  reply.header('Content-Type', 'application/x-tar');
  return reply.send(saveArchive(deps.images.local, entries));
}

export const imageArchiveRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get('/images/get', async (req, reply) => sendArchive(deps, list((req.query as Query).names), reply));

  app.post('/images/load', async (req, reply) => {
    const quiet = boolParam((req.query as Query).quiet);
    const stream = new ProgressStream(reply);
    try {
      await loadImages(deps.images, bodyStream(req), {
        quiet,
        signal: disconnectSignal(reply),
        onProgress: (m) => stream.push(m, !m.stream),
      });
    } catch (err) {
      stream.fail(err);
    }
    stream.end();
    return reply;
  });
};

/** `GET /images/{name}/get` (`docker save NAME`). */
export const exportImage: ImageAction = async (name, _req, reply, deps) => sendArchive(deps, [name], reply);

/** `POST /images/create?fromSrc=…` (`docker import`): streams `{"status":"sha256:…"}` once imported. */
export async function importFromRequest(deps: ApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const q = req.query as Query;
  const stream = new ProgressStream(reply);
  try {
    const id = await importImage(deps.images, bodyStream(req), {
      source: one(q.fromSrc),
      repo: one(q.repo),
      tag: one(q.tag),
      changes: list(q.changes),
      message: one(q.message),
      platform: one(q.platform),
      signal: disconnectSignal(reply),
    });
    stream.push({ status: id }, true);
  } catch (err) {
    stream.fail(err);
  }
  stream.end();
  return reply;
}
