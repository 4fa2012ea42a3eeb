import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { PassThrough, Readable } from 'node:stream';
import type { ContainerPathStat } from '../../containers/container-archive.js';
import { lazy } from '../../util/lazy.js';
import type { ApiDeps } from '../deps.js';
import { boolParam } from '../query.js';

type Q = Record<string, string | string[] | undefined>;

const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

const STAT_HEADER = 'x-docker-container-path-stat';

function setStat(reply: FastifyReply, stat: ContainerPathStat): void {
  reply.header(STAT_HEADER, Buffer.from(JSON.stringify(stat)).toString('base64'));
}

/** `docker cp`: HEAD, GET and PUT /containers/{id}/archive. */
export const containerArchiveRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const load = lazy(async () => {
    const { ContainerArchive } = await import('../../containers/container-archive.js');
    return new ContainerArchive(deps.containers, deps.images, deps.volumes);
  });

  app.head('/containers/:id/archive', async (req, reply) => {
    const archive = await load();
    const stat = await archive.stat((req.params as { id: string }).id, one((req.query as Q).path));
    setStat(reply, stat);
    return reply.code(200).send();
  });

  app.get('/containers/:id/archive', async (req, reply) => {
    const archive = await load();
    await archive.archive((req.params as { id: string }).id, one((req.query as Q).path), async (stat, tar) => {
      const closed = new Promise<void>((r) => reply.raw.once('close', () => r()));
      setStat(reply, stat);
      reply.header('content-type', 'application/x-tar').send(tar);
      await closed;
    });
    return reply;
  });

  app.put('/containers/:id/archive', async (req, reply) => {
    const q = req.query as Q;
    // Tar bodies (text/plain from the CLI, application/x-tar, none) arrive as streams; anything else is empty.
    const raw = req.body && typeof (req.body as Readable).pipe === 'function' ? (req.body as Readable) : undefined;
    // Through a PassThrough: a failed extraction destroys its input, which must not be the socket's
    // request stream (the client would get a reset instead of the error).
    const body = raw ? raw.pipe(new PassThrough()) : Readable.from([]);
    try {
      const archive = await load();
      await archive.extract((req.params as { id: string }).id, one(q.path), body, {
        noOverwriteDirNonDir: boolParam(one(q.noOverwriteDirNonDir), false),
        copyUIDGID: boolParam(one(q.copyUIDGID), false),
      });
    } finally {
      if (raw && !raw.readableEnded) {
        raw.unpipe();
        raw.resume(); // discard the rest of the upload so the answer reaches the client
      }
    }
    return reply.code(200).send();
  });
};
