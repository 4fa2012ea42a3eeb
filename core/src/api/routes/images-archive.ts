import type { FastifyPluginAsync } from 'fastify';
import { NotImplementedError } from '../../plugin-api/errors.js';
import type { ApiDeps } from '../deps.js';
import type { ImageAction } from './image-actions.js';

export const imageArchiveRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (_app, _opts) => {};

export const exportImage: ImageAction = async () => {
  throw new NotImplementedError('exportImage is being written for the images issue');
};
