import { arch, release } from 'node:os';
import type { FastifyPluginAsync } from 'fastify';
import { API_VERSION, ENGINE_VERSION, MIN_API_VERSION } from '../api-version.js';
import type { ApiDeps } from '../deps.js';

const goArch = (a: string) => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' })[a] ?? a;

export const systemRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const ping = (method: 'GET' | 'HEAD') =>
    app.route({
      method,
      url: '/_ping',
      handler: async (_req, reply) => {
        reply
          .header('Cache-Control', 'no-cache, no-store, must-revalidate')
          .header('Pragma', 'no-cache')
          .header('Builder-Version', '1')
          .type('text/plain; charset=utf-8');
        return method === 'HEAD' ? reply.header('Content-Length', '0').send() : 'OK';
      },
    });
  ping('GET');
  ping('HEAD');

  app.get('/version', async () => {
    const details = {
      ApiVersion: API_VERSION,
      Arch: goArch(arch()),
      BuildTime: '',
      Experimental: 'false',
      GitCommit: '',
      GoVersion: process.version,
      KernelVersion: release(),
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
    };
    return {
      Platform: { Name: 'skiff' },
      Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: details }],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: process.version,
      Os: 'linux',
      Arch: goArch(arch()),
      KernelVersion: release(),
      BuildTime: '',
    };
  });

  app.get('/info', async () => deps.info());
};
