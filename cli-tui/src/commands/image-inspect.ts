// skiff image inspect (the shared inspect output of inspect.ts, for images only).

import type { SubCommand } from '../cli/group.js';
import { inspectAll } from './inspect.js';

export const imageInspectCommand: SubCommand = {
  name: 'inspect',
  usage: 'inspect [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Display detailed information on one or more images',
  interspersed: true,
  args: { min: 1 },
  flags: [
    {
      name: 'format',
      short: 'f',
      type: 'string',
      description: "Format output using a custom template: 'json', 'TEMPLATE'",
    },
  ],
  run: (ctx, { flags, args }) => inspectAll(ctx, args, ['image'], flags.format as string | undefined, false),
};
