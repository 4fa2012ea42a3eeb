import type { FastifyPluginAsync } from 'fastify';
import { NotImplementedError } from '../../plugin-api/errors.js';
import type { ApiDeps } from '../deps.js';
import type { ImageAction } from './image-actions.js';

export const imageManageRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (_app, _opts) => {};

export const historyImage: ImageAction = async () => {
  throw new NotImplementedError('historyImage is being written for the images issue');
};

export const removeImage: ImageAction = async () => {
  throw new NotImplementedError('removeImage is being written for the images issue');
};

export const tagImage: ImageAction = async () => {
  throw new NotImplementedError('tagImage is being written for the images issue');
};
