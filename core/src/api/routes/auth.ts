import type { FastifyPluginAsync } from 'fastify';
import type { RegistryAuth } from '../../images/registry-auth.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import type { ApiDeps } from '../deps.js';

const FIELDS = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'] as const;

/** An AuthConfig body; unknown fields are ignored, wrongly typed known ones are a 400. */
function authConfig(body: unknown): RegistryAuth {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidParameterError('invalid auth configuration: the body must be a JSON object');
  }
  const out: RegistryAuth = {};
  for (const key of FIELDS) {
    const v = (body as Record<string, unknown>)[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw new InvalidParameterError(`invalid auth configuration: ${key} must be a string`);
    out[key] = v;
  }
  return out;
}

/** The body as JSON whatever its Content-Type said (a non-JSON type leaves it a stream). */
async function jsonBody(body: unknown): Promise<unknown> {
  if (!body || typeof (body as NodeJS.ReadableStream).pipe !== 'function') return body;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    total += c.length;
    if (total > 64 * 1024) throw new InvalidParameterError('invalid auth configuration: body too large');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidParameterError(`invalid auth configuration: ${(err as Error).message}`);
  }
}

/** `POST /auth` (`docker login`): checks the credentials against the registry. */
export const authRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.post('/auth', async (req, reply) => {
    const auth = authConfig(await jsonBody(req.body));
    const abort = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
    });
    const { identityToken } = await deps.registry.login(auth, abort.signal);
    return { Status: 'Login Succeeded', IdentityToken: identityToken };
  });
};
