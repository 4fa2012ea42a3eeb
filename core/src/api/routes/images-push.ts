import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';

export const imagePushRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (_app, _opts) => {};
