import test from 'ava';
import { computeLayout } from './layout.js';
import { defaultConfig } from './config.js';
import { type InputEvent, normalizeInput } from './input.js';
import { Keymap } from './keymap.js';
import { buildView, itemsOf, type ListView } from './lists.js';
import { type Effect, type Env, initialState, reduce, selectedItemId, type UiState } from './state.js';
import { syntheticContainers, syntheticImages, syntheticNetworks, syntheticVolumes } from './synthetic.js';
import type { ListPanelId } from './types.js';

const NOW = 1_700_100_000_000;

function makeEnv(state: UiState, n = 30, overrides: Partial<Env> = {}): Env {
  const data = {
    containers: syntheticContainers(n),
    images: syntheticImages(5),
    volumes: syntheticVolumes(4),
    networks: syntheticNetworks(3),
  };
  const views = Object.fromEntries(
    (['containers', 'images', 'volumes', 'networks'] as const).map((p) => [
      p,
      buildView(p, itemsOf(p, data, NOW), {
        filter: state.filter[p],
        sort: state.sort[p],
        hideStopped: p === 'containers' && state.hideStopped,
      }),
    ]),
  ) as Record<ListPanelId, ListView>;
  return {
    keymap: new Keymap(defaultConfig().bindings),
    views,
    mainLines: 100,
    matchLines: () => [],
    containerState: (id) => data.containers.find((c) => c.Id === id)?.State,
    layout: computeLayout(120, 30, state.panel),
    confirm: defaultConfig().confirm,
    ...overrides,
  };
}

/** Feeds keys the way Ink delivers them (a string may hold several). */
function press(
  state: UiState,
  inputs: readonly (string | InputEvent)[],
  n = 30,
): { state: UiState; effects: Effect[] } {
  let s = state;
  const effects: Effect[] = [];
  for (const input of inputs) {
    const events = typeof input === 'string' ? normalizeInput(input, {}) : [input];
    for (const ev of events) {
      const r = reduce(s, ev, makeEnv(s, n));
      s = r.state;
      effects.push(...r.effects);
    }
  }
  return { state: s, effects };
}

const key = (name: string): InputEvent => ({ type: 'key', key: name, text: '' });
const selectedName = (s: UiState, n = 30) => {
  const env = makeEnv(s, n);
  const id = selectedItemId(s, 'containers', env.views.containers);
  return env.views.containers.items.find((i) => i.id === id)?.cells[1];
};

test('j/k and arrows move the selection; a run of keys in one input moves once per key', (t) => {
  const start = initialState();
  const first = selectedName(start) ?? '';
  const { state } = press(start, ['jjj']);
  const env = makeEnv(state);
  t.is(env.views.containers.items[3]?.cells[1], selectedName(state) ?? '');
  t.not(selectedName(state), first);
  const back = press(state, ['k', key('up'), key('up'), key('up'), key('up')]).state;
  t.is(selectedName(back), first, 'clamped at the top');
  const bottom = press(start, ['G']).state;
  t.is(selectedName(bottom), makeEnv(bottom).views.containers.items.at(-1)?.cells[1]);
});

test('the list window follows the cursor (windowing)', (t) => {
  const { state } = press(initialState(), [...'j'.repeat(40)], 200);
  const bodyHeight = computeLayout(120, 30, 'containers').bodyHeight;
  t.true(state.scrollTop.containers > 0);
  t.true(state.scrollTop.containers <= 40 && 40 < state.scrollTop.containers + bodyHeight);
});

test('filter typed back to back (no render in between) narrows the list; esc clears it', (t) => {
  const { state } = press(initialState(), ['/', 'ctr-0007']);
  t.is(state.filter.containers, 'ctr-0007');
  t.deepEqual(state.mode, { kind: 'filter', text: 'ctr-0007' });
  const env = makeEnv(state);
  t.is(env.views.containers.items.length, 1);
  const entered = press(state, [key('enter')]).state;
  t.is(entered.mode.kind, 'normal');
  t.is(entered.filter.containers, 'ctr-0007');
  const typed = press(state, [key('backspace'), key('backspace')]).state;
  t.is(typed.filter.containers, 'ctr-00');
  const cleared = press(state, [key('esc')]).state;
  t.is(cleared.filter.containers, '');
});

test('stop asks for confirmation; y runs it, anything else cancels', (t) => {
  const s0 = press(initialState(), ['/', 'ctr-0002', key('enter')]).state;
  const asked = press(s0, ['s']);
  t.is(asked.effects.length, 0);
  t.is(asked.state.mode.kind, 'confirm');
  t.regex(asked.state.mode.kind === 'confirm' ? asked.state.mode.message : '', /^stop ctr-0002\?$/);
  const yes = press(asked.state, ['y']);
  t.is(yes.effects.length, 1);
  t.like(yes.effects[0], { type: 'action', action: 'stop', panel: 'containers' });
  t.is(yes.state.mode.kind, 'normal');
  const no = press(asked.state, ['n']);
  t.deepEqual(no.effects, []);
  t.is(no.state.message?.text, 'cancelled');
  // start is not confirmed by default.
  t.like(press(s0, ['S']).effects[0], { type: 'action', action: 'start' });
});

test('space marks items; actions then apply to all marked items', (t) => {
  const { state } = press(initialState(), [key('space'), key('space'), 'j', key('space')]);
  t.is(state.marks.containers.length, 3);
  const r = press(state, ['s', 'y']);
  t.is(r.effects.length, 1);
  const effect = r.effects[0];
  t.deepEqual(effect?.type === 'action' ? [...effect.ids].sort() : [], [...state.marks.containers].sort());
  const unmarked = press(state, [key('ctrl+\\')]).state;
  t.is(unmarked.marks.containers.length, 0);
});

test('pause on a paused container unpauses it; remove of a running one says forced', (t) => {
  const paused = press(initialState(), ['/', 'ctr-0003', key('enter'), 'p']); // index 3 is paused
  t.like(paused.effects[0], { type: 'action', action: 'unpause' });
  const running = press(initialState(), ['/', 'ctr-0000', key('enter'), 'd']).state;
  t.regex(running.mode.kind === 'confirm' ? running.mode.message : '', /remove ctr-0000 \(forced: it is running\)\?/);
});

test('prune confirms per panel; exec only for a running container', (t) => {
  const images = press(initialState(), ['2', 'P']).state;
  t.is(images.panel, 'images');
  t.regex(images.mode.kind === 'confirm' ? images.mode.message : '', /Prune all dangling images/);
  t.like(press(images, ['y']).effects[0], { type: 'action', action: 'prune', panel: 'images', ids: [] });
  t.deepEqual(press(initialState(), ['/', 'ctr-0000', key('enter'), 'E']).effects, [
    {
      type: 'exec',
      id: makeEnv(initialState()).views.containers.items.find((i) => i.cells[1] === 'ctr-0000')?.id ?? '',
    },
  ]);
  const exited = press(initialState(), ['/', 'ctr-0001', key('enter'), 'E']);
  t.deepEqual(exited.effects, []);
  t.is(exited.state.message?.text, 'container is not running');
});

test('panels, tabs, sort, hide stopped and quit', (t) => {
  let s = press(initialState(), [']']).state;
  t.is(s.tab.containers, 'stats');
  s = press(s, ['[', '[']).state;
  t.is(s.tab.containers, 'top');
  s = press(s, [key('tab'), key('tab')]).state;
  t.is(s.panel, 'volumes');
  s = press(s, ['6']).state;
  t.is(s.panel, 'engine');
  t.is(s.focus, 'main');
  s = press(s, ['1', 'o', 'o']).state;
  t.deepEqual(s.sort.containers, { column: 'name', reverse: false });
  s = press(s, ['O']).state;
  t.true(s.sort.containers.reverse);
  s = press(s, ['e']).state;
  t.true(s.hideStopped);
  t.true(makeEnv(s).views.containers.items.every((i) => i.running));
  t.deepEqual(press(s, ['q']).effects, [{ type: 'quit' }]);
  const full = press(s, ['+']).state;
  t.true(full.fullscreen);
  t.is(full.focus, 'main');
  t.is(computeLayout(120, 30, 'containers', full.fullscreen).listWidth, 0);
  t.false(press(full, ['+']).state.fullscreen);
  const copy = press(s, ['M']);
  t.deepEqual(copy.effects, [{ type: 'mouse', on: false }]);
  t.regex(copy.state.message?.text ?? '', /select text/);
  t.deepEqual(press(copy.state, ['M']).effects, [{ type: 'mouse', on: true }]);
  t.deepEqual(press(s, [key('ctrl+c')]).effects, [{ type: 'quit' }]);
});

test('command palette: panels, filter, sort, host, actions, errors', (t) => {
  const run = (line: string) => press(initialState(), [':', ...line, key('enter')]);
  t.is(run('images').state.panel, 'images');
  t.is(run('filter app1').state.filter.containers, 'app1');
  t.deepEqual(run('sort created desc').state.sort.containers, { column: 'created', reverse: true });
  t.regex(run('sort bogus').state.message?.text ?? '', /unknown column "bogus"/);
  t.deepEqual(run('host tcp://127.0.0.1:2375').effects, [{ type: 'host', target: 'tcp://127.0.0.1:2375' }]);
  t.regex(run('host').state.message?.text ?? '', /needs an endpoint/);
  t.is(run('stop').state.mode.kind, 'confirm');
  t.regex(run('frobnicate').state.message?.text ?? '', /unknown command "frobnicate"/);
  t.deepEqual(run('quit').effects, [{ type: 'quit' }]);
  t.deepEqual(run('pull busybox:1.36').effects, [{ type: 'pull', ref: 'busybox:1.36' }]);
  t.regex(run('pull').state.message?.text ?? '', /needs an image reference/);
  // Tab completes a unique prefix.
  const completed = press(initialState(), [':', 'vol', key('tab')]).state;
  t.deepEqual(completed.mode, { kind: 'palette', text: 'volumes ' });
});

test('logs: enter focuses the main panel, / searches, n/N jump between matches, t/w toggle', (t) => {
  let s = press(initialState(), [key('enter')]).state;
  t.is(s.focus, 'main');
  const env = (st: UiState) => makeEnv(st, 30, { mainLines: 200, matchLines: () => [10, 50, 150] });
  const step = (st: UiState, ev: InputEvent | string) => {
    let cur = st;
    for (const e of typeof ev === 'string' ? normalizeInput(ev, {}) : [ev]) cur = reduce(cur, e, env(cur)).state;
    return cur;
  };
  s = step(s, 'g');
  t.is(s.mainScroll, 0);
  s = step(s, '/');
  t.is(s.mode.kind, 'search');
  s = step(step(s, 'err'), key('enter'));
  t.is(s.logs.search, 'err');
  t.is(s.mainScroll, 10);
  s = step(s, 'n');
  t.is(s.mainScroll, 50);
  s = step(s, 'n');
  t.is(s.mainScroll, 150);
  s = step(s, 'n');
  t.is(s.mainScroll, 10, 'wraps around');
  s = step(s, 'N');
  t.is(s.mainScroll, 150);
  s = step(step(s, 't'), 'w');
  t.true(s.logs.timestamps);
  t.true(s.logs.wrap);
  s = step(s, 'G');
  t.is(s.mainScroll, 'end', 'G follows again');
  s = step(s, key('esc'));
  t.is(s.focus, 'list');
});

test('mouse: click selects a row and switches panels/tabs, wheel scrolls', (t) => {
  const layout = computeLayout(120, 30, 'containers');
  const click = (x: number, y: number): InputEvent => ({ type: 'mouse', mouse: { kind: 'press', button: 0, x, y } });
  // Row 4 on screen = third list line (no compose groups here).
  let s = press(initialState(), [click(5, layout.bodyTop + 2)]).state;
  t.is(selectedName(s), makeEnv(s).views.containers.items[2]?.cells[1]);
  s = press(s, [{ type: 'mouse', mouse: { kind: 'wheelDown', button: 1, x: 5, y: 10 } }]).state;
  t.is(selectedName(s), makeEnv(s).views.containers.items[5]?.cells[1]);
  const stats = layout.tabTitles.find((tt) => tt.tab === 'stats');
  s = press(s, [click(stats?.x0 ?? 0, layout.tabRow)]).state;
  t.is(s.tab.containers, 'stats');
  t.is(s.panel, 'containers', 'a tab click does not switch panel');
  const images = layout.panelTitles.find((p) => p.panel === 'images');
  s = press(s, [click(images?.x0 ?? 0, layout.panelRow)]).state;
  t.is(s.panel, 'images');
});
