import test from 'ava';
import { render } from 'ink-testing-library';
import { App, type EffectOutcome } from './App.js';
import { defaultConfig } from './config.js';
import { DetailStore } from './detail-store.js';
import { EngineStore } from './engine-store.js';
import type { Effect } from './state.js';
import { syntheticContainers, syntheticImages, syntheticNetworks, syntheticVolumes } from './synthetic.js';

const NOW = 1_700_100_000_000;
// Two yields let React flush effects between writes (Shopify CLI's testing helpers do the same).
const tick = () => new Promise((r) => setImmediate(() => setTimeout(r, 0)));

async function type(stdin: { write(s: string): void }, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    stdin.write(k);
    await tick();
  }
  await tick();
}

function setup(n: number, opts: { projects?: number; rows?: number } = {}) {
  const engine = new EngineStore(() => {
    throw new Error('no daemon in unit tests');
  }, 'unix:///test.sock');
  engine.update({
    status: 'connected',
    containers: syntheticContainers(n, { projects: opts.projects }),
    images: syntheticImages(3),
    volumes: syntheticVolumes(2),
    networks: syntheticNetworks(2),
  });
  const detail = new DetailStore();
  const effects: Effect[] = [];
  const runEffect = async (effect: Effect, nameOf: (id: string) => string): Promise<EffectOutcome> => {
    effects.push(effect);
    return {
      text: `did ${effect.type === 'action' ? `${effect.action} ${effect.ids.map(nameOf).join(',')}` : effect.type}`,
      error: false,
    };
  };
  const size = { columns: 120, rows: opts.rows ?? 20 };
  const ui = render(
    <App engine={engine} detail={detail} config={defaultConfig()} runEffect={runEffect} size={size} now={() => NOW} />,
  );
  return { ui, engine, effects, size };
}

const frame = (ui: { lastFrame(): string | undefined }) => ui.lastFrame() ?? '';

test('renders only the visible rows of 1,000 containers', async (t) => {
  const { ui, size } = setup(1000);
  await tick();
  const lines = frame(ui).split('\n');
  t.true(lines.length <= size.rows, `frame has ${lines.length} lines`);
  const rows = lines.filter((l) => /ctr-\d{4}/.test(l));
  t.is(rows.length, size.rows - 4);
  t.regex(lines[0] ?? '', /1 Containers.*2 Images.*6 Engine.*unix:\/\/\/test\.sock/);
  ui.unmount();
});

test('key flow: move, filter, stop with confirmation, help', async (t) => {
  const { ui, effects } = setup(50);
  await tick();
  await type(ui.stdin, 'j', 'j');
  // The third row is selected: an action names it.
  const third = /ctr-\d{4}/.exec(frame(ui).split('\n')[4] ?? '')?.[0] ?? 'none';
  await type(ui.stdin, 's');
  t.regex(frame(ui), new RegExp(`stop ${third}\\? \\[y/N\\]`));
  await type(ui.stdin, 'n');
  t.regex(frame(ui), /cancelled/);

  await type(ui.stdin, '/', 'c', 't', 'r', '-', '0', '0', '4', '2');
  t.regex(frame(ui), /filter: ctr-0042/);
  const rows = frame(ui)
    .split('\n')
    .filter((l) => /(running|exited|paused|created)\s+ctr-\d{4}/.test(l));
  t.is(rows.length, 1);
  await type(ui.stdin, '\r');
  t.regex(frame(ui), /\[filter: ctr-0042\]/);

  await type(ui.stdin, 's');
  t.regex(frame(ui), /stop ctr-0042\? \[y\/N\]/);
  t.is(effects.length, 0);
  await type(ui.stdin, 'y');
  t.is(effects.length, 1, JSON.stringify(effects));
  t.like(effects[0], { type: 'action', action: 'stop' });
  t.regex(frame(ui), /did stop ctr-0042/);

  await type(ui.stdin, '?');
  t.regex(frame(ui), /q, ctrl\+c\s+quit/);
  t.regex(frame(ui), /\?, x\s+show this help/);
  t.regex(frame(ui), /j, down\s+next item/, 'a second column');
  await type(ui.stdin, ...'j'.repeat(30));
  t.regex(frame(ui), /s\s+stop/, 'scrolled to the containers section');
  await type(ui.stdin, '\x1b');
  t.notRegex(frame(ui), /show this help/);
  ui.unmount();
});

test('compose projects are shown as groups; an event-driven update re-renders the row', async (t) => {
  const { ui, engine } = setup(9, { projects: 2 });
  await tick();
  t.regex(frame(ui), /\+ project proj0/);
  t.regex(frame(ui), /\+ standalone/);
  const containers = engine
    .getSnapshot()
    .containers.map((c) =>
      c.Names[0] === '/ctr-0000' ? { ...c, State: 'exited', Status: 'Exited (137) 1 second ago' } : c,
    );
  engine.update({ containers });
  await tick();
  t.regex(
    frame(ui)
      .split('\n')
      .find((l) => l.includes('ctr-0000')) ?? '',
    /exited/,
  );
  ui.unmount();
});

test('+ gives the main panel the whole width; + again brings the list back', async (t) => {
  const { ui } = setup(5);
  await tick();
  t.regex(frame(ui), /running\s+ctr-0000/);
  await type(ui.stdin, '+');
  t.notRegex(frame(ui), /ctr-0000/);
  t.regex(frame(ui).split('\n')[1] ?? '', /^ Logs {2}Stats/);
  await type(ui.stdin, '+');
  t.regex(frame(ui), /running\s+ctr-0000/);
  ui.unmount();
});

test('engine down: a clear message on the list and status line', async (t) => {
  const { ui, engine } = setup(0);
  engine.update({
    status: 'down',
    error: 'Cannot connect to the skiff daemon at unix:///x. Is the skiff daemon running?',
  });
  await tick();
  t.regex(frame(ui), /cannot reach the engine — retrying/);
  t.regex(frame(ui), /engine unreachable: Cannot connect/);
  ui.unmount();
});

test('events and engine panels', async (t) => {
  const { ui, engine } = setup(3, { rows: 40 });
  engine.update({
    events: [
      { Type: 'container', Action: 'start', Actor: { ID: 'x', Attributes: { name: 'web' } }, time: 1_700_000_000 },
    ],
    version: { Version: '0.1.0', ApiVersion: '1.41', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' },
    info: { Name: 'host1', Driver: 'overlay', Runtimes: { runc: {} }, DefaultRuntime: 'runc' },
    plugins: [
      {
        Package: '@skiff/net-bridge',
        Kind: 'network',
        Name: 'bridge',
        Version: '0.1.0',
        State: 'loaded',
        Reason: '',
        Capabilities: { dns: true },
      },
    ],
  });
  await type(ui.stdin, '5');
  t.regex(frame(ui), /container start\s+web/);
  await type(ui.stdin, '6');
  t.regex(frame(ui), /API version:\s+1\.41/);
  t.regex(frame(ui), /Storage:\s+overlay/);
  t.regex(frame(ui), /network\/bridge.*loaded.*@skiff\/net-bridge/);
  t.regex(frame(ui), /dns=true/);
  ui.unmount();
});
