// skiff stop, restart, kill, pause, unpause, wait, rename: one API call per container.

import { readJSONStream } from '../api/json-stream.js';
import { StatusError } from '../cli/errors.js';
import { containerPath, forEachContainer, intFlag, postNoContent } from './container-ops.js';
import { describeError } from './report.js';
import type { Command } from './types.js';

const timeoutFlags = [
  { name: 'signal', short: 's', type: 'string' as const, description: 'Signal to send to the container' },
  {
    name: 'timeout',
    short: 't',
    type: 'string' as const,
    valueName: 'int',
    description: 'Seconds to wait before killing the container',
  },
  {
    name: 'time',
    type: 'string' as const,
    valueName: 'int',
    description: 'Seconds to wait (deprecated: use --timeout)',
  },
];

function stopQuery(flags: Record<string, unknown>): Record<string, string | number | undefined> {
  const t = intFlag(flags.timeout ?? flags.time, flags.timeout !== undefined ? '-t, --timeout' : '--time');
  return { signal: flags.signal as string | undefined, t };
}

export const stopCommand: Command = {
  name: 'stop',
  usage: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Stop one or more running containers',
  interspersed: true,
  args: { min: 1 },
  flags: timeoutFlags,
  async run(ctx, { flags, args }) {
    const query = stopQuery(flags);
    return forEachContainer(ctx, args, (ref) => postNoContent(ctx, containerPath(ref, '/stop'), query));
  },
};

export const restartCommand: Command = {
  name: 'restart',
  usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Restart one or more containers',
  interspersed: true,
  args: { min: 1 },
  flags: timeoutFlags,
  async run(ctx, { flags, args }) {
    const query = stopQuery(flags);
    return forEachContainer(ctx, args, (ref) => postNoContent(ctx, containerPath(ref, '/restart'), query));
  },
};

export const killCommand: Command = {
  name: 'kill',
  usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Kill one or more running containers',
  interspersed: true,
  args: { min: 1 },
  flags: [{ name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' }],
  async run(ctx, { flags, args }) {
    const signal = flags.signal as string | undefined;
    return forEachContainer(ctx, args, (ref) => postNoContent(ctx, containerPath(ref, '/kill'), { signal }));
  },
};

export const pauseCommand: Command = {
  name: 'pause',
  usage: 'pause CONTAINER [CONTAINER...]',
  summary: 'Pause all processes within one or more containers',
  interspersed: true,
  args: { min: 1 },
  flags: [],
  async run(ctx, { args }) {
    return forEachContainer(ctx, args, (ref) => postNoContent(ctx, containerPath(ref, '/pause')));
  },
};

export const unpauseCommand: Command = {
  name: 'unpause',
  usage: 'unpause CONTAINER [CONTAINER...]',
  summary: 'Unpause all processes within one or more containers',
  interspersed: true,
  args: { min: 1 },
  flags: [],
  async run(ctx, { args }) {
    return forEachContainer(ctx, args, (ref) => postNoContent(ctx, containerPath(ref, '/unpause')));
  },
};

interface WaitResponse {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

export const waitCommand: Command = {
  name: 'wait',
  usage: 'wait CONTAINER [CONTAINER...]',
  summary: 'Block until one or more containers stop, then print their exit codes',
  interspersed: true,
  args: { min: 1 },
  flags: [],
  async run(ctx, { args }) {
    return forEachContainer(ctx, args, async (ref) => {
      const res = await ctx.client.stream('POST', containerPath(ref, '/wait'), { query: { condition: 'not-running' } });
      try {
        for await (const value of readJSONStream<WaitResponse>(res)) {
          if (value.Error?.Message) throw new Error(value.Error.Message);
          return String(value.StatusCode);
        }
      } finally {
        res.destroy();
      }
      throw new Error('unexpected EOF while waiting for the container');
    });
  },
};

export const renameCommand: Command = {
  name: 'rename',
  usage: 'rename CONTAINER NEW_NAME',
  summary: 'Rename a container',
  interspersed: true,
  args: { min: 2, max: 2 },
  flags: [],
  async run(ctx, { args }) {
    const [ref = '', name = ''] = args;
    const old = ref.trim();
    const fresh = name.trim();
    if (old === '' || fresh === '') throw new StatusError(1, 'Error: Neither old nor new names may be empty');
    try {
      await postNoContent(ctx, containerPath(old, '/rename'), { name: fresh });
    } catch (err) {
      ctx.streams.stderr.write(`${describeError(err)}\n`);
      throw new StatusError(1, `Error: failed to rename container named ${old}`);
    }
    return 0;
  },
};
