import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { decodeRegistryAuth, type RegistryAuth } from '../../images/registry-auth.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import type { ApiDeps } from '../deps.js';
import { ProgressStream } from '../progress-stream.js';
import type { ImageAction } from './image-actions.js';

export const imagePushRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async () => {};

const MAX_AUTH_BODY = 64 * 1024;

/**
 * The credentials of a push: `X-Registry-Auth` (undecodable means anonymous, as in dockerd),
 * or, without the header, the old form of an AuthConfig JSON body.
 */
async function pushAuth(req: FastifyRequest): Promise<RegistryAuth | undefined> {
  const header = req.headers['x-registry-auth'];
  if (typeof header === 'string') return decodeRegistryAuth(header);
  let body: unknown = req.body;
  if (body && typeof (body as NodeJS.ReadableStream).pipe === 'function') {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const c of body as AsyncIterable<Buffer>) {
      total += c.length;
      if (total > MAX_AUTH_BODY)
        throw new InvalidParameterError('Bad parameters and missing X-Registry-Auth: body too large');
      chunks.push(c);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      body = text.trim() === '' ? undefined : JSON.parse(text);
    } catch (err) {
      throw new InvalidParameterError(`Bad parameters and missing X-Registry-Auth: ${(err as Error).message}`);
    }
  }
  if (body === undefined || body === null)
    throw new InvalidParameterError('Bad parameters and missing X-Registry-Auth: EOF');
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidParameterError('Bad parameters and missing X-Registry-Auth: the body must be a JSON object');
  }
  return decodeRegistryAuth(Buffer.from(JSON.stringify(body)).toString('base64'));
}

/** `POST /images/{name}/push?tag=`: streams Docker's push progress; local lookup errors keep their status. */
export const pushImage: ImageAction = async (name, req, reply, deps) => {
  const q = req.query as Record<string, string | undefined>;
  const auth = await pushAuth(req);
  const plan = deps.pusher.plan(name, q.tag);
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
  });
  const stream = new ProgressStream(reply);
  try {
    await deps.pusher.push(plan, {
      ...(auth ? { auth } : {}),
      signal: abort.signal,
      onProgress: (m) => stream.push(m, true),
    });
  } catch (err) {
    stream.fail(err);
  }
  stream.end();
  return reply;
};
