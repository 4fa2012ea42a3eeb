// `skiff image|network|volume inspect`: the shared inspect output of inspect.ts, for one object type.

import type { SubCommand } from '../cli/group.js';
import { inspectAll } from './inspect.js';

export function typedInspectCommand(type: 'image' | 'network' | 'volume'): SubCommand {
  const noun = type.toUpperCase();
  return {
    name: 'inspect',
    usage: `inspect [OPTIONS] ${noun} [${noun}...]`,
    summary: `Display detailed information on one or more ${type}s`,
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
    run: (ctx, { flags, args }) =>
      inspectAll(ctx, args, [type], flags.format as string | undefined, false, type === 'volume'),
  };
}

export const imageInspectCommand = typedInspectCommand('image');
