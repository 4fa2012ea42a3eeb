import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { SkiffError } from '../plugin-api/errors.js';
import { engineHeaders, splitVersion, versionProblem } from './api-version.js';
import type { ApiDeps } from './deps.js';
import { lazySchemaCompilers } from './lazy-compilers.js';
import { escapeLinkName } from './link-name-path.js';
import { authRoutes } from './routes/auth.js';
import { buildRoutes } from './routes/build.js';
import { containerArchiveRoutes } from './routes/container-archive.js';
import { containerFileRoutes } from './routes/container-files.js';
import { containerRoutes } from './routes/containers.js';
import { eventRoutes } from './routes/events.js';
import { execRoutes } from './routes/exec.js';
import { imageArchiveRoutes } from './routes/images-archive.js';
import { imageManageRoutes } from './routes/images-manage.js';
import { imagePushRoutes } from './routes/images-push.js';
import { imageRoutes } from './routes/images.js';
import { networkRoutes } from './routes/networks.js';
import { resourceRoutes } from './routes/resources.js';
import { skiffPluginRoutes } from './routes/skiff-plugins.js';
import { systemDfRoutes } from './routes/system-df.js';
import { systemRoutes } from './routes/system.js';
import { volumeRoutes } from './routes/volumes.js';
import { handleUpgrade } from './upgrade.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiVersion?: string;
  }
}

/** The Docker Engine API on Fastify. Routes answer both `/v1.xx/…` and unversioned paths. */
export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    schemaController: { compilersFactory: lazySchemaCompilers },
    bodyLimit: 16 * 1024 * 1024,
    routerOptions: { maxParamLength: 1024 },
    exposeHeadRoutes: false,
    keepAliveTimeout: 30_000,
    rewriteUrl(req) {
      const { url } = splitVersion(req.url ?? '/');
      return escapeLinkName(req.method, url);
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    const { version } = splitVersion(req.originalUrl);
    req.apiVersion = version;
    reply.headers(engineHeaders());
    const problem = versionProblem(version);
    if (problem) return reply.code(400).send({ message: problem });
  });

  // The Go client only decodes error bodies whose Content-Type is exactly application/json.
  app.addHook('onSend', async (_req, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/json'))
      reply.header('content-type', 'application/json');
    return payload;
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      const e = new Error((err as Error).message) as FastifyError;
      e.statusCode = 400;
      done(e, undefined);
    }
  });
  // Everything else (tar bodies with text/plain or application/x-tar, no type at all) stays a stream.
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.setErrorHandler((err: FastifyError | SkiffError, _req, reply) => {
    const status = err instanceof SkiffError ? err.status : (err.statusCode ?? 500);
    if (status === 304) return reply.code(304).send();
    if (status >= 500) deps.log.error('request failed', { error: err.message });
    return reply.code(status).send({ message: err.message });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ message: 'page not found' }));

  await app.register(systemRoutes, { deps });
  await app.register(imageRoutes, { deps });
  await app.register(imageManageRoutes, { deps });
  await app.register(imageArchiveRoutes, { deps });
  await app.register(imagePushRoutes, { deps });
  await app.register(authRoutes, { deps });
  await app.register(containerRoutes, { deps });
  await app.register(containerFileRoutes, { deps });
  await app.register(containerArchiveRoutes, { deps });
  await app.register(eventRoutes, { deps });
  await app.register(execRoutes, { deps });
  await app.register(resourceRoutes, { deps });
  await app.register(networkRoutes, { deps });
  await app.register(volumeRoutes, { deps });
  await app.register(systemDfRoutes, { deps });
  await app.register(buildRoutes, { deps });
  await app.register(skiffPluginRoutes, { deps });

  app.server.on('upgrade', (req, socket, head) => handleUpgrade(deps, req, socket, head));
  return app;
}
