// skiff completion bash|zsh: prints the completion script for the current command table.

import { StatusError } from '../cli/errors.js';
import { completionScript, type Shell } from '../cli/completion.js';
import type { Command } from './types.js';

const SHELLS: Shell[] = ['bash', 'zsh'];

/** The global flags main.ts accepts (kept here so the script offers them). */
const GLOBAL_FLAGS = [
  { name: 'host', short: 'H', type: 'list' as const, description: 'Daemon socket to connect to' },
  { name: 'help', short: 'h', type: 'bool' as const, description: 'Print usage' },
  { name: 'version', short: 'v', type: 'bool' as const, description: 'Print version information and quit' },
];

export const completionCommand: Command = {
  name: 'completion',
  usage: 'completion bash|zsh',
  summary: 'Print a shell completion script (bash or zsh)',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, { args }) {
    const shell = args[0] as Shell;
    if (!SHELLS.includes(shell)) {
      throw new StatusError(1, `unsupported shell "${args[0]}": use one of ${SHELLS.join(', ')}`);
    }
    // Imported here: the command table itself lists this command.
    const { COMMANDS } = await import('./index.js');
    ctx.streams.stdout.write(
      completionScript(shell, { program: ctx.program, globalFlags: GLOBAL_FLAGS, commands: COMMANDS }),
    );
    return 0;
  },
};
