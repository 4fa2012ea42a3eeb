// `skiff image …` and the top-level aliases docker has for image commands.

import { parseFilterFlags } from '../cli/filters.js';
import { defineGroup, type SubCommand, topLevel } from '../cli/group.js';
import { buildCommand } from './build.js';
import { historyCommand } from './image-history.js';
import { importCommand, loadCommand, saveCommand } from './image-archive.js';
import { imageInspectCommand } from './image-inspect.js';
import { imageRmCommand } from './image-rm.js';
import { tagCommand } from './image-tag.js';
import { imagesCommand } from './images.js';
import { confirmPrune, printPruneResult, pruneImages } from './prune.js';
import { pullCommand } from './pull.js';
import { pushCommand } from './push.js';
import type { Command } from './types.js';

export const imagePruneCommand: SubCommand = {
  name: 'prune',
  usage: 'prune [OPTIONS]',
  summary: 'Remove unused images',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images, not just dangling ones' },
    {
      name: 'filter',
      type: 'list',
      valueName: 'filter',
      description: 'Provide filter values (e.g. "until=<timestamp>")',
    },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, { flags }) {
    const all = flags.all === true;
    const filters = parseFilterFlags(flags.filter as string[] | undefined, { dangling: { [String(!all)]: true } });
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!(await confirmPrune(ctx, warning, flags.force === true))) return 0;
    printPruneResult(ctx, await pruneImages(ctx, filters));
    return 0;
  },
};

const lsCommand: SubCommand = {
  ...imagesCommand,
  name: 'ls',
  aliases: ['list'],
  usage: 'ls [OPTIONS] [REPOSITORY[:TAG]]',
};

export const imageCommand = defineGroup('image', 'Manage images', [
  buildCommand,
  historyCommand,
  importCommand,
  imageInspectCommand,
  loadCommand,
  lsCommand,
  imagePruneCommand,
  pullCommand,
  pushCommand,
  imageRmCommand,
  saveCommand,
  tagCommand,
]);

/** The top-level forms: build, history, images, import, load, push, rmi, save, tag (pull is its own). */
export const imageTopLevelCommands: Command[] = [
  topLevel(buildCommand),
  topLevel(historyCommand),
  topLevel(imagesCommand),
  topLevel(importCommand),
  topLevel(loadCommand),
  topLevel(pushCommand),
  topLevel(imageRmCommand, 'rmi', 'rmi [OPTIONS] IMAGE [IMAGE...]'),
  topLevel(saveCommand),
  topLevel(tagCommand),
];
