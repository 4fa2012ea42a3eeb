import type { FastifyPluginAsync } from 'fastify';
import { NotImplementedError } from '../../plugin-api/errors.js';
import type { ApiDeps } from '../deps.js';
import type { ImageAction } from './image-actions.js';

export const imagePushRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (_app, _opts) => {};

export const pushImage: ImageAction = async () => {
  throw new NotImplementedError('pushImage is being written for the images issue');
};
