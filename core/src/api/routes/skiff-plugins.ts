import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';

/** skiff's own route (not a Docker one): the plugins the daemon was asked to load and what became of them. */
export const skiffPluginRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get('/skiff/v1/plugins', async () => ({ Plugins: deps.plugins ? await deps.plugins() : [] }));
};
