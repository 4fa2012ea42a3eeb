import type { FastifyPluginAsync } from 'fastify';
import { engineHeaders } from '../api-version.js';
import type { ApiDeps } from '../deps.js';
import { boolParam } from '../query.js';

type Q = Record<string, string | undefined>;
type P = { id: string };

/** `docker update`, `docker stats`, `docker top`, `docker pause` / `unpause`. */
export const resourceRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { containers } = deps;

  app.post<{ Params: P }>('/containers/:id/update', async (req) => containers.update(req.params.id, req.body ?? {}));

  app.post<{ Params: P }>('/containers/:id/pause', async (req, reply) => {
    await containers.pause(req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/unpause', async (req, reply) => {
    await containers.unpause(req.params.id);
    return reply.code(204).send();
  });

  app.get<{ Params: P }>('/containers/:id/top', async (req) =>
    containers.top(req.params.id, (req.query as Q).ps_args ?? ''),
  );

  app.get<{ Params: P }>('/containers/:id/stats', async (req, reply) => {
    const q = req.query as Q;
    const stream = boolParam(q.stream, true);
    const abort = new AbortController();
    const frames = containers.stats(req.params.id, {
      stream,
      oneShot: !stream && boolParam(q['one-shot']),
      signal: abort.signal,
    });
    if (!stream) {
      // The response's close (not the request's, which comes once the request is read): the client left.
      reply.raw.on('close', () => abort.abort());
      const first = await frames.next();
      await frames.return(undefined);
      return reply.type('application/json').send(first.value ?? {});
    }
    reply.hijack();
    const res = reply.raw;
    res.on('close', () => abort.abort(new Error('client went away')));
    res.writeHead(200, { ...engineHeaders(), 'Content-Type': 'application/json' });
    res.flushHeaders();
    try {
      for await (const f of frames) {
        if (!res.write(`${JSON.stringify(f)}\n`)) await new Promise((r) => res.once('drain', r));
      }
    } catch (err) {
      if (!abort.signal.aborted) deps.log.warn('stats stream failed', { id: req.params.id, error: err as Error });
    }
    res.end();
    return reply;
  });
};
