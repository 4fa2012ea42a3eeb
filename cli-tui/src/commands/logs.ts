// skiff logs: the container's log stream, demultiplexed onto stdout/stderr unless it has a TTY.

import { StatusError } from '../cli/errors.js';
import { copyRawStream, demuxStream } from '../api/stdcopy.js';
import { containerPath } from './container-ops.js';
import { getTimestamp, TimeArgError } from './time-arg.js';
import type { Command } from './types.js';

export const logsCommand: Command = {
  name: 'logs',
  usage: 'logs [OPTIONS] CONTAINER',
  summary: 'Fetch the logs of a container',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [
    { name: 'details', type: 'bool', description: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
    {
      name: 'since',
      type: 'string',
      description: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
    {
      name: 'tail',
      short: 'n',
      type: 'string',
      description: 'Number of lines to show from the end of the logs (default "all")',
    },
    { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
    {
      name: 'until',
      type: 'string',
      description: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
  ],
  async run(ctx, { flags, args }) {
    const ref = args[0] ?? '';
    const now = ctx.now();
    const time = (name: 'since' | 'until'): string | undefined => {
      const value = flags[name] as string | undefined;
      if (value === undefined || value === '') return undefined;
      try {
        return getTimestamp(value, now);
      } catch (err) {
        if (err instanceof TimeArgError) throw new StatusError(1, `invalid value for "${name}": ${err.message}`);
        throw err;
      }
    };
    const since = time('since');
    const until = time('until');
    const info = await ctx.client.json<{ Config?: { Tty?: boolean } }>('GET', containerPath(ref, '/json'));
    const res = await ctx.client.stream('GET', containerPath(ref, '/logs'), {
      query: {
        details: flags.details === true,
        follow: flags.follow === true,
        since,
        stderr: true,
        stdout: true,
        tail: (flags.tail as string | undefined) ?? 'all',
        timestamps: flags.timestamps === true,
        until,
      },
    });
    const stop = (): void => {
      res.destroy();
    };
    ctx.hooks.on('SIGINT', stop);
    try {
      if (info.Config?.Tty) await copyRawStream(res, ctx.streams.stdout);
      else await demuxStream(res, ctx.streams.stdout, ctx.streams.stderr);
    } catch (err) {
      if (!res.destroyed) throw err;
    } finally {
      ctx.hooks.off('SIGINT', stop);
    }
    return 0;
  },
};
