import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { lazy } from '../../util/lazy.js';
import type { ApiDeps } from '../deps.js';
import { boolParam } from '../query.js';

type Q = Record<string, string | string[] | undefined>;

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const one = (v: string | string[] | undefined): string => list(v)[0] ?? '';

/** A JSON body (a config object or null); tar-ish or absent bodies arrive as streams and mean none. */
function jsonBody(body: unknown): unknown {
  if (body && typeof (body as Readable).pipe === 'function') {
    (body as Readable).resume();
    return undefined;
  }
  return body;
}

/** `docker diff`, `docker export`, `docker commit`. */
export const containerFileRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const load = lazy(async () => {
    const { ContainerFiles } = await import('../../containers/container-files.js');
    return new ContainerFiles(deps.containers, deps.images);
  });

  app.get('/containers/:id/changes', async (req) => (await load()).changes((req.params as { id: string }).id));

  app.get('/containers/:id/export', async (req, reply) => {
    await (
      await load()
    ).export((req.params as { id: string }).id, async (tar) => {
      const closed = new Promise<void>((r) => reply.raw.once('close', () => r()));
      reply.header('content-type', 'application/x-tar').send(tar);
      await closed;
    });
    return reply;
  });

  app.post('/commit', async (req, reply) => {
    const q = req.query as Q;
    const id = await (
      await load()
    ).commit({
      container: one(q.container),
      repo: one(q.repo),
      tag: one(q.tag),
      comment: one(q.comment),
      author: one(q.author),
      // API ≥ 1.13: an absent `pause` means pause.
      pause: boolParam(q.pause === undefined || q.pause === '' ? undefined : one(q.pause), true),
      changes: list(q.changes)
        .flatMap((c) => c.split('\n'))
        .filter((c) => c.trim() !== ''),
      config: jsonBody(req.body),
    });
    return reply.code(201).send({ Id: id });
  });
};
