// The `:` command palette: a line of text to a command, validated against the current panel.

import { COLUMNS } from './lists.js';
import type { EngineAction } from './state.js';
import { isListPanel, type ListPanelId, type PanelId } from './types.js';

export type PaletteCommand =
  | { kind: 'none' }
  | { kind: 'error'; message: string }
  | { kind: 'panel'; panel: PanelId }
  | { kind: 'action'; action: EngineAction; panel: ListPanelId }
  | { kind: 'quit' }
  | { kind: 'help' }
  | { kind: 'host'; target: string }
  | { kind: 'pull'; ref: string }
  | { kind: 'filter'; panel: ListPanelId; text: string }
  | { kind: 'sort'; panel: ListPanelId; column: string; reverse: boolean };

const PALETTE_PANELS: Record<string, PanelId> = {
  containers: 'containers',
  c: 'containers',
  ps: 'containers',
  images: 'images',
  i: 'images',
  volumes: 'volumes',
  v: 'volumes',
  networks: 'networks',
  n: 'networks',
  events: 'events',
  engine: 'engine',
  info: 'engine',
};

const PALETTE_ACTIONS: Record<string, EngineAction> = {
  start: 'start',
  stop: 'stop',
  restart: 'restart',
  pause: 'pause',
  unpause: 'unpause',
  kill: 'kill',
  rm: 'remove',
  remove: 'remove',
  prune: 'prune',
};

/** The palette's command words, for completion and help. */
export const PALETTE_COMMANDS = [
  ...Object.keys(PALETTE_PANELS),
  ...Object.keys(PALETTE_ACTIONS),
  'filter',
  'sort',
  'host',
  'pull',
  'help',
  'quit',
];

export function parsePalette(line: string, panel: PanelId): PaletteCommand {
  const [word = '', ...args] = line.trim().split(/\s+/);
  const arg = args.join(' ');
  const cmd = word.toLowerCase();
  const error = (message: string): PaletteCommand => ({ kind: 'error', message });
  if (cmd === '') return { kind: 'none' };
  const target = PALETTE_PANELS[cmd];
  if (target) return { kind: 'panel', panel: target };
  const action = PALETTE_ACTIONS[cmd];
  if (action) {
    if (!isListPanel(panel)) return error(`:${cmd} needs a list panel`);
    if (action !== 'remove' && action !== 'prune' && panel !== 'containers')
      return error(`:${cmd} applies to containers`);
    return { kind: 'action', action, panel };
  }
  if (cmd === 'quit' || cmd === 'q') return { kind: 'quit' };
  if (cmd === 'help') return { kind: 'help' };
  if (cmd === 'host' || cmd === 'context') {
    return arg === '' ? error(':host needs an endpoint name or URL') : { kind: 'host', target: arg };
  }
  if (cmd === 'pull') return arg === '' ? error(':pull needs an image reference') : { kind: 'pull', ref: arg };
  if (cmd === 'filter') {
    return isListPanel(panel) ? { kind: 'filter', panel, text: arg } : error(':filter needs a list panel');
  }
  if (cmd === 'sort') {
    if (!isListPanel(panel)) return error(':sort needs a list panel');
    const [column = '', dir = ''] = args;
    const keys = COLUMNS[panel].map((c) => c.key);
    if (column !== '' && !keys.includes(column)) return error(`unknown column "${column}" (${keys.join(', ')})`);
    return { kind: 'sort', panel, column, reverse: dir === 'desc' };
  }
  return error(`unknown command "${cmd}"`);
}
