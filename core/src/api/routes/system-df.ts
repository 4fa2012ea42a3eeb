import type { FastifyPluginAsync } from 'fastify';
import { listedSizes } from '../../containers/container-size.js';
import { listImages } from '../../images/image-filters.js';
import type { ApiDeps } from '../deps.js';
import { containerSummary, imageSummary, withSizes } from '../views.js';
import { containerUses } from './images-manage.js';
import { withMounts } from './volumes.js';

/** `GET /system/df` (`docker system df`), in dockerd 20.10's shape. */
export const systemDfRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get('/system/df', async () => {
    const listed = listImages(deps.images, { filters: new Map(), usage: { containers: containerUses(deps) } });
    const { store } = deps.images.local;
    const chains = new Set(store.list().flatMap((img) => img.layers.map((l) => l.chainId)));
    const LayersSize = [...chains].reduce((n, chain) => n + (store.layerSize(chain) ?? 0), 0);
    const Containers = await Promise.all(
      deps.containers
        .list()
        .map(async (c) =>
          withSizes(
            withMounts(containerSummary(c, deps.networking?.containers), deps),
            listedSizes(await deps.containers.sizes(c)),
          ),
        ),
    );
    return {
      LayersSize,
      Images: listed.map(imageSummary),
      Containers,
      Volumes: (await deps.volumes?.volumes.usage()) ?? [],
      // The classic builder's cache is images; BuildKit's records (none here) would go below.
      BuildCache: null,
      BuilderSize: 0,
    };
  });
};
