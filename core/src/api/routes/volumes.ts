import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { boolParam, parseFilters } from '../query.js';
import { parseCreateVolume } from '../../volumes/volume-service.js';

type Q = Record<string, string | undefined>;
type P = { name: string };

/** The Docker volume API: create, list, inspect, remove, prune. */
export const volumeRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const volumes = deps.volumes?.volumes;
  if (!volumes) return;

  app.post('/volumes/create', async (req, reply) => {
    const v = await volumes.create(parseCreateVolume(req.body));
    return reply.code(201).send(await volumes.view(v));
  });

  app.get('/volumes', async (req) => {
    const list = volumes.list(parseFilters((req.query as Q).filters));
    return { Volumes: await Promise.all(list.map((v) => volumes.view(v))), Warnings: null };
  });

  app.get<{ Params: P }>('/volumes/:name', async (req) => volumes.view(volumes.get(req.params.name)));

  app.delete<{ Params: P }>('/volumes/:name', async (req, reply) => {
    await volumes.remove(req.params.name, boolParam((req.query as Q).force));
    return reply.code(204).send();
  });

  app.post('/volumes/prune', async (req) => {
    const { deleted, reclaimed } = await volumes.prune(parseFilters((req.query as Q).filters));
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  });
};

/** Fills a container view's `Mounts` from its stored mount points. */
export function withMounts<T extends { Id: string }>(view: T, deps: ApiDeps): T & { Mounts: unknown[] } {
  return { ...view, Mounts: deps.volumes?.mountsView(view.Id) ?? [] };
}
