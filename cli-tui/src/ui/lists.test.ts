import test from 'ava';
import { syntheticContainers, syntheticImages } from './synthetic.js';
import { buildView, filterItems, fit, formatRow, itemsOf, nextSortColumn, sortItems, windowStart } from './lists.js';

const NOW = 1_700_100_000_000;
const data = (n: number, projects = 0) => ({
  containers: syntheticContainers(n, { projects }),
  images: syntheticImages(3),
  volumes: [],
  networks: [],
});

test('filter: case-insensitive, every word must match some cell', (t) => {
  const items = itemsOf('containers', data(20), NOW);
  t.is(filterItems(items, 'CTR-0007').length, 1);
  t.is(
    filterItems(items, 'app1 running').length,
    filterItems(items, 'app1').filter((i) => i.running && i.cells[0]?.includes('running')).length,
  );
  t.is(filterItems(items, 'nosuchthing').length, 0);
  t.is(filterItems(items, '   ').length, 20);
});

test('default container order: running first, then by name; sort by column and reverse', (t) => {
  const items = itemsOf('containers', data(10), NOW);
  const sorted = sortItems('containers', items, { column: '', reverse: false });
  const states = sorted.map((i) => i.cells[0]);
  t.deepEqual(states.slice(0, 4), ['running', 'running', 'running', 'running']);
  const runningNames = sorted.filter((i) => i.cells[0] === 'running').map((i) => i.cells[1]);
  t.deepEqual(runningNames, [...runningNames].sort());
  const byName = sortItems('containers', items, { column: 'name', reverse: true });
  t.is(byName[0]?.cells[1], 'ctr-0009');
  const bySize = sortItems('images', itemsOf('images', data(0), NOW), { column: 'size', reverse: true });
  t.is(bySize[0]?.cells[0], 'registry.local/img2:latest');
});

test('sort column cycle goes through every column and back to the default', (t) => {
  const seen: string[] = [];
  let c = '';
  for (let i = 0; i < 7; i++) {
    c = nextSortColumn('containers', c);
    seen.push(c);
  }
  t.deepEqual(seen, ['state', 'name', 'status', 'image', 'ports', 'created', '']);
});

test('containers are grouped by compose project, projects first, standalone last', (t) => {
  const view = buildView('containers', itemsOf('containers', data(12, 2), NOW), {
    filter: '',
    sort: { column: '', reverse: false },
  });
  const headers = view.lines.filter((l) => l.kind === 'header').map((l) => (l.kind === 'header' ? l.group : ''));
  t.deepEqual(headers, ['proj0', 'proj1', '']);
  t.is(view.items.length, 12);
  // Display order of items follows the lines.
  const itemLines = view.lines.filter((l) => l.kind === 'item');
  t.deepEqual(
    itemLines.map((l) => (l.kind === 'item' ? l.index : -1)),
    view.items.map((_, i) => i),
  );
  const hidden = buildView('containers', itemsOf('containers', data(12, 2), NOW), {
    filter: '',
    sort: { column: '', reverse: false },
    hideStopped: true,
  });
  t.true(hidden.items.every((i) => i.running));
  t.true(hidden.items.length < 12);
});

test('windowStart keeps the cursor visible and moves the window as little as possible', (t) => {
  t.is(windowStart(0, 0, 10, 5), 0);
  t.is(windowStart(5, 0, 10, 100), 0);
  t.is(windowStart(10, 0, 10, 100), 1);
  t.is(windowStart(50, 45, 10, 100), 45);
  t.is(windowStart(3, 45, 10, 100), 3);
  t.is(windowStart(99, 0, 10, 100), 90);
  t.is(windowStart(5, 200, 10, 100), 5);
});

test('fit and formatRow produce exact widths', (t) => {
  t.is(fit('abc', 5), 'abc  ');
  t.is(fit('abcdef', 4), 'abc~');
  t.is(fit('abc', 0), '');
  const row = formatRow(['a', 'bbbbbbbbbb', 'rest of it'], [3, 5, 0], 20);
  t.is(row.length, 20);
  t.is(row, 'a    bbbb~  rest of~');
});
