import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ProgressMessage } from '../../images/image-types.js';
import { decodeRegistryAuth } from '../../images/registry-auth.js';
import { InvalidParameterError, NotFoundError } from '../../plugin-api/errors.js';
import { engineHeaders } from '../api-version.js';
import type { ApiDeps } from '../deps.js';
import { imageInspect, imageSummary } from '../views.js';
import type { ImageAction } from './image-actions.js';
import { exportImage } from './images-archive.js';
import { historyImage, removeImage, tagImage } from './images-manage.js';
import { pushImage } from './images-push.js';

/**
 * Starts a chunked JSON stream lazily: errors that happen before the first real progress
 * message still get a proper status code, as dockerd does for an unknown manifest.
 */
class ProgressStream {
  private started = false;
  private pending: ProgressMessage[] = [];
  constructor(private readonly reply: FastifyReply) {}

  push(m: ProgressMessage, commit = false): void {
    if (!this.started && !commit) {
      this.pending.push(m);
      return;
    }
    this.begin();
    this.reply.raw.write(`${JSON.stringify(m)}\r\n`);
  }

  begin(): void {
    if (this.started) return;
    this.started = true;
    this.reply.hijack();
    this.reply.raw.writeHead(200, { ...engineHeaders(), 'Content-Type': 'application/json' });
    for (const m of this.pending.splice(0)) this.reply.raw.write(`${JSON.stringify(m)}\r\n`);
  }

  get isStarted(): boolean {
    return this.started;
  }

  end(): void {
    this.begin();
    this.reply.raw.end();
  }
}

export const imageRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { images } = deps;

  app.post('/images/create', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    if (q.fromSrc !== undefined) throw new InvalidParameterError('importing images (fromSrc) is not supported yet');
    const from = q.fromImage;
    if (!from) throw new InvalidParameterError('fromImage is required');
    const tag = q.tag ?? '';
    const ref = tag === '' ? from : /^sha256:/.test(tag) ? `${from}@${tag}` : `${from}:${tag}`;
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

  app.get('/images/json', async () => images.list().map((img) => imageSummary(img, images)));

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
