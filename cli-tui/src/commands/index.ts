// The command table.

import { completionCommand } from './completion.js';
import { CONTAINER_COMMANDS, containerCommand } from './container-commands.js';
import { imageCommand, imageTopLevelCommands } from './image.js';
import { infoCommand } from './info.js';
import { loginCommand, logoutCommand } from './login.js';
import { networkCommand } from './network.js';
import { pluginCommand } from './plugin.js';
import { psCommand } from './ps.js';
import { pullCommand } from './pull.js';
import { rmCommand } from './rm.js';
import { runCommand } from './run.js';
import { eventsCommand, systemCommand } from './system.js';
import type { Command } from './types.js';
import { uiCommand } from './ui.js';
import { versionCommand } from './version.js';
import { volumeCommand } from './volume.js';

export const COMMANDS: readonly Command[] = [
  runCommand,
  psCommand,
  ...CONTAINER_COMMANDS,
  containerCommand,
  pullCommand,
  ...imageTopLevelCommands,
  imageCommand,
  loginCommand,
  logoutCommand,
  networkCommand,
  volumeCommand,
  systemCommand,
  eventsCommand,
  pluginCommand,
  completionCommand,
  rmCommand,
  versionCommand,
  infoCommand,
  uiCommand,
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
