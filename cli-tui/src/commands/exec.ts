// skiff exec: create an exec instance, start it (hijacked unless -d), exit with its exit code.

import { compareVersions } from '../api/client.js';
import { StatusError } from '../cli/errors.js';
import { containerPath } from './container-ops.js';
import { EnvFileError, readEnvFiles } from './env-file.js';
import { resolveEnv, RunOptionsError } from './run-options.js';
import { DEFAULT_DETACH_KEYS, DetachKeysError, parseDetachKeys, runSession } from './session.js';
import type { Command } from './types.js';

interface ExecInspect {
  ExitCode?: number | null;
  Running?: boolean;
}

export const execCommand: Command = {
  name: 'exec',
  usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  summary: 'Execute a command in a running container',
  interspersed: false,
  args: { min: 2 },
  flags: [
    { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
    { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: 'bool', description: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  ],
  async run(ctx, { flags, args }) {
    const [container = '', ...cmd] = args;
    const { stdin, stdout } = ctx.streams;
    const detach = flags.detach === true;
    const tty = flags.tty === true;
    const interactive = flags.interactive === true;
    let env: string[];
    let detachKeys: number[];
    const keysText = (flags['detach-keys'] as string | undefined) ?? DEFAULT_DETACH_KEYS;
    try {
      env = [
        ...readEnvFiles((flags['env-file'] as string[] | undefined) ?? [], ctx.env),
        ...resolveEnv((flags.env as string[] | undefined) ?? [], ctx.env),
      ];
      detachKeys = parseDetachKeys(keysText);
    } catch (err) {
      if (err instanceof RunOptionsError || err instanceof DetachKeysError || err instanceof EnvFileError) {
        throw new StatusError(1, err.message);
      }
      throw err;
    }
    if (tty && interactive && !detach && stdin.isTTY !== true) {
      throw new StatusError(1, 'the input device is not a TTY');
    }
    // ConsoleSize exists from API 1.42 on; older daemons get the size by a resize call.
    const modern = compareVersions(await ctx.client.negotiate(), '1.42') >= 0;
    const consoleSize = modern && tty && stdout.rows && stdout.columns ? [stdout.rows, stdout.columns] : undefined;
    const created = await ctx.client.json<{ Id: string }>('POST', containerPath(container, '/exec'), {
      body: {
        User: (flags.user as string | undefined) ?? '',
        Privileged: flags.privileged === true,
        Tty: tty,
        ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
        AttachStdin: interactive && !detach,
        AttachStderr: !detach,
        AttachStdout: !detach,
        Detach: detach,
        DetachKeys: flags['detach-keys'] ?? '',
        Env: env.length > 0 ? env : null,
        WorkingDir: (flags.workdir as string | undefined) ?? '',
        Cmd: cmd,
      },
    });
    const execId = created.Id;
    if (detach) {
      await ctx.client.json('POST', `/exec/${execId}/start`, { body: { Detach: true, Tty: tty } });
      return 0;
    }
    const stream = await ctx.client.hijack('POST', `/exec/${execId}/start`, {
      body: { Detach: false, Tty: tty, ...(consoleSize ? { ConsoleSize: consoleSize } : {}) },
    });
    const end = await runSession(ctx, stream, {
      tty,
      stdin: interactive,
      detachKeys,
      resize: async (h, w) => {
        await ctx.client.json('POST', `/exec/${execId}/resize`, { query: { h, w } });
      },
    });
    if (end === 'detached') return 0;
    // The daemon records the exit code a moment after the stream closes.
    for (let i = 0; i < 50; i++) {
      const info = await ctx.client.json<ExecInspect>('GET', `/exec/${execId}/json`);
      if (!info.Running && typeof info.ExitCode === 'number') return info.ExitCode;
      await new Promise((r) => setTimeout(r, 20 * (i + 1)));
    }
    return 0;
  },
};
