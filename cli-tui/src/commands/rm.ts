// skiff rm: removes containers in parallel, reports per id in argument order.

import { ApiError } from '../api/errors.js';
import { StatusError } from '../cli/errors.js';
import { describeError } from './report.js';
import type { Command } from './types.js';

export const rmCommand: Command = {
  name: 'rm',
  usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers',
  interspersed: true,
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force the removal of a running container (uses SIGKILL)' },
    {
      name: 'volumes',
      short: 'v',
      type: 'bool',
      description: 'Remove anonymous volumes associated with the container',
    },
  ],
  async run(ctx, { flags, args }) {
    const force = flags.force === true;
    const remove = async (raw: string): Promise<void> => {
      const id = raw.replace(/^\/+|\/+$/g, '');
      if (id === '') throw new Error('Container name cannot be empty');
      await ctx.client.json('DELETE', `/containers/${encodeURIComponent(id)}`, {
        query: { force, v: flags.volumes === true },
      });
    };
    // All removals run at once; each settles to its error (or null) so none goes unhandled.
    const settled = args.map((raw) =>
      remove(raw).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    const failures: string[] = [];
    for (const [i, result] of settled.entries()) {
      const err = await result;
      if (err === null) {
        ctx.streams.stdout.write(`${args[i]}\n`);
      } else if (force && err instanceof ApiError && err.isNotFound) {
        ctx.streams.stderr.write(`${describeError(err)}\n`);
      } else {
        failures.push(describeError(err));
      }
    }
    if (failures.length > 0) throw new StatusError(1, failures.join('\n'));
    return 0;
  },
};
