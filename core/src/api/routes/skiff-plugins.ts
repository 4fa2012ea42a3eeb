import type { FastifyPluginAsync } from 'fastify';
import { NotImplementedError } from '../../plugin-api/errors.js';
import type { PluginManager } from '../../plugins/plugin-manager.js';
import type { ApiDeps } from '../deps.js';
import { NATIVE_OPENAPI } from '../native-openapi.js';

interface SpecQuery {
  spec?: string;
  integrity?: string;
}
type NameParams = { name: string };

/**
 * skiff's own routes (not Docker ones): the plugins the daemon loaded and what became of them, and
 * the plugin store (install in two steps: `pull` shows what `spec` is, `install` takes the same
 * spec with the integrity the user confirmed and refuses if it changed in between).
 */
export const skiffPluginRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const manager = (): PluginManager => {
    if (!deps.pluginManager) throw new NotImplementedError('this daemon has no plugin store');
    return deps.pluginManager;
  };
  app.get('/skiff/v1/openapi.json', async () => NATIVE_OPENAPI);
  app.get('/skiff/v1/plugins', async () => ({ Plugins: deps.plugins ? await deps.plugins() : [] }));
  app.post<{ Querystring: SpecQuery }>('/skiff/v1/plugins/pull', async (req) => manager().pull(req.query.spec));
  app.post<{ Querystring: SpecQuery }>('/skiff/v1/plugins/install', async (req) =>
    manager().install(req.query.spec, req.query.integrity),
  );
  app.get<{ Params: NameParams }>('/skiff/v1/plugins/:name', async (req) => manager().inspect(req.params.name));
  app.post<{ Params: NameParams }>('/skiff/v1/plugins/:name/enable', async (req) => manager().enable(req.params.name));
  app.post<{ Params: NameParams }>('/skiff/v1/plugins/:name/disable', async (req) =>
    manager().disable(req.params.name),
  );
  app.post<{ Params: NameParams; Querystring: SpecQuery }>('/skiff/v1/plugins/:name/upgrade', async (req) =>
    manager().upgrade(req.params.name, req.query.spec, req.query.integrity),
  );
  app.delete<{ Params: NameParams }>('/skiff/v1/plugins/:name', async (req) => manager().remove(req.params.name));
};
