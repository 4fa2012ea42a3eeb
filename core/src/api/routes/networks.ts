import type { FastifyPluginAsync } from 'fastify';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { networkView } from '../../networks/network-view.js';
import type { ApiDeps } from '../deps.js';
import { parseFilters } from '../query.js';

type Q = Record<string, string | undefined>;
type P = { id: string };

/** The Docker network API: create, list, inspect, remove, prune, connect, disconnect. */
export const networkRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const networking = deps.networking;
  if (!networking) return;
  const { networks, containers } = networking;

  app.post('/networks/create', async (req, reply) => {
    const type = req.headers['content-type'];
    if (!type || !type.startsWith('application/json'))
      throw new InvalidParameterError(`Content-Type specified (${type ?? ''}) must be 'application/json'`);
    return reply.code(201).send(await networks.create(req.body));
  });

  app.get('/networks', async (req) => {
    const filters = parseFilters((req.query as Q).filters);
    return networks.filter(filters).map((n) => networkView(n));
  });

  app.get<{ Params: P }>('/networks/:id', async (req) => networkView(networks.resolve(req.params.id), containers));

  app.delete<{ Params: P }>('/networks/:id', async (req, reply) => {
    await networks.remove(req.params.id);
    return reply.code(204).send();
  });

  app.post('/networks/prune', async (req) => {
    const deleted = await networks.prune(parseFilters((req.query as Q).filters));
    return { NetworksDeleted: deleted };
  });

  app.post<{ Params: P }>('/networks/:id/connect', async (req, reply) => {
    await containers.connect(req.params.id, req.body);
    return reply.code(200).send();
  });

  app.post<{ Params: P }>('/networks/:id/disconnect', async (req, reply) => {
    await containers.disconnect(req.params.id, req.body);
    return reply.code(200).send();
  });
};
