// The dashboard's UI state and its reducer: every key and mouse event goes through `reduce`,
// which returns the next state and the engine effects to run (actions, exec, quit). Pure, so
// key flows are tested without a terminal and keys typed faster than React renders are not lost.

import type { InputEvent, MouseEvent } from './input.js';
import { PALETTE_COMMANDS, parsePalette } from './palette.js';
import type { ActionName, Keymap } from './keymap.js';
import { scopesFor } from './keymap.js';
import { type ListView, type SortSpec, lineOfItem, nextSortColumn, windowStart } from './lists.js';
import { isListPanel, type ListPanelId, LIST_PANELS, type PanelId, PANELS, type Tab, tabsFor } from './types.js';

export type EngineAction = 'start' | 'stop' | 'restart' | 'pause' | 'unpause' | 'kill' | 'remove' | 'prune';

export type Effect =
  | { type: 'action'; action: EngineAction; panel: ListPanelId; ids: string[] }
  | { type: 'exec'; id: string }
  | { type: 'host'; target: string }
  | { type: 'pull'; ref: string }
  | { type: 'mouse'; on: boolean }
  | { type: 'quit' };

export type Mode =
  | { kind: 'normal' }
  | { kind: 'filter'; text: string }
  | { kind: 'search'; text: string }
  | { kind: 'palette'; text: string }
  | { kind: 'confirm'; message: string; effect: Effect }
  | { kind: 'help'; scroll: number };

export interface LogSettings {
  timestamps: boolean;
  wrap: boolean;
  search: string;
}

export interface UiState {
  panel: PanelId;
  focus: 'list' | 'main';
  cursor: Record<ListPanelId, number>;
  selectedId: Record<ListPanelId, string | undefined>;
  scrollTop: Record<ListPanelId, number>;
  filter: Record<ListPanelId, string>;
  sort: Record<ListPanelId, SortSpec>;
  marks: Record<ListPanelId, readonly string[]>;
  hideStopped: boolean;
  /** `+`: the main panel takes the whole width. */
  fullscreen: boolean;
  /** Mouse reporting; off lets the terminal select text. */
  mouse: boolean;
  tab: Record<ListPanelId, Tab>;
  /** First line shown in the main panel; 'end' follows the bottom (logs, events). */
  mainScroll: number | 'end';
  logs: LogSettings;
  mode: Mode;
  message?: { text: string; error: boolean };
}

export interface Layout {
  /** 1-based rows of the panel titles and of the tab titles, with their [x0, x1) ranges. */
  panelRow: number;
  panelTitles: { panel: PanelId; x0: number; x1: number }[];
  tabRow: number;
  tabTitles: { tab: Tab; x0: number; x1: number }[];
  /** 1-based row of the first list/main line. */
  bodyTop: number;
  bodyHeight: number;
  /** Columns of the list; the main panel starts after it. 0 when the list is hidden. */
  listWidth: number;
}

/** What the reducer needs to know about the current data. */
export interface Env {
  keymap: Keymap;
  views: Record<ListPanelId, ListView>;
  /** Line count of the main panel's current content. */
  mainLines: number;
  /** Main-panel line indices matching `needle` (the log search), ascending. */
  matchLines(needle: string): readonly number[];
  /** State of each container by id (pause vs unpause, force remove). */
  containerState: (id: string) => string | undefined;
  layout: Layout;
  confirm: ReadonlySet<EngineAction>;
}

function perPanel<T>(value: () => T): Record<ListPanelId, T> {
  return Object.fromEntries(LIST_PANELS.map((p) => [p, value()])) as Record<ListPanelId, T>;
}

export function initialState(): UiState {
  return {
    panel: 'containers',
    focus: 'list',
    cursor: perPanel(() => 0),
    selectedId: perPanel(() => undefined),
    scrollTop: perPanel(() => 0),
    filter: perPanel(() => ''),
    sort: perPanel(() => ({ column: '', reverse: false })),
    marks: perPanel(() => []),
    hideStopped: false,
    fullscreen: false,
    mouse: true,
    tab: { containers: 'logs', images: 'inspect', volumes: 'inspect', networks: 'inspect' },
    mainScroll: 'end',
    logs: { timestamps: false, wrap: false, search: '' },
    mode: { kind: 'normal' },
  };
}

export interface Result {
  state: UiState;
  effects: Effect[];
}

/** Index of the selected item in `view`: by id when still present, else the clamped cursor. */
export function selectedIndex(state: UiState, panel: ListPanelId, view: ListView): number {
  const id = state.selectedId[panel];
  if (id !== undefined) {
    const at = view.items.findIndex((i) => i.id === id);
    if (at >= 0) return at;
  }
  return Math.max(0, Math.min(state.cursor[panel], view.items.length - 1));
}

export function selectedItemId(state: UiState, panel: ListPanelId, view: ListView): string | undefined {
  return view.items[selectedIndex(state, panel, view)]?.id;
}

function select(state: UiState, panel: ListPanelId, view: ListView, index: number): UiState {
  if (view.items.length === 0) return state;
  const i = Math.max(0, Math.min(index, view.items.length - 1));
  const id = view.items[i]?.id;
  const changed = id !== selectedItemId(state, panel, view);
  const next: UiState = {
    ...state,
    cursor: { ...state.cursor, [panel]: i },
    selectedId: { ...state.selectedId, [panel]: id },
  };
  return changed ? { ...next, mainScroll: defaultScroll(next) } : next;
}

function switchPanel(state: UiState, panel: PanelId): UiState {
  const focus = isListPanel(panel) ? 'list' : 'main';
  const next: UiState = { ...state, panel, focus, mode: { kind: 'normal' } };
  return { ...next, mainScroll: defaultScroll(next) };
}

function cycleTab(state: UiState, delta: number): UiState {
  if (!isListPanel(state.panel)) return state;
  const tabs = tabsFor(state.panel);
  const i = tabs.indexOf(state.tab[state.panel]);
  const next = tabs[(i + delta + tabs.length) % tabs.length] ?? tabs[0];
  if (!next) return state;
  return withTab(state, next);
}

function mainTop(state: UiState, env: Env): number {
  const max = Math.max(0, env.mainLines - env.layout.bodyHeight);
  return state.mainScroll === 'end' ? max : Math.min(state.mainScroll, max);
}

function scrollMain(state: UiState, env: Env, delta: number): UiState {
  const max = Math.max(0, env.mainLines - env.layout.bodyHeight);
  const top = Math.max(0, Math.min(mainTop(state, env) + delta, max));
  const follows = followsByDefault(state);
  return { ...state, mainScroll: follows && top >= max && delta > 0 ? 'end' : top };
}

/** Logs and the events timeline stick to the bottom until scrolled up. */
function followsByDefault(state: UiState): boolean {
  return state.panel === 'events' || (state.panel === 'containers' && state.tab.containers === 'logs');
}

function defaultScroll(state: UiState): UiState['mainScroll'] {
  return followsByDefault(state) ? 'end' : 0;
}

function withTab(state: UiState, tab: Tab): UiState {
  if (!isListPanel(state.panel)) return state;
  const next: UiState = { ...state, tab: { ...state.tab, [state.panel]: tab } };
  return { ...next, mainScroll: defaultScroll(next) };
}

/** Targets of an action: the marked items if any, else the selected one. */
function targets(state: UiState, panel: ListPanelId, env: Env): string[] {
  const marks = state.marks[panel];
  const present = new Set(env.views[panel].items.map((i) => i.id));
  const marked = marks.filter((id) => present.has(id));
  if (marked.length > 0) return marked;
  const id = selectedItemId(state, panel, env.views[panel]);
  return id ? [id] : [];
}

const ACTION_WORDS: Record<EngineAction, string> = {
  start: 'start',
  stop: 'stop',
  restart: 'restart',
  pause: 'pause',
  unpause: 'unpause',
  kill: 'kill',
  remove: 'remove',
  prune: 'prune',
};

function describeTargets(panel: ListPanelId, ids: readonly string[], env: Env): string {
  const view = env.views[panel];
  const col = panel === 'containers' || panel === 'volumes' ? 1 : 0;
  const names = ids.map((id) => view.items.find((i) => i.id === id)?.cells[col] ?? id.slice(0, 12));
  return names.length > 3 ? `${names.length} ${panel}` : names.join(', ');
}

function requestAction(state: UiState, env: Env, action: EngineAction, panel: ListPanelId): Result {
  if (action === 'prune') {
    const effect: Effect = { type: 'action', action, panel, ids: [] };
    const what =
      panel === 'images' ? 'dangling images' : panel === 'containers' ? 'stopped containers' : `unused ${panel}`;
    return confirmOrRun(state, env, action, effect, `Prune all ${what}?`);
  }
  let ids = targets(state, panel, env);
  if (ids.length === 0) return { state: { ...state, message: { text: 'nothing selected', error: true } }, effects: [] };
  if (action === 'pause') {
    const paused = ids.filter((id) => env.containerState(id) === 'paused');
    if (paused.length === ids.length) action = 'unpause';
    else ids = ids.filter((id) => env.containerState(id) !== 'paused');
  }
  const effect: Effect = { type: 'action', action, panel, ids };
  const running = ids.some((id) => env.containerState(id) === 'running');
  const force = action === 'remove' && panel === 'containers' && running ? ' (forced: it is running)' : '';
  return confirmOrRun(
    state,
    env,
    action,
    effect,
    `${ACTION_WORDS[action]} ${describeTargets(panel, ids, env)}${force}?`,
  );
}

function confirmOrRun(state: UiState, env: Env, action: EngineAction, effect: Effect, question: string): Result {
  if (env.confirm.has(action)) {
    return { state: { ...state, mode: { kind: 'confirm', message: question, effect } }, effects: [] };
  }
  return { state, effects: [effect] };
}

export function runPalette(state: UiState, env: Env, line: string): Result {
  const normal = { ...state, mode: { kind: 'normal' } as Mode };
  const cmd = parsePalette(line, state.panel);
  switch (cmd.kind) {
    case 'none':
      return { state: normal, effects: [] };
    case 'error':
      return fail(normal, cmd.message);
    case 'panel':
      return { state: switchPanel(normal, cmd.panel), effects: [] };
    case 'action':
      return requestAction(normal, env, cmd.action, cmd.panel);
    case 'quit':
      return { state: normal, effects: [{ type: 'quit' }] };
    case 'help':
      return { state: { ...state, mode: { kind: 'help', scroll: 0 } }, effects: [] };
    case 'host':
      return { state: normal, effects: [{ type: 'host', target: cmd.target }] };
    case 'pull':
      return { state: normal, effects: [{ type: 'pull', ref: cmd.ref }] };
    case 'filter':
      return { state: { ...normal, filter: { ...state.filter, [cmd.panel]: cmd.text } }, effects: [] };
    case 'sort':
      return {
        state: { ...normal, sort: { ...state.sort, [cmd.panel]: { column: cmd.column, reverse: cmd.reverse } } },
        effects: [],
      };
  }
}

function fail(state: UiState, text: string): Result {
  return { state: { ...state, message: { text, error: true } }, effects: [] };
}

/** Text entry shared by the filter, search and palette prompts. */
function editText(text: string, ev: InputEvent & { type: 'key' }): string | undefined {
  if (ev.key === 'backspace' || ev.key === 'delete') return [...text].slice(0, -1).join('');
  if (ev.key === 'ctrl+u') return '';
  if (ev.key === 'space') return `${text} `;
  if (ev.text !== '' && [...ev.text].length === 1 && ev.text >= ' ') return text + ev.text;
  return undefined;
}

function reduceMode(state: UiState, ev: InputEvent & { type: 'key' }, env: Env): Result | undefined {
  const mode = state.mode;
  const done = (s: UiState): Result => ({ state: s, effects: [] });
  switch (mode.kind) {
    case 'normal':
      return undefined;
    case 'confirm':
      if (ev.key === 'y' || ev.key === 'Y' || ev.key === 'enter') {
        return { state: { ...state, mode: { kind: 'normal' } }, effects: [mode.effect] };
      }
      if (ev.key === 'ctrl+c') return { state, effects: [{ type: 'quit' }] };
      return done({ ...state, mode: { kind: 'normal' }, message: { text: 'cancelled', error: false } });
    case 'help': {
      if (ev.key === 'j' || ev.key === 'down')
        return done({ ...state, mode: { kind: 'help', scroll: mode.scroll + 1 } });
      if (ev.key === 'k' || ev.key === 'up') {
        return done({ ...state, mode: { kind: 'help', scroll: Math.max(0, mode.scroll - 1) } });
      }
      if (ev.key === 'ctrl+c') return { state, effects: [{ type: 'quit' }] };
      return done({ ...state, mode: { kind: 'normal' } });
    }
    case 'filter': {
      const panel = state.panel;
      if (!isListPanel(panel)) return done({ ...state, mode: { kind: 'normal' } });
      if (ev.key === 'enter') return done({ ...state, mode: { kind: 'normal' } });
      if (ev.key === 'esc')
        return done({ ...state, mode: { kind: 'normal' }, filter: { ...state.filter, [panel]: '' } });
      const text = editText(mode.text, ev);
      if (text === undefined) return done(state);
      return done({
        ...state,
        mode: { kind: 'filter', text },
        filter: { ...state.filter, [panel]: text },
        cursor: { ...state.cursor, [panel]: 0 },
        selectedId: { ...state.selectedId, [panel]: undefined },
      });
    }
    case 'search': {
      if (ev.key === 'enter') {
        const s = { ...state, mode: { kind: 'normal' } as Mode, logs: { ...state.logs, search: mode.text } };
        return done(jumpToMatch(s, env, 1, true));
      }
      if (ev.key === 'esc') return done({ ...state, mode: { kind: 'normal' } });
      const text = editText(mode.text, ev);
      return done(text === undefined ? state : { ...state, mode: { kind: 'search', text } });
    }
    case 'palette': {
      if (ev.key === 'enter') return runPalette(state, env, mode.text);
      if (ev.key === 'esc') return done({ ...state, mode: { kind: 'normal' } });
      if (ev.key === 'tab') {
        const [word = '', ...rest] = mode.text.split(' ');
        if (rest.length > 0) return done(state);
        const match = PALETTE_COMMANDS.filter((c) => c.startsWith(word.toLowerCase()));
        return done(match.length === 1 ? { ...state, mode: { kind: 'palette', text: `${match[0]} ` } } : state);
      }
      const text = editText(mode.text, ev);
      return done(text === undefined ? state : { ...state, mode: { kind: 'palette', text } });
    }
  }
}

/** Moves the main panel to the next (dir 1) or previous (-1) line matching the search. */
function jumpToMatch(state: UiState, env: Env, dir: 1 | -1, fromStart = false): UiState {
  if (state.logs.search === '') return state;
  const matches = env.matchLines(state.logs.search);
  if (matches.length === 0) return { ...state, message: { text: `no match for "${state.logs.search}"`, error: true } };
  const top = mainTop(state, env);
  const target =
    dir > 0
      ? (matches.find((l) => (fromStart ? l >= top : l > top)) ?? matches[0])
      : ([...matches].reverse().find((l) => l < top) ?? matches[matches.length - 1]);
  return { ...state, mainScroll: target ?? 0 };
}

function listMove(state: UiState, env: Env, delta: number | 'top' | 'bottom'): UiState {
  const panel = state.panel;
  if (!isListPanel(panel)) return state;
  const view = env.views[panel];
  const current = selectedIndex(state, panel, view);
  const index = delta === 'top' ? 0 : delta === 'bottom' ? view.items.length - 1 : current + delta;
  return select(state, panel, view, index);
}

function applyAction(state: UiState, action: ActionName, env: Env): Result {
  const done = (s: UiState): Result => ({ state: s, effects: [] });
  const panel = state.panel;
  const page = Math.max(1, env.layout.bodyHeight - 1);
  switch (action) {
    case 'quit':
      return { state, effects: [{ type: 'quit' }] };
    case 'help':
      return done({ ...state, mode: { kind: 'help', scroll: 0 } });
    case 'palette':
      return done({ ...state, mode: { kind: 'palette', text: '' } });
    case 'panel1':
    case 'panel2':
    case 'panel3':
    case 'panel4':
    case 'panel5':
    case 'panel6':
      return done(switchPanel(state, PANELS[Number(action.slice(5)) - 1] ?? 'containers'));
    case 'nextPanel':
    case 'prevPanel': {
      const i = PANELS.indexOf(panel);
      const d = action === 'nextPanel' ? 1 : -1;
      return done(switchPanel(state, PANELS[(i + d + PANELS.length) % PANELS.length] ?? 'containers'));
    }
    case 'nextTab':
      return done(cycleTab(state, 1));
    case 'prevTab':
      return done(cycleTab(state, -1));
    case 'scrollMainDown':
      return done(scrollMain(state, env, Math.max(1, Math.floor(page / 2))));
    case 'scrollMainUp':
      return done(scrollMain(state, env, -Math.max(1, Math.floor(page / 2))));
    case 'focusMain':
      return done(isListPanel(panel) ? { ...state, focus: 'main' } : state);
    case 'back':
      return done(isListPanel(panel) ? { ...state, focus: 'list' } : state);
    case 'down':
    case 'up':
    case 'pageDown':
    case 'pageUp':
    case 'top':
    case 'bottom': {
      const delta = { down: 1, up: -1, pageDown: page, pageUp: -page, top: 'top', bottom: 'bottom' } as const;
      if (state.focus === 'list') return done(listMove(state, env, delta[action]));
      if (action === 'top') return done({ ...state, mainScroll: 0 });
      if (action === 'bottom') return done({ ...state, mainScroll: 'end' });
      return done(scrollMain(state, env, delta[action]));
    }
    case 'filter':
      return isListPanel(panel) ? done({ ...state, mode: { kind: 'filter', text: state.filter[panel] } }) : done(state);
    case 'sort':
    case 'reverseSort': {
      if (!isListPanel(panel)) return done(state);
      const cur = state.sort[panel];
      const next =
        action === 'sort'
          ? { column: nextSortColumn(panel, cur.column), reverse: false }
          : { column: cur.column, reverse: !cur.reverse };
      return done({ ...state, sort: { ...state.sort, [panel]: next } });
    }
    case 'mark': {
      if (!isListPanel(panel)) return done(state);
      const id = selectedItemId(state, panel, env.views[panel]);
      if (!id) return done(state);
      const marks = state.marks[panel];
      const nextMarks = marks.includes(id) ? marks.filter((m) => m !== id) : [...marks, id];
      return done(listMove({ ...state, marks: { ...state.marks, [panel]: nextMarks } }, env, 1));
    }
    case 'clearMarks':
      return isListPanel(panel) ? done({ ...state, marks: { ...state.marks, [panel]: [] } }) : done(state);
    case 'hideStopped':
      return done({ ...state, hideStopped: !state.hideStopped });
    case 'screenMode':
      return done({ ...state, fullscreen: !state.fullscreen, focus: state.fullscreen ? state.focus : 'main' });
    case 'copyMode': {
      const on = !state.mouse;
      const text = on ? 'mouse on' : 'mouse off: select text with the mouse, M to turn it back on';
      return { state: { ...state, mouse: on, message: { text, error: false } }, effects: [{ type: 'mouse', on }] };
    }
    case 'start':
    case 'stop':
    case 'restart':
    case 'pause':
    case 'kill':
    case 'remove':
    case 'prune':
      return isListPanel(panel) ? requestAction(state, env, action, panel) : done(state);
    case 'exec': {
      if (panel !== 'containers') return done(state);
      const id = selectedItemId(state, panel, env.views[panel]);
      if (!id) return done(state);
      if (env.containerState(id) !== 'running')
        return done({ ...state, message: { text: 'container is not running', error: true } });
      return { state, effects: [{ type: 'exec', id }] };
    }
    case 'search':
      return done({ ...state, mode: { kind: 'search', text: state.logs.search } });
    case 'nextMatch':
      return done(jumpToMatch(state, env, 1));
    case 'prevMatch':
      return done(jumpToMatch(state, env, -1));
    case 'timestamps':
      return done({ ...state, logs: { ...state.logs, timestamps: !state.logs.timestamps } });
    case 'wrap':
      return done({ ...state, logs: { ...state.logs, wrap: !state.logs.wrap } });
    case 'follow':
      return done({ ...state, mainScroll: state.mainScroll === 'end' ? mainTop(state, env) : 'end' });
  }
}

function reduceMouse(state: UiState, m: MouseEvent, env: Env): Result {
  const done = (s: UiState): Result => ({ state: s, effects: [] });
  const { layout } = env;
  const inList = isListPanel(state.panel) && m.x <= layout.listWidth && !state.fullscreen;
  if (m.kind === 'wheelUp' || m.kind === 'wheelDown') {
    const d = m.kind === 'wheelUp' ? -3 : 3;
    if (inList) return done(listMove(state, env, d));
    return done(scrollMain(state, env, d));
  }
  if (m.kind !== 'press' || m.button !== 0) return done(state);
  if (m.y === layout.panelRow) {
    const hit = layout.panelTitles.find((t) => m.x >= t.x0 && m.x < t.x1);
    return done(hit ? switchPanel(state, hit.panel) : state);
  }
  if (m.y === layout.tabRow) {
    const tab = layout.tabTitles.find((t) => m.x >= t.x0 && m.x < t.x1);
    if (tab && isListPanel(state.panel)) {
      return done(withTab(state, tab.tab));
    }
    return done(state);
  }
  if (m.y < layout.bodyTop || m.y >= layout.bodyTop + layout.bodyHeight) return done(state);
  const panel = state.panel;
  if (!inList || !isListPanel(panel)) return done({ ...state, focus: isListPanel(panel) ? 'main' : state.focus });
  const view = env.views[panel];
  const cursorLine = lineOfItem(view.lines, selectedIndex(state, panel, view));
  const top = visibleTop(state, panel, view, cursorLine, layout.bodyHeight);
  const line = view.lines[top + (m.y - layout.bodyTop)];
  if (!line || line.kind !== 'item') return done({ ...state, focus: 'list' });
  return done({ ...select(state, panel, view, line.index), focus: 'list' });
}

/** First visible list line (the same windowing the view renders with). */
export function visibleTop(
  state: UiState,
  panel: ListPanelId,
  view: ListView,
  cursorLine: number,
  height: number,
): number {
  return windowStart(cursorLine, state.scrollTop[panel], height, view.lines.length);
}

/** Remembers the list window so it only moves when the cursor leaves it. */
export function withScrollTop(state: UiState, panel: ListPanelId, top: number): UiState {
  return state.scrollTop[panel] === top ? state : { ...state, scrollTop: { ...state.scrollTop, [panel]: top } };
}

export function reduce(state: UiState, ev: InputEvent, env: Env): Result {
  if (ev.type === 'mouse') {
    if (state.mode.kind !== 'normal') return { state, effects: [] };
    return reduceMouse(state, ev.mouse, env);
  }
  const cleared = state.message && state.mode.kind === 'normal' ? { ...state, message: undefined } : state;
  const modal = reduceMode(cleared, ev, env);
  if (modal) return modal;
  const tab = isListPanel(state.panel) ? state.tab[state.panel] : '';
  const action = env.keymap.resolve(ev.key, scopesFor(state.focus, state.panel, tab));
  if (!action) return { state: cleared, effects: [] };
  let next = applyAction(cleared, action, env);
  // After a list move, keep the window where the cursor is.
  const panel = next.state.panel;
  if (isListPanel(panel)) {
    const view = env.views[panel];
    const cursorLine = lineOfItem(view.lines, selectedIndex(next.state, panel, view));
    const top = visibleTop(next.state, panel, view, cursorLine, env.layout.bodyHeight);
    next = { ...next, state: withScrollTop(next.state, panel, top) };
  }
  return next;
}
