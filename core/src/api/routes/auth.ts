import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.js';

export const authRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (_app, _opts) => {};
