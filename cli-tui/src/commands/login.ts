// skiff login / logout: POST /auth, then credentials stored like the docker CLI stores them.

import { ApiError } from '../api/errors.js';
import { StatusError } from '../cli/errors.js';
import { type AuthConfig, convertToHostname, Credentials, HelperStore, INDEX_SERVER } from '../cli/credentials.js';
import { configFilePath } from '../cli/docker-config.js';
import { promptLine, readAll } from '../cli/prompt.js';
import { describeError } from './report.js';
import type { Command, CommandContext } from './types.js';

interface AuthResponse {
  Status?: string;
  IdentityToken?: string;
}

/** Docker Hub unless a server other than "docker.io" is named. */
export function loginServer(arg: string | undefined): { key: string; isDefault: boolean } {
  if (arg === undefined || arg === '' || arg === 'docker.io' || arg === INDEX_SERVER) {
    return { key: INDEX_SERVER, isDefault: true };
  }
  return { key: convertToHostname(arg), isDefault: false };
}

async function authenticate(ctx: CommandContext, auth: AuthConfig): Promise<AuthResponse> {
  return (
    (await ctx.client.json<AuthResponse>('POST', '/auth', {
      body: {
        username: auth.username ?? '',
        password: auth.password ?? '',
        serveraddress: auth.serveraddress,
        ...(auth.identitytoken ? { identitytoken: auth.identitytoken } : {}),
      },
    })) ?? {}
  );
}

async function store(ctx: CommandContext, creds: Credentials, auth: AuthConfig, res: AuthResponse): Promise<void> {
  const toStore: AuthConfig = res.IdentityToken
    ? { serveraddress: auth.serveraddress, username: auth.username, identitytoken: res.IdentityToken }
    : auth;
  const target = creds.storeFor(auth.serveraddress);
  try {
    await target.store(toStore);
  } catch (err) {
    throw new StatusError(1, `Error saving credentials: ${describeError(err)}`);
  }
  if (!(target instanceof HelperStore)) {
    ctx.streams.stderr.write(
      `\nWARNING! Your credentials are stored unencrypted in '${creds.file}'.\n` +
        'Configure a credential helper to remove this warning. See\n' +
        'https://docs.docker.com/go/credential-store/\n\n',
    );
  }
}

export const loginCommand: Command = {
  name: 'login',
  usage: 'login [OPTIONS] [SERVER]',
  summary: 'Authenticate to a registry',
  interspersed: true,
  args: { max: 1 },
  flags: [
    { name: 'password', short: 'p', type: 'string', description: 'Password or Personal Access Token (PAT)' },
    {
      name: 'password-stdin',
      type: 'bool',
      description: 'Take the Password or Personal Access Token (PAT) from stdin',
    },
    { name: 'username', short: 'u', type: 'string', description: 'Username' },
  ],
  async run(ctx, { flags, args }) {
    const { stdin, stdout, stderr } = ctx.streams;
    let username = flags.username as string | undefined;
    let password = flags.password as string | undefined;
    if (flags['password-stdin']) {
      if (password !== undefined) {
        throw new StatusError(1, 'conflicting options: cannot specify both --password and --password-stdin');
      }
      if (!username) throw new StatusError(1, 'the --password-stdin option requires --username to be set');
      password = (await readAll(stdin)).replace(/\n$/, '').replace(/\r$/, '');
    } else if (password !== undefined) {
      stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    }
    const { key } = loginServer(args[0]);
    const creds = await Credentials.load(configFilePath(ctx.env), ctx.env);

    if (!username && !password) {
      const stored = await creds.get(key).catch(() => undefined);
      if (stored && (stored.password || stored.identitytoken)) {
        stderr.write(
          `Authenticating with existing credentials...${stored.username ? ` [Username: ${stored.username}]` : ''}\n`,
        );
        try {
          const res = await authenticate(ctx, stored);
          await store(ctx, creds, stored, res);
          stdout.write(`${res.Status || 'Login Succeeded'}\n`);
          return 0;
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) stderr.write('Stored credentials invalid or expired\n');
          else stderr.write(`Login did not succeed, error: ${describeError(err)}\n`);
        }
      }
    }
    if (!username || password === undefined || password === '') {
      if (!stdin.isTTY) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
      if (!username) username = (await promptLine(stdin, stdout, 'Username: ', false)).trim();
      if (!username) throw new StatusError(1, 'Error: Non-null Username Required');
      password = await promptLine(stdin, stdout, 'Password: ', true);
      if (password === '') throw new StatusError(1, 'Error: Password Required');
    }
    const auth: AuthConfig = { username, password, serveraddress: key };
    const res = await authenticate(ctx, auth);
    await store(ctx, creds, auth, res);
    stdout.write(`${res.Status || 'Login Succeeded'}\n`);
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  usage: 'logout [SERVER]',
  summary: 'Log out from a registry',
  interspersed: true,
  args: { max: 1 },
  flags: [],
  async run(ctx, { args }) {
    const { key, isDefault } = loginServer(args[0]);
    const given = args[0] && !isDefault ? args[0] : key;
    // Older clients saved the registry in any of these forms; remove every one.
    const candidates = isDefault ? [key] : [...new Set([given, key, `http://${key}`, `https://${key}`])];
    ctx.streams.stdout.write(`Removing login credentials for ${key}\n`);
    const creds = await Credentials.load(configFilePath(ctx.env), ctx.env);
    const errors: string[] = [];
    for (const server of candidates) {
      try {
        await creds.storeFor(server).erase(server);
      } catch (err) {
        errors.push(`${server}: ${describeError(err)}`);
      }
    }
    if (errors.length === candidates.length) {
      ctx.streams.stderr.write(`WARNING: could not erase credentials:\n${errors.join('\n')}\n`);
    }
    return 0;
  },
};
