import { PassThrough } from 'node:stream';
import test from 'ava';
import { parseConfig } from './config.js';
import { normalizeInput } from './input.js';
import { MouseFilter, TerminalInput } from './terminal-input.js';
import { applyOverrides, DEFAULT_BINDINGS, Keymap, KeymapError, normalizeKeyName, scopesFor } from './keymap.js';

test('lazydocker default keys resolve in their scopes, specific scope first', (t) => {
  const km = new Keymap(DEFAULT_BINDINGS);
  const containers = scopesFor('list', 'containers', 'logs');
  t.is(km.resolve('s', containers), 'stop');
  t.is(km.resolve('S', containers), 'start');
  t.is(km.resolve('r', containers), 'restart');
  t.is(km.resolve('p', containers), 'pause');
  t.is(km.resolve('d', containers), 'remove');
  t.is(km.resolve('E', containers), 'exec');
  t.is(km.resolve('[', containers), 'prevTab');
  t.is(km.resolve(']', containers), 'nextTab');
  t.is(km.resolve('/', containers), 'filter');
  // `s` is not stop on the images panel, `/` searches in the logs tab.
  t.is(km.resolve('s', scopesFor('list', 'images', 'inspect')), undefined);
  t.is(km.resolve('/', scopesFor('main', 'containers', 'logs')), 'search');
  t.is(km.resolve('j', scopesFor('main', 'containers', 'logs')), 'down');
  t.is(km.resolve('q', scopesFor('main', 'events', '')), 'quit');
});

test('help is generated from the table: every binding appears once with its keys', (t) => {
  const km = new Keymap(DEFAULT_BINDINGS);
  const help = km.helpLines().join('\n');
  for (const b of DEFAULT_BINDINGS) t.true(help.includes(b.description), b.description);
  t.regex(help, /^Containers$/m);
  t.regex(help, /s\s+stop/);
});

test('key names are normalised and bad ones rejected', (t) => {
  t.is(normalizeKeyName('Escape'), 'esc');
  t.is(normalizeKeyName('CTRL+C'), 'ctrl+c');
  t.is(normalizeKeyName('PgDown'), 'pagedown');
  t.is(normalizeKeyName(' '), 'space');
  t.is(normalizeKeyName('G'), 'G');
  t.throws(() => normalizeKeyName('hyper+x'), { instanceOf: KeymapError });
  t.throws(() => normalizeKeyName('shift+a'), { message: /capital letter/ });
  t.throws(() => normalizeKeyName(''), { instanceOf: KeymapError });
  t.throws(() => applyOverrides(DEFAULT_BINDINGS, { nope: 'x' }), { message: /unknown action "nope"/ });
});

test('overrides from ui.yml replace the keys of an action and show in help', (t) => {
  const cfg = parseConfig('keybindings:\n  stop: [x, ctrl+s]\n  quit: Q\n');
  const km = new Keymap(cfg.bindings);
  const scopes = scopesFor('list', 'containers', 'logs');
  t.is(km.resolve('ctrl+s', scopes), 'stop');
  t.is(km.resolve('s', scopes), undefined);
  t.is(km.resolve('Q', scopes), 'quit');
  t.is(km.resolve('q', scopes), undefined);
  t.regex(km.helpLines().join('\n'), /x, ctrl\+s\s+stop/);
});

test('input: runs of characters are split, named keys and mouse reports decoded', (t) => {
  t.deepEqual(
    normalizeInput('jjk', {}).map((e) => (e.type === 'key' ? e.key : 'mouse')),
    ['j', 'j', 'k'],
  );
  t.deepEqual(normalizeInput('', { upArrow: true }), [{ type: 'key', key: 'up', text: '' }]);
  t.deepEqual(normalizeInput('', { tab: true, shift: true }), [{ type: 'key', key: 'shift+tab', text: '' }]);
  t.deepEqual(normalizeInput('c', { ctrl: true }), [{ type: 'key', key: 'ctrl+c', text: '' }]);
  t.deepEqual(normalizeInput(' ', {}), [{ type: 'key', key: 'space', text: ' ' }]);
  const mouse = normalizeInput('[<0;12;4M[<65;3;9M', {});
  t.deepEqual(mouse, [
    { type: 'mouse', mouse: { kind: 'press', button: 0, x: 12, y: 4 } },
    { type: 'mouse', mouse: { kind: 'wheelDown', button: 1, x: 3, y: 9 } },
  ]);
  // A mouse report is never taken for `[` (previous tab) and the keys around it survive.
  const mixed = normalizeInput('\x1b[<64;1;1Mj', {});
  t.is(mixed.length, 2);
  t.like(mixed[0], { type: 'mouse', mouse: { kind: 'wheelUp' } });
  t.like(mixed[1], { type: 'key', key: 'j' });
});

test('ui.yml: colours, mouse, confirm, logs and endpoints; bad values name the key', (t) => {
  const cfg = parseConfig(
    [
      'colors:',
      '  accent: magenta',
      '  selected: "#336699"',
      'mouse: false',
      'confirm: [remove]',
      'logs: { timestamps: true }',
      'endpoints:',
      '  - { name: prod, host: "tcp://10.0.0.1:2376" }',
    ].join('\n'),
  );
  t.is(cfg.colors.accent, 'magenta');
  t.is(cfg.colors.selected, '#336699');
  t.is(cfg.colors.error, 'red');
  t.false(cfg.mouse);
  t.deepEqual([...cfg.confirm], ['remove']);
  t.true(cfg.logs.timestamps);
  t.false(cfg.logs.wrap);
  t.deepEqual(cfg.endpoints, [{ name: 'prod', host: 'tcp://10.0.0.1:2376' }]);
  // Empty file and empty keys keep the defaults (lazydocker's empty key wiped them).
  t.is(parseConfig('').bindings.length, DEFAULT_BINDINGS.length);
  t.is(parseConfig('keybindings:\ncolors:\n').colors.accent, 'cyan');

  const bad: [string, RegExp][] = [
    ['colors: { accent: blurple }', /colors\.accent: "blurple" is not a colour/],
    ['colors: { nope: red }', /unknown colour "nope"/],
    ['mouse: yes please', /mouse must be true or false/],
    ['confirm: [explode]', /confirm: unknown action "explode"/],
    ['logs: { tail: 5 }', /logs: unknown key "tail"/],
    ['endpoints: [{ name: x }]', /endpoints\[0\] needs a name and a host/],
    ['keybindings: { stop: [] }', /keybindings\.stop must be a key/],
    ['keybindings: { stop: "hyper+q" }', /unknown key "hyper\+q"/],
    ['whatever: 1', /unknown key "whatever"/],
    ['- a list', /must be a mapping/],
    ['a: [unclosed', /invalid YAML/],
  ];
  for (const [text, message] of bad) t.throws(() => parseConfig(text, 'ui.yml'), { message }, text);
});

test('terminal input: mouse reports are taken out before Ink, split reports wait for their end', (t) => {
  const f = new MouseFilter();
  t.deepEqual(f.push('j\x1b[<0;12;4Mk'), { rest: 'jk', mouse: [{ kind: 'press', button: 0, x: 12, y: 4 }] });
  t.deepEqual(f.push('a\x1b[<65;3'), { rest: 'a', mouse: [] });
  t.deepEqual(f.push(';9M'), { rest: '', mouse: [{ kind: 'wheelDown', button: 1, x: 3, y: 9 }] });
  // A lone ESC (the Escape key) and other sequences pass through untouched.
  t.deepEqual(f.push('\x1b'), { rest: '\x1b', mouse: [] });
  t.deepEqual(f.push('\x1b[A'), { rest: '\x1b[A', mouse: [] });
});

test('terminal input: feeds Ink, reports mouse, and diverts everything to an exec session', async (t) => {
  const real = new PassThrough() as PassThrough & { setRawMode?: (raw: boolean) => void };
  const raw: boolean[] = [];
  real.setRawMode = (r) => void raw.push(r);
  const input = new TerminalInput(real);
  const mouse: string[] = [];
  input.onMouse((m) => mouse.push(`${m.kind}@${m.x},${m.y}`));
  const toInk: string[] = [];
  input.inkStdin.on('data', (d: Buffer) => toInk.push(d.toString()));
  real.write('q\x1b[<0;1;2M');
  await new Promise((r) => setImmediate(r));
  t.deepEqual(toInk, ['q']);
  t.deepEqual(mouse, ['press@1,2']);
  const diverted: string[] = [];
  input.divert((c) => diverted.push(c.toString()));
  real.write('ls\r');
  await new Promise((r) => setImmediate(r));
  t.deepEqual(diverted, ['ls\r']);
  t.deepEqual(toInk, ['q'], 'Ink saw nothing while diverted');
  input.divert(undefined);
  input.inkStdin.setRawMode(true);
  t.deepEqual(raw, [true]);
  input.close();
});

test('the ui.yml example documented in config.ts parses', (t) => {
  const cfg = parseConfig(
    [
      'keybindings:',
      '  stop: [s, ctrl+s]',
      '  quit: Q',
      'colors: { accent: magenta, selected: "#3366cc" }',
      'mouse: true',
      'confirm: [stop, restart, kill, remove, prune]',
      'logs: { timestamps: false, wrap: false }',
      'endpoints:',
      '  - { name: prod, host: "tcp://10.0.0.5:2376" }',
    ].join('\n'),
  );
  t.is(new Keymap(cfg.bindings).resolve('ctrl+s', scopesFor('list', 'containers', 'logs')), 'stop');
  t.is(cfg.endpoints[0]?.name, 'prod');
});
