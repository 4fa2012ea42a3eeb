// The X-Registry-Auth / X-Registry-Config headers for an image's registry, from the stored logins.

import { Credentials, encodeAuthHeader, registryKey } from '../cli/credentials.js';
import { ConfigFileError, configFilePath } from '../cli/docker-config.js';
import type { ImageReference } from '../format/reference.js';
import type { CommandContext } from './types.js';

/** The stored logins; a broken config file is a warning here (like docker), not a failure. */
async function loadCredentials(ctx: CommandContext): Promise<Credentials> {
  const file = configFilePath(ctx.env);
  try {
    return await Credentials.load(file, ctx.env);
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    ctx.streams.stderr.write(`WARNING: ${err.message}\n`);
    return new Credentials(file, {}, ctx.env);
  }
}

/** base64url JSON credentials for `ref`'s registry ("e30=" — `{}` — when not logged in). */
export async function registryAuthHeader(ctx: CommandContext, ref: ImageReference): Promise<string> {
  const creds = await loadCredentials(ctx);
  const key = registryKey(ref.domain);
  return encodeAuthHeader(await creds.get(key));
}

/** X-Registry-Config for builds: every stored login, keyed by registry. */
export async function registryConfigHeader(ctx: CommandContext): Promise<string> {
  const creds = await loadCredentials(ctx);
  const all = await creds.all();
  const body: Record<string, Record<string, string>> = {};
  for (const [server, auth] of Object.entries(all)) {
    const entry: Record<string, string> = { serveraddress: server };
    if (auth.username) entry.username = auth.username;
    if (auth.password) entry.password = auth.password;
    if (auth.identitytoken) entry.identitytoken = auth.identitytoken;
    body[server] = entry;
  }
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}
