import type { FastifyPluginAsync } from 'fastify';
import { listImages } from '../../images/image-filters.js';
import { pruneImages, removeImage as removeNamedImage } from '../../images/image-remove.js';
import { type ContainerUse, tagImage as tagNamedImage } from '../../images/image-tags.js';
import type { ApiDeps } from '../deps.js';
import { boolParam, parseFilters } from '../query.js';
import { imageHistory, imageSummary } from '../views.js';
import type { ImageAction } from './image-actions.js';

type Query = Record<string, string | string[] | undefined>;

const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));

/** Which images containers were created from (and whether they run), for remove and prune. */
export function containerUses(deps: ApiDeps): ContainerUse[] {
  return deps.containers.list().map((c) => ({ id: c.Id, imageId: c.Image, running: c.State.Running }));
}

export const imageManageRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get('/images/json', async (req) => {
    const q = req.query as Query;
    const listed = listImages(deps.images, {
      filters: parseFilters(q.filters),
      sharedSize: boolParam(q['shared-size']),
      all: boolParam(q.all),
    });
    return listed.map(imageSummary);
  });

  app.post('/images/prune', async (req) => {
    const q = req.query as Query;
    return pruneImages(deps.images, parseFilters(q.filters), containerUses(deps));
  });
};

export const historyImage: ImageAction = async (name, _req, _reply, deps) =>
  imageHistory(deps.images.resolve(name), deps.images);

export const removeImage: ImageAction = async (name, req, _reply, deps) => {
  const q = req.query as Query;
  return removeNamedImage(deps.images, name, containerUses(deps), {
    force: boolParam(q.force),
    noprune: boolParam(q.noprune),
  });
};

export const tagImage: ImageAction = async (name, req, reply, deps) => {
  const q = req.query as Query;
  tagNamedImage(deps.images, name, one(q.repo), one(q.tag));
  return reply.code(201).send();
};
