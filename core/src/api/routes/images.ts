import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { decodeRegistryAuth } from '../../images/registry-auth.js';
import { parsePlatform } from '../../images/registry-manifest.js';
import { InvalidParameterError, NotFoundError } from '../../plugin-api/errors.js';
import type { ApiDeps } from '../deps.js';
import { ProgressStream } from '../progress-stream.js';
import { imageInspect } from '../views.js';
import type { ImageAction } from './image-actions.js';
import { exportImage, importFromRequest } from './images-archive.js';
import { historyImage, removeImage, tagImage } from './images-manage.js';
import { pushImage } from './images-push.js';

export const imageRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { images } = deps;

  app.post('/images/create', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    if (q.fromSrc !== undefined) return importFromRequest(deps, req, reply);
    const from = q.fromImage;
    if (!from) throw new InvalidParameterError('fromImage is required');
    const tag = q.tag ?? '';
    const ref = tag === '' ? from : /^sha256:/.test(tag) ? `${from}@${tag}` : `${from}:${tag}`;
    const platform = q.platform ? parsePlatform(q.platform) : undefined;
    const header = req.headers['x-registry-auth'];
    const auth = decodeRegistryAuth(typeof header === 'string' ? header : undefined);
    const abort = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
    });
    const stream = new ProgressStream(reply);
    let layerSeen = false;
    try {
      await images.pull(ref, {
        auth,
        ...(platform ? { platform } : {}),
        signal: abort.signal,
        onProgress: (m) => {
          // Once the manifest resolved and layers are listed, the 200 can go out.
          if (m.id && !m.status?.startsWith('Pulling from')) layerSeen = true;
          stream.push(m, layerSeen);
        },
      });
    } catch (err) {
      if (!stream.isStarted) throw err;
      const message = (err as Error).message;
      stream.push({ errorDetail: { message }, error: message }, true);
    }
    stream.end();
    return reply;
  });

  // Image names contain '/' and ':' unescaped: match greedily and split off the action.
  const dispatch = (actions: Record<string, ImageAction>) => async (req: FastifyRequest, reply: FastifyReply) => {
    const rest = (req.params as { '*': string })['*'];
    const m = /^(.+)\/([a-z]+)$/.exec(rest);
    const action = m ? actions[m[2]!] : undefined;
    if (!m || !action) throw new NotFoundError('page not found');
    return action(m[1]!, req, reply, deps);
  };
  const inspect: ImageAction = async (name) => imageInspect(images.resolve(name), images, deps.storageDriver);
  app.get('/images/*', dispatch({ json: inspect, history: historyImage, get: exportImage }));
  app.post('/images/*', dispatch({ tag: tagImage, push: pushImage }));
  app.delete('/images/*', async (req, reply) => removeImage((req.params as { '*': string })['*'], req, reply, deps));
};
