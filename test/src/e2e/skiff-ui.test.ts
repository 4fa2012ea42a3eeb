import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {
  api,
  type BusyboxRegistry,
  type Daemon,
  DockerdPeerStartError,
  docker,
  dockerdPeerBinary,
  pullIntoPeer,
  pushImage,
  registryWithBusybox,
  skiff,
  skiffBin,
  startDaemon,
  startDockerdPeer,
} from '../harness/index.js';
import { spawnPty } from '../harness/pty-screen.js';

// `skiff ui` as a user runs it: the real binary in a pseudo-terminal against a real skiffd with
// running containers, driven by keys, its screen read through a VT parser.

const uid = () => randomBytes(4).toString('hex');
let daemon: Daemon | undefined;
let reg: BusyboxRegistry | undefined;

test.before(async () => {
  reg = await registryWithBusybox();
  daemon = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
});
test.after.always(async () => {
  await daemon?.stop();
  await reg?.stop();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function typeKeys(screen: ReturnType<typeof spawnPty>, keys: readonly string[]): Promise<void> {
  // One key per write: a run of keys arriving in one read is one input for Ink.
  for (const k of keys) {
    screen.write(k);
    await pause(80);
  }
}

async function state(host: string, name: string): Promise<string> {
  const r = await api(host, 'GET', `/v1.41/containers/${name}/json`);
  return (r.json as { State: { Status: string } }).State.Status;
}

test('skiff ui: list, outside stop, logs follow, tabs, mouse, exec, stop with confirm, events, pull, q restores', async (t) => {
  const d = daemon as Daemon;
  const image = (reg as BusyboxRegistry).image;
  const host = d.dockerHost;
  const id = uid();
  const project = `proj${id}`;
  const ticker = `ui-tick-${id}`;
  const victim = `ui-victim-${id}`;
  const outside = `ui-outside-${id}`;
  const names = [ticker, victim, outside];
  t.teardown(() => docker(['rm', '-f', ...names], { host }).then(() => undefined));
  t.teardown(() =>
    docker(['rmi', `${(reg as BusyboxRegistry).host}/busybox:ui-${id}`], { host }).then(() => undefined),
  );
  const loop = 'trap "exit 0" TERM; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.5; done';
  for (const [name, labels] of [
    // -t: its log stream is raw, not stdcopy-framed.
    [ticker, ['-t', '--label', `com.docker.compose.project=${project}`, '--label', 'com.docker.compose.service=web']],
    [victim, ['--label', `com.docker.compose.project=${project}`]],
    [outside, []],
  ] as const) {
    const r = await docker(['run', '-d', '--name', name, ...labels, image, 'sh', '-c', loop], { host });
    t.is(r.code, 0, r.stderr);
  }

  const screen = spawnPty([skiffBin, 'ui'], {
    cols: 160,
    rows: 40,
    env: { SKIFF_HOST: host, CI: 'false', SKIFF_UI_CONFIG: '/nonexistent/ui.yml' },
  });
  t.teardown(() => screen.kill());
  try {
    // The list with the compose project group and all three containers.
    await screen.waitFor((s) => names.every((n) => s.includes(n)) && s.includes(`project ${project}`), 60_000);
    t.true(screen.alternate(), 'the dashboard runs in the alternate screen');
    await pause(300);

    // Stopped from outside: the events stream refreshes the row.
    const stopped = await docker(['stop', '-t', '1', outside], { host });
    t.is(stopped.code, 0, stopped.stderr);
    await screen.waitFor((s) => /exited/.test(s.split('\n').find((l) => l.includes(outside)) ?? ''), 30_000);

    // Filter to the ticker: selected, logs tab follows its output.
    await typeKeys(screen, ['/', ...ticker, '\r']);
    await screen.waitFor((s) => s.includes(`filter: ${ticker}`) || s.includes(`[filter: ${ticker}]`));
    await screen.waitFor(/tick\d+/, 30_000);
    const firstTick = Math.max(...[...screen.text().matchAll(/tick(\d+)/g)].map((m) => Number(m[1])));
    await screen.waitFor((s) => [...s.matchAll(/tick(\d+)/g)].some((m) => Number(m[1]) > firstTick + 1), 30_000);
    t.true(
      screen.inverseRows().some((r) => r.includes(ticker)),
      `the ticker row is selected:\n${screen.text()}`,
    );

    // The other tabs of the selected container: stats from its stream, env, inspect, top.
    await typeKeys(screen, [']']);
    await screen.waitFor(/CPU\s+\d+\.\d\d%/, 30_000);
    await screen.waitFor(/PIDs \d+/, 30_000);
    await typeKeys(screen, [']']);
    await screen.waitFor(/PATH=\/usr\/local\/sbin/);
    await typeKeys(screen, [']']);
    await screen.waitFor(new RegExp(`"Name": "/${ticker}"`));
    await typeKeys(screen, [']']);
    await screen.waitFor(/PID\s+USER|UID\s+PID/, 30_000);
    // A mouse click on the Logs tab title (SGR report) goes back to the logs.
    const tabRow = screen.lines()[1] ?? '';
    const logsX = tabRow.indexOf(' Logs ') + 2;
    t.true(logsX > 1, tabRow);
    screen.write(`\x1b[<0;${logsX};2M\x1b[<0;${logsX};2m`);
    await screen.waitFor(/tick\d+/, 30_000);

    // E: a shell in the container on the real terminal, then back to the dashboard.
    await typeKeys(screen, ['E']);
    await screen.waitFor((s) => !screen.alternate() && /#\s*$/m.test(s), 30_000);
    await typeKeys(screen, [...'echo shell-$((6*7))', '\r']);
    await screen.waitFor(/shell-42/);
    await typeKeys(screen, [...'exit', '\r']);
    await screen.waitFor((s) => screen.alternate() && s.includes('1 Containers') && s.includes(ticker), 30_000);
    await pause(300);

    // Clear the filter, select the victim by filter, stop it with the confirmation.
    await typeKeys(screen, ['/', '\x15', ...victim, '\r']);
    await screen.waitFor(
      (s) => s.includes(victim) && !s.split('\n').some((l) => l.includes(ticker) && l.includes('running')),
    );
    await typeKeys(screen, ['s']);
    await screen.waitFor(new RegExp(`stop ${victim}\\?.*\\[y/N\\]`));
    t.is(await state(host, victim), 'running', 'nothing happens before the confirmation');
    await typeKeys(screen, ['y']);
    await screen.waitFor(new RegExp(`stopped ${victim}`), 60_000);
    t.is(await state(host, victim), 'exited');
    await screen.waitFor((s) => /exited/.test(s.split('\n').find((l) => l.includes(victim)) ?? ''), 30_000);

    // The events timeline saw the stop; the engine view shows version and plugins.
    await typeKeys(screen, ['5']);
    await screen.waitFor(new RegExp(`container stop\\s+${victim}`));
    await typeKeys(screen, ['6']);
    await screen.waitFor(/API version:\s+1\.41/);
    await screen.waitFor(/Storage:\s+overlay/);
    await typeKeys(screen, ['1']);

    // :pull with progress, then the image is in the images panel.
    const pulled = `${(reg as BusyboxRegistry).host}/busybox:ui-${id}`;
    await pushImage((reg as BusyboxRegistry).layout, pulled);
    await typeKeys(screen, [':', ...`pull ${pulled}`, '\r']);
    await screen.waitFor(new RegExp(`Downloaded newer image for ${pulled.replace(/[.]/g, '\\.')}`), 60_000);
    await typeKeys(screen, ['2']);
    await screen.waitFor(new RegExp(`busybox:ui-${id}`));
    await typeKeys(screen, ['1']);

    // A cancelled confirmation does nothing.
    await typeKeys(screen, ['/', '\x15', ...ticker, '\r', 's', 'n']);
    await screen.waitFor(/cancelled/);
    t.is(await state(host, ticker), 'running');

    // q quits with status 0 and leaves the alternate screen and mouse reporting.
    await typeKeys(screen, ['q']);
    t.is(await screen.exited, 0, screen.raw().slice(-2000));
    t.false(screen.alternate(), 'the primary screen is back');
    const raw = screen.raw();
    t.true(raw.lastIndexOf('\x1b[?1000l') > raw.lastIndexOf('\x1b[?1000h'), 'mouse reporting turned off');
  } catch (err) {
    t.log(screen.text());
    throw err;
  }
});

test('skiff ui: an unreachable endpoint is reported, recovers when it comes back, :host switches', async (t) => {
  const d = daemon as Daemon;
  const sock = path.join(os.tmpdir(), `skiff-ui-late-${uid()}.sock`);
  const screen = spawnPty([skiffBin, 'ui'], {
    cols: 120,
    rows: 30,
    env: { SKIFF_HOST: `unix://${sock}`, CI: 'false', SKIFF_UI_CONFIG: '/nonexistent/ui.yml' },
  });
  t.teardown(() => screen.kill());
  await screen.waitFor(/engine unreachable: Cannot connect to the skiff daemon/);
  t.regex(screen.text(), /cannot reach the engine — retrying/);

  // The endpoint comes up: a unix socket forwarding to the real daemon.
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((c) => {
    const u = net.connect(d.socket);
    sockets.add(c).add(u);
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(sock, resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => resolve());
      }),
  );
  await screen.waitFor((s) => s.includes(`● unix://${sock}`) && !s.includes('unreachable'), 30_000);
  await typeKeys(screen, ['6']);
  await screen.waitFor(/Connection:\s+connected/);

  // :host switches to another endpoint (the daemon's own socket); a bad one is reported.
  await typeKeys(screen, [':', ...'host ftp://nowhere', '\r']);
  await screen.waitFor(/unsupported protocol "ftp"/);
  await typeKeys(screen, [':', ...`host ${d.dockerHost}`, '\r']);
  await screen.waitFor(new RegExp(`Endpoint:\\s+${d.dockerHost.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`), 30_000);
  await screen.waitFor(/Connection:\s+connected/, 30_000);
  await pause(300);
  await typeKeys(screen, ['q']);
  t.is(await screen.exited, 0);
});

test('skiff ui refuses to run without a terminal, and names a bad ui.yml key', async (t) => {
  const host = (daemon as Daemon).dockerHost;
  const noTty = await skiff(['ui'], { host });
  t.is(noTty.code, 1);
  t.regex(noTty.stderr, /needs an interactive terminal/);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-ui-cfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ui.yml');
  await writeFile(file, 'keybindings:\n  explode: x\n');
  const screen = spawnPty([skiffBin, 'ui'], {
    cols: 100,
    rows: 20,
    env: { SKIFF_HOST: host, CI: 'false', SKIFF_UI_CONFIG: file },
  });
  t.teardown(() => screen.kill());
  t.is(await screen.exited, 1);
  t.regex(screen.raw(), /ui\.yml: keybindings: unknown action "explode"/);
});

const CI = process.env.CI === 'true';
const noDockerd = await dockerdPeerBinary().then(
  () => undefined,
  (e: Error) => e,
);
if (noDockerd && !CI) console.log(`skiff ui against dockerd skipped: ${noDockerd.message}`);

(noDockerd && !CI ? test.skip : test)(
  'skiff ui drives a real dockerd 20.10 too: list, compose group, stop',
  async (t) => {
    const image = (reg as BusyboxRegistry).image;
    const peer = await startDockerdPeer({ insecureRegistries: [(reg as BusyboxRegistry).host] }).catch((e: Error) => {
      throw e instanceof DockerdPeerStartError ? new Error(`the dockerd peer cannot start: ${e.message}`) : e;
    });
    t.teardown(() => peer.stop());
    await pullIntoPeer(peer, image);
    const host = peer.dockerHost;
    const name = `ui-dockerd-${uid()}`;
    const project = `dproj${uid()}`;
    const run = await docker(
      [
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        name,
        '--label',
        `com.docker.compose.project=${project}`,
        image,
        'sleep',
        '600',
      ],
      { host },
    );
    t.is(run.code, 0, run.stderr);

    const screen = spawnPty([skiffBin, 'ui'], {
      cols: 160,
      rows: 40,
      env: { SKIFF_HOST: host, CI: 'false', SKIFF_UI_CONFIG: '/nonexistent/ui.yml' },
    });
    t.teardown(() => screen.kill());
    try {
      await screen.waitFor((s) => s.includes(name) && s.includes(`project ${project}`), 60_000);
      await pause(300);
      await typeKeys(screen, ['/', ...name, '\r', 's']);
      await screen.waitFor(new RegExp(`stop ${name}\\?`));
      await typeKeys(screen, ['y']);
      await screen.waitFor(new RegExp(`stopped ${name}`), 60_000);
      t.is(await state(host, name), 'exited');
      await screen.waitFor((s) => /exited/.test(s.split('\n').find((l) => l.includes(name)) ?? ''), 30_000);
      await typeKeys(screen, ['6']);
      await screen.waitFor(/API version:\s+1\.41/);
      await typeKeys(screen, ['q']);
      t.is(await screen.exited, 0);
    } catch (err) {
      t.log(screen.text());
      throw err;
    }
  },
);
