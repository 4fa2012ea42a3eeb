// skiff attach and skiff start: attach to a container's stdio (hijacked), start with -a/-i.

import { StatusError } from '../cli/errors.js';
import { containerPath, postNoContent } from './container-ops.js';
import { describeError } from './report.js';
import { DEFAULT_DETACH_KEYS, DetachKeysError, parseDetachKeys, runSession } from './session.js';
import type { Command, CommandContext } from './types.js';

interface ContainerState {
  Id: string;
  Config?: { Tty?: boolean; OpenStdin?: boolean };
  State?: { Running?: boolean; Paused?: boolean; Restarting?: boolean; ExitCode?: number };
}

function detachKeysOf(flags: Record<string, unknown>): { text: string; keys: number[] } {
  const text = (flags['detach-keys'] as string | undefined) ?? DEFAULT_DETACH_KEYS;
  try {
    return { text, keys: parseDetachKeys(text) };
  } catch (err) {
    if (err instanceof DetachKeysError) throw new StatusError(1, err.message);
    throw err;
  }
}

/** Attaches, optionally starts, streams until the container's output ends; returns its exit code. */
async function attachAndWait(
  ctx: CommandContext,
  c: ContainerState,
  stdin: boolean,
  detach: { text: string; keys: number[] },
  start: boolean,
  proxySignals: boolean,
): Promise<number> {
  const tty = c.Config?.Tty === true;
  if (stdin && tty && ctx.streams.stdin.isTTY !== true) throw new StatusError(1, 'the input device is not a TTY');
  const stream = await ctx.client.hijack('POST', containerPath(c.Id, '/attach'), {
    query: {
      detachKeys: detach.text === DEFAULT_DETACH_KEYS ? undefined : detach.text,
      stderr: true,
      stdin,
      stdout: true,
      stream: true,
    },
  });
  const waitRes = await ctx.client.stream('POST', containerPath(c.Id, '/wait'), { query: { condition: 'next-exit' } });
  const code = (async () => {
    let text = '';
    for await (const chunk of waitRes) text += String(chunk);
    const parsed = JSON.parse(text.trim() || '{}') as { StatusCode?: number };
    return parsed.StatusCode ?? 0;
  })();
  code.catch(() => undefined);
  const forwarders: [NodeJS.Signals, () => void][] = [];
  try {
    if (start) await postNoContent(ctx, containerPath(c.Id, '/start'));
    if (proxySignals && !tty) {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const fwd = (): void => {
          void postNoContent(ctx, containerPath(c.Id, '/kill'), { signal }).catch(() => undefined);
        };
        ctx.hooks.on(signal, fwd);
        forwarders.push([signal, fwd]);
      }
    }
    const end = await runSession(ctx, stream, {
      tty,
      stdin,
      detachKeys: detach.keys,
      resize: async (h, w) => {
        await ctx.client.json('POST', containerPath(c.Id, '/resize'), { query: { h, w } });
      },
    });
    if (end === 'detached') return 0;
    return await code;
  } finally {
    for (const [signal, fwd] of forwarders) ctx.hooks.off(signal as 'SIGINT', fwd);
    waitRes.destroy();
  }
}

export const attachCommand: Command = {
  name: 'attach',
  usage: 'attach [OPTIONS] CONTAINER',
  summary: 'Attach local standard input, output, and error streams to a running container',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', type: 'bool', description: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', description: 'Proxy all received signals to the process (default true)' },
  ],
  async run(ctx, { flags, args }) {
    const detach = detachKeysOf(flags);
    const c = await ctx.client.json<ContainerState>('GET', containerPath(args[0] ?? '', '/json'));
    if (!c.State?.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
    if (c.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
    if (c.State.Restarting)
      throw new StatusError(1, 'You cannot attach to a restarting container, wait until it is running');
    const stdin = flags['no-stdin'] !== true && c.Config?.OpenStdin === true;
    return attachAndWait(ctx, c, stdin, detach, false, flags['sig-proxy'] !== false);
  },
};

export const startCommand: Command = {
  name: 'start',
  usage: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Start one or more stopped containers',
  interspersed: true,
  args: { min: 1 },
  flags: [
    { name: 'attach', short: 'a', type: 'bool', description: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'detach-keys', type: 'string', description: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
  ],
  async run(ctx, { flags, args }) {
    if (flags.attach === true || flags.interactive === true) {
      if (args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
      const detach = detachKeysOf(flags);
      const c = await ctx.client.json<ContainerState>('GET', containerPath(args[0] ?? '', '/json'));
      const stdin = flags.interactive === true && c.Config?.OpenStdin === true;
      return attachAndWait(ctx, c, stdin, detach, true, true);
    }
    const failed: string[] = [];
    const settled = args.map((ref) =>
      postNoContent(ctx, containerPath(ref, '/start')).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    for (const [i, p] of settled.entries()) {
      const err = await p;
      if (err === null) {
        ctx.streams.stdout.write(`${args[i]}\n`);
      } else {
        ctx.streams.stderr.write(`${describeError(err)}\n`);
        failed.push(args[i] as string);
      }
    }
    if (failed.length > 0) throw new StatusError(1, `Error: failed to start containers: ${failed.join(', ')}`);
    return 0;
  },
};
