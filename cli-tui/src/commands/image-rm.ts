// skiff rmi / image rm: DELETE /images/{name} for each argument, "Untagged:"/"Deleted:" lines.

import { ApiError } from '../api/errors.js';
import { StatusError } from '../cli/errors.js';
import type { SubCommand } from '../cli/group.js';
import { describeError } from './report.js';

interface DeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export const imageRmCommand: SubCommand = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'rm [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  interspersed: true,
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', description: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', description: 'Do not delete untagged parents' },
  ],
  async run(ctx, { flags, args }) {
    const force = flags.force === true;
    const errors: string[] = [];
    let fatal = false;
    for (const image of args) {
      try {
        const items = await ctx.client.json<DeleteResponseItem[]>('DELETE', `/images/${encodeURIComponent(image)}`, {
          query: { force, noprune: flags['no-prune'] === true },
        });
        for (const item of items ?? []) {
          ctx.streams.stdout.write(item.Deleted ? `Deleted: ${item.Deleted}\n` : `Untagged: ${item.Untagged ?? ''}\n`);
        }
      } catch (err) {
        if (!(err instanceof ApiError && err.isNotFound)) fatal = true;
        errors.push(describeError(err));
      }
    }
    if (errors.length > 0) {
      // With -f, images that do not exist are reported but do not fail the command.
      if (!force || fatal) throw new StatusError(1, errors.join('\n'));
      ctx.streams.stderr.write(`${errors.join('\n')}\n`);
    }
    return 0;
  },
};
