// The container commands, in the order `skiff --help` lists them.

import { parseFilterFlags } from '../cli/filters.js';
import { defineGroup } from '../cli/group.js';
import { attachCommand, startCommand } from './attach.js';
import { diffCommand, portCommand, topCommand } from './container-info.js';
import { cpCommand } from './cp.js';
import { createCommand } from './create.js';
import { execCommand } from './exec.js';
import { commitCommand, exportCommand } from './export-commit.js';
import { inspectCommand } from './inspect.js';
import {
  killCommand,
  pauseCommand,
  renameCommand,
  restartCommand,
  stopCommand,
  unpauseCommand,
  waitCommand,
} from './lifecycle.js';
import { logsCommand } from './logs.js';
import { confirmPrune, printPruneResult, pruneList } from './prune.js';
import { psCommand } from './ps.js';
import { rmCommand } from './rm.js';
import { runCommand } from './run.js';
import { statsCommand } from './stats.js';
import type { Command } from './types.js';
import { updateCommand } from './update.js';

export const CONTAINER_COMMANDS: readonly Command[] = [
  createCommand,
  startCommand,
  stopCommand,
  restartCommand,
  killCommand,
  pauseCommand,
  unpauseCommand,
  waitCommand,
  renameCommand,
  execCommand,
  attachCommand,
  logsCommand,
  cpCommand,
  inspectCommand,
  topCommand,
  statsCommand,
  portCommand,
  diffCommand,
  updateCommand,
  exportCommand,
  commitCommand,
];

/** `skiff container prune`: removes every stopped container. */
export const containerPruneCommand: Command = {
  name: 'prune',
  usage: 'prune [OPTIONS]',
  summary: 'Remove all stopped containers',
  interspersed: true,
  args: { max: 0 },
  flags: [
    {
      name: 'filter',
      type: 'list',
      valueName: 'filter',
      description: 'Provide filter values (e.g. "until=<timestamp>")',
    },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, { flags }) {
    const filters = parseFilterFlags(flags.filter as string[] | undefined);
    const warning = 'WARNING! This will remove all stopped containers.';
    if (!(await confirmPrune(ctx, warning, flags.force === true))) return 0;
    printPruneResult(
      ctx,
      await pruneList(ctx, '/containers/prune', 'ContainersDeleted', 'Deleted Containers', filters),
    );
    return 0;
  },
};

/** `skiff container inspect` only looks at containers. */
const containerInspectCommand: Command = {
  ...inspectCommand,
  usage: 'inspect [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Display detailed information on one or more containers',
  flags: inspectCommand.flags.filter((f) => f.name !== 'type'),
  run: (ctx, parsed) => inspectCommand.run(ctx, { ...parsed, flags: { ...parsed.flags, type: 'container' } }),
};

/** `skiff container COMMAND`: docker's management-command forms of the same commands. */
export const containerCommand = defineGroup('container', 'Manage containers', [
  attachCommand,
  commitCommand,
  cpCommand,
  createCommand,
  diffCommand,
  execCommand,
  exportCommand,
  containerInspectCommand,
  killCommand,
  logsCommand,
  { ...psCommand, name: 'ls', usage: 'ls [OPTIONS]', aliases: ['ps', 'list'] },
  pauseCommand,
  portCommand,
  containerPruneCommand,
  renameCommand,
  restartCommand,
  { ...rmCommand, aliases: ['remove'] },
  runCommand,
  startCommand,
  statsCommand,
  stopCommand,
  topCommand,
  unpauseCommand,
  updateCommand,
  waitCommand,
]);
