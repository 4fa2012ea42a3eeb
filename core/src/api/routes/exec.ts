import type { FastifyPluginAsync } from 'fastify';
import { intParam } from '../query.js';
import type { ApiDeps } from '../deps.js';
import { execSink } from './exec-sink.js';

type P = { id: string };

export const execRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { execs } = deps;

  app.post<{ Params: P }>('/containers/:id/exec', async (req, reply) =>
    reply.code(201).send(execs.create(req.params.id, req.body)),
  );

  app.get<{ Params: P }>('/exec/:id/json', async (req) => execs.inspect(req.params.id));

  app.post<{ Params: P }>('/exec/:id/resize', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    await execs.resize(req.params.id, intParam(q.w, 'w') ?? 0, intParam(q.h, 'h') ?? 0);
    return reply.code(200).send();
  });

  // Without `Upgrade` (dockerode without hijack, testcontainers): 200 and a raw stream until close.
  app.post<{ Params: P }>('/exec/:id/start', async (req, reply) => {
    const body = (req.body ?? {}) as { Detach?: boolean; Tty?: boolean };
    const e = execs.get(req.params.id);
    if (body.Detach) {
      await execs.start(e.id, { detach: true }, undefined);
      return reply.code(200).send();
    }
    reply.hijack();
    const socket = req.raw.socket;
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
    await execs.start(e.id, { detach: false }, execSink(socket, e.config.Tty)).catch((err: Error) => {
      if (!socket.destroyed) socket.end(`${err.message}\r\n`);
    });
    return reply;
  });
};
