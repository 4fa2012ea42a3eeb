// The command table.

import { imagesCommand } from './images.js';
import { infoCommand } from './info.js';
import { psCommand } from './ps.js';
import { pullCommand } from './pull.js';
import { rmCommand } from './rm.js';
import { runCommand } from './run.js';
import type { Command } from './types.js';
import { versionCommand } from './version.js';

export const COMMANDS: readonly Command[] = [
  runCommand,
  psCommand,
  pullCommand,
  imagesCommand,
  rmCommand,
  versionCommand,
  infoCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
