// The key bindings: one table drives dispatch, the `?` help and user overrides from ui.yml.
// Defaults follow lazydocker's keys where they exist (docs/keybindings/Keybindings_en.md).

export type Scope = 'global' | 'list' | 'containers' | 'images' | 'volumes' | 'networks' | 'main' | 'logs';

export type ActionName =
  | 'quit'
  | 'help'
  | 'palette'
  | 'panel1'
  | 'panel2'
  | 'panel3'
  | 'panel4'
  | 'panel5'
  | 'panel6'
  | 'nextPanel'
  | 'prevPanel'
  | 'nextTab'
  | 'prevTab'
  | 'down'
  | 'up'
  | 'pageDown'
  | 'pageUp'
  | 'top'
  | 'bottom'
  | 'focusMain'
  | 'back'
  | 'filter'
  | 'sort'
  | 'reverseSort'
  | 'mark'
  | 'clearMarks'
  | 'start'
  | 'stop'
  | 'restart'
  | 'pause'
  | 'kill'
  | 'remove'
  | 'prune'
  | 'exec'
  | 'hideStopped'
  | 'screenMode'
  | 'copyMode'
  | 'search'
  | 'nextMatch'
  | 'prevMatch'
  | 'timestamps'
  | 'wrap'
  | 'follow'
  | 'scrollMainDown'
  | 'scrollMainUp';

export interface Binding {
  action: ActionName;
  scope: Scope;
  keys: string[];
  description: string;
}

export const DEFAULT_BINDINGS: readonly Binding[] = [
  { action: 'quit', scope: 'global', keys: ['q', 'ctrl+c'], description: 'quit' },
  { action: 'help', scope: 'global', keys: ['?', 'x'], description: 'show this help' },
  { action: 'palette', scope: 'global', keys: [':'], description: 'command palette' },
  { action: 'panel1', scope: 'global', keys: ['1'], description: 'containers panel' },
  { action: 'panel2', scope: 'global', keys: ['2'], description: 'images panel' },
  { action: 'panel3', scope: 'global', keys: ['3'], description: 'volumes panel' },
  { action: 'panel4', scope: 'global', keys: ['4'], description: 'networks panel' },
  { action: 'panel5', scope: 'global', keys: ['5'], description: 'events timeline' },
  { action: 'panel6', scope: 'global', keys: ['6'], description: 'engine (version, info, plugins)' },
  { action: 'nextPanel', scope: 'global', keys: ['tab', 'right', 'l'], description: 'next panel' },
  { action: 'prevPanel', scope: 'global', keys: ['shift+tab', 'left', 'h'], description: 'previous panel' },
  { action: 'nextTab', scope: 'global', keys: [']'], description: 'next tab' },
  { action: 'prevTab', scope: 'global', keys: ['['], description: 'previous tab' },
  { action: 'screenMode', scope: 'global', keys: ['+'], description: 'main panel: normal / full screen' },
  { action: 'copyMode', scope: 'global', keys: ['M'], description: 'mouse on/off (copy mode)' },
  { action: 'scrollMainDown', scope: 'global', keys: ['J', 'ctrl+d'], description: 'scroll main panel down' },
  { action: 'scrollMainUp', scope: 'global', keys: ['K', 'ctrl+u'], description: 'scroll main panel up' },
  { action: 'down', scope: 'list', keys: ['j', 'down'], description: 'next item' },
  { action: 'up', scope: 'list', keys: ['k', 'up'], description: 'previous item' },
  { action: 'pageDown', scope: 'list', keys: ['pagedown'], description: 'page down' },
  { action: 'pageUp', scope: 'list', keys: ['pageup'], description: 'page up' },
  { action: 'top', scope: 'list', keys: ['home', 'g'], description: 'first item' },
  { action: 'bottom', scope: 'list', keys: ['end', 'G'], description: 'last item' },
  { action: 'focusMain', scope: 'list', keys: ['enter'], description: 'focus the main panel' },
  { action: 'filter', scope: 'list', keys: ['/'], description: 'filter the list' },
  { action: 'sort', scope: 'list', keys: ['o'], description: 'sort by next column' },
  { action: 'reverseSort', scope: 'list', keys: ['O'], description: 'reverse the sort order' },
  { action: 'mark', scope: 'list', keys: ['space'], description: 'mark/unmark for bulk actions' },
  { action: 'clearMarks', scope: 'list', keys: ['ctrl+\\'], description: 'clear marks' },
  { action: 'prune', scope: 'list', keys: ['P'], description: 'prune unused objects of this panel' },
  { action: 'remove', scope: 'list', keys: ['d'], description: 'remove (marked or selected)' },
  { action: 'start', scope: 'containers', keys: ['S'], description: 'start' },
  { action: 'stop', scope: 'containers', keys: ['s'], description: 'stop' },
  { action: 'restart', scope: 'containers', keys: ['r'], description: 'restart' },
  { action: 'pause', scope: 'containers', keys: ['p'], description: 'pause / unpause' },
  { action: 'kill', scope: 'containers', keys: ['ctrl+k'], description: 'kill' },
  { action: 'exec', scope: 'containers', keys: ['E'], description: 'exec a shell' },
  { action: 'hideStopped', scope: 'containers', keys: ['e'], description: 'hide/show stopped containers' },
  { action: 'back', scope: 'main', keys: ['esc'], description: 'back to the list' },
  { action: 'down', scope: 'main', keys: ['j', 'down'], description: 'scroll down' },
  { action: 'up', scope: 'main', keys: ['k', 'up'], description: 'scroll up' },
  { action: 'pageDown', scope: 'main', keys: ['pagedown'], description: 'page down' },
  { action: 'pageUp', scope: 'main', keys: ['pageup'], description: 'page up' },
  { action: 'top', scope: 'main', keys: ['home', 'g'], description: 'top' },
  { action: 'bottom', scope: 'main', keys: ['end', 'G'], description: 'bottom (logs: follow again)' },
  { action: 'search', scope: 'logs', keys: ['/'], description: 'search the logs' },
  { action: 'nextMatch', scope: 'logs', keys: ['n'], description: 'next match' },
  { action: 'prevMatch', scope: 'logs', keys: ['N'], description: 'previous match' },
  { action: 'timestamps', scope: 'logs', keys: ['t'], description: 'toggle timestamps' },
  { action: 'wrap', scope: 'logs', keys: ['w'], description: 'toggle line wrap' },
  { action: 'follow', scope: 'logs', keys: ['f'], description: 'toggle follow' },
];

export class KeymapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeymapError';
  }
}

const NAMED_KEYS = new Set([
  'enter',
  'esc',
  'tab',
  'space',
  'backspace',
  'delete',
  'up',
  'down',
  'left',
  'right',
  'pageup',
  'pagedown',
  'home',
  'end',
]);

/** Validates and normalises a key name: "ctrl+c", "shift+tab", "G", "pagedown", "?". */
export function normalizeKeyName(name: string): string {
  if (name === ' ') return 'space';
  const text = name.trim();
  if (text === '') throw new KeymapError('empty key name');
  if ([...text].length === 1) return text === ' ' ? 'space' : text;
  const lower = text.toLowerCase();
  const m = /^(ctrl|alt|shift)\+(.+)$/.exec(lower);
  if (m) {
    const [, mod, rest] = m as unknown as [string, string, string];
    const base = [...rest].length === 1 ? rest : normalizeKeyName(rest);
    if (mod === 'shift' && base !== 'tab') throw new KeymapError(`unsupported key "${name}": use the capital letter`);
    return `${mod}+${base}`;
  }
  const aliases: Record<string, string> = { escape: 'esc', return: 'enter', pgdown: 'pagedown', pgup: 'pageup' };
  const key = aliases[lower] ?? lower;
  if (!NAMED_KEYS.has(key)) throw new KeymapError(`unknown key "${name}"`);
  return key;
}

/** Replaces the keys of the actions named in `overrides` (an action → keys map from ui.yml). */
export function applyOverrides(bindings: readonly Binding[], overrides: Record<string, string | string[]>): Binding[] {
  const known = new Set(bindings.map((b) => b.action));
  for (const action of Object.keys(overrides)) {
    if (!known.has(action as ActionName)) throw new KeymapError(`unknown action "${action}" in keybindings`);
  }
  return bindings.map((b) => {
    const o = overrides[b.action];
    if (o === undefined) return b;
    const keys = (Array.isArray(o) ? o : [o]).map(normalizeKeyName);
    return { ...b, keys };
  });
}

/** The scopes active for a focus, most specific first. */
export function scopesFor(focus: 'list' | 'main', panel: string, tab: string): Scope[] {
  if (focus === 'main') return tab === 'logs' ? ['logs', 'main', 'global'] : ['main', 'global'];
  const scopes: Scope[] = [];
  if (panel === 'containers' || panel === 'images' || panel === 'volumes' || panel === 'networks') {
    scopes.push(panel as Scope);
    scopes.push('list');
  }
  scopes.push('global');
  return scopes;
}

export class Keymap {
  private readonly table = new Map<string, ActionName>();

  constructor(readonly bindings: readonly Binding[]) {
    for (const b of bindings) for (const k of b.keys) this.table.set(`${b.scope} ${k}`, b.action);
  }

  resolve(key: string, scopes: readonly Scope[]): ActionName | undefined {
    for (const s of scopes) {
      const a = this.table.get(`${s} ${key}`);
      if (a) return a;
    }
    return undefined;
  }

  /** The first key bound to `action` (for hints), e.g. "s". */
  keyFor(action: ActionName): string {
    return this.bindings.find((b) => b.action === action)?.keys[0] ?? '';
  }

  /** `?` help: one section per scope, generated from the table. */
  helpLines(): string[] {
    const titles: Record<Scope, string> = {
      global: 'Global',
      list: 'Lists',
      containers: 'Containers',
      images: 'Images',
      volumes: 'Volumes',
      networks: 'Networks',
      main: 'Main panel',
      logs: 'Logs tab',
    };
    const lines: string[] = [];
    for (const scope of Object.keys(titles) as Scope[]) {
      const rows = this.bindings.filter((b) => b.scope === scope && b.keys.length > 0);
      if (rows.length === 0) continue;
      if (lines.length > 0) lines.push('');
      lines.push(titles[scope]);
      for (const b of rows) lines.push(`  ${b.keys.join(', ').padEnd(20)} ${b.description}`);
    }
    return lines;
  }
}
