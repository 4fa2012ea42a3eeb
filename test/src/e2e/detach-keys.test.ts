import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { api, type Daemon, docker, driverDaemons, sleep, socketPathOf, startDaemon } from '../harness/index.js';

// Detach keys as dockerd handles them (moby: container/stream/attach.go copyEscapable, moby/term
// proxy.go): with a TTY, the daemon watches the attach's (or exec's) stdin for the sequence
// (`detachKeys` query, exec's DetachKeys, default ctrl-p,ctrl-q), stops forwarding, closes the
// hijacked connection and leaves the container running. The raw-API tests prove the daemon side
// (no CLI involved); the pty tests drive the docker CLI as a user would.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  return { d, reg, host: d.dockerHost };
}

const uniq = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;

/** Polls `probe` until `done` holds (generous deadline: the machine is shared). */
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

interface Hijacked {
  socket: net.Socket;
  /** Status line and headers of the response. */
  head: Promise<string>;
  /** Everything received after the headers. */
  output(): Buffer;
  /** Resolves when the daemon has closed its side. */
  closed: Promise<void>;
  isClosed(): boolean;
}

/** A hijacked request (`Connection: Upgrade`, `Upgrade: tcp`) over the daemon's socket, as the docker CLI sends it. */
function hijack(host: string, urlPath: string, body?: unknown): Hijacked {
  const socket = net.connect(socketPathOf(host));
  const payload = body === undefined ? '' : JSON.stringify(body);
  socket.write(
    `POST ${urlPath} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
  );
  let raw = Buffer.alloc(0);
  let headEnd = -1;
  let resolveHead!: (h: string) => void;
  const head = new Promise<string>((r) => (resolveHead = r));
  let closedFlag = false;
  socket.on('data', (c: Buffer) => {
    raw = Buffer.concat([raw, c]);
    if (headEnd < 0) {
      headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd >= 0) resolveHead(raw.subarray(0, headEnd).toString('latin1'));
    }
  });
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      closedFlag = true;
      if (headEnd < 0) resolveHead(raw.toString('latin1'));
      resolve();
    };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
  });
  return {
    socket,
    head,
    output: () => (headEnd < 0 ? Buffer.alloc(0) : raw.subarray(headEnd + 4)),
    closed,
    isClosed: () => closedFlag,
  };
}

async function createStarted(host: string, body: Record<string, unknown>): Promise<string> {
  const name = uniq('dk');
  const r = await api(host, 'POST', `/v1.41/containers/create?name=${name}`, {
    HostConfig: { NetworkMode: 'none' },
    ...body,
  });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.body}`);
  const s = await api(host, 'POST', `/v1.41/containers/${name}/start`);
  if (s.status !== 204) throw new Error(`start: ${s.status} ${s.body}`);
  return name;
}

async function running(host: string, name: string): Promise<boolean> {
  const r = await api(host, 'GET', `/v1.41/containers/${name}/json`);
  return (r.json as { State: { Running: boolean } }).State.Running;
}

/** The bytes of a file in the container, as `od` prints them (one token per byte). */
async function bytesOf(host: string, name: string, file: string): Promise<string> {
  const r = await docker(['exec', name, 'sh', '-c', `od -An -c ${file} 2>/dev/null | tr -s ' \\n' ' '`], { host });
  return r.stdout.trim();
}

async function events(host: string, since: number, name: string): Promise<string[]> {
  const r = await docker(
    [
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.ceil(Date.now() / 1000) + 1),
      '--filter',
      `container=${name}`,
      '--format',
      '{{.Action}}',
    ],
    { host },
  );
  return r.stdout.split('\n').filter(Boolean);
}

test('raw attach: the daemon detaches on ?detachKeys=ctrl-x,y; a broken prefix is forwarded', async (t) => {
  const { reg, host } = await setup();
  // A TTY container whose process records every byte it reads (the tty is put in raw mode).
  const name = await createStarted(host, {
    Image: reg.image,
    Tty: true,
    OpenStdin: true,
    Cmd: ['sh', '-c', 'stty raw -echo; exec cat > /tmp/in'],
  });
  t.teardown(() => docker(['rm', '-f', name], { host }).then(() => undefined));
  const since = Math.floor(Date.now() / 1000) - 1;
  const h = hijack(host, `/v1.41/containers/${name}/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,y`);
  t.teardown(() => h.socket.destroy());
  t.regex(await h.head, /^HTTP\/1.1 101 UPGRADED/);
  // Wait for stty to have run before sending (a cooked tty would interpret some bytes).
  await until(
    () => docker(['exec', name, 'sh', '-c', 'stty -a < /proc/1/fd/0'], { host }),
    (r) => /-echo\b/.test(r.stdout),
    'the raw tty',
  );
  // ctrl-x followed by another byte, split over writes and inside one write: forwarded as sent.
  h.socket.write('A\x18');
  await sleep(300);
  h.socket.write('B\x18C');
  await until(
    () => bytesOf(host, name, '/tmp/in'),
    (s) => s === 'A 030 B 030 C',
    'the forwarded bytes',
  );
  t.false(h.isClosed());
  // The sequence itself, byte by byte as a terminal sends it: the daemon closes the connection.
  h.socket.write('D\x18');
  await sleep(300);
  h.socket.write('y');
  await h.closed;
  t.true(await running(host, name), 'the container keeps running after a detach');
  await until(
    () => bytesOf(host, name, '/tmp/in'),
    (s) => s === 'A 030 B 030 C D',
    'the bytes before the sequence',
  );
  t.deepEqual(
    (await events(host, since, name)).filter((a) => a === 'attach' || a === 'detach'),
    ['attach', 'detach'],
  );

  // Default keys, both in one write (a paste, or a raw client): detached too; stdin stayed open.
  const h2 = hijack(host, `/v1.41/containers/${name}/attach?stream=1&stdin=1&stdout=1`);
  t.teardown(() => h2.socket.destroy());
  t.regex(await h2.head, /^HTTP\/1.1 101 UPGRADED/);
  h2.socket.write('E\x10\x11F');
  await h2.closed;
  t.true(await running(host, name));
  await until(
    () => bytesOf(host, name, '/tmp/in'),
    (s) => s === 'A 030 B 030 C D E',
    'the bytes before the default sequence',
  );
});

test('raw attach without a TTY: detach keys are plain input, the connection stays', async (t) => {
  const { reg, host } = await setup();
  const name = await createStarted(host, {
    Image: reg.image,
    OpenStdin: true,
    Cmd: ['sh', '-c', 'exec cat > /tmp/in'],
  });
  t.teardown(() => docker(['rm', '-f', name], { host }).then(() => undefined));
  const h = hijack(host, `/v1.41/containers/${name}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
  t.teardown(() => h.socket.destroy());
  t.regex(await h.head, /^HTTP\/1.1 101 UPGRADED/);
  h.socket.write('a\x10\x11b');
  await until(
    () => bytesOf(host, name, '/tmp/in'),
    (s) => s === 'a 020 021 b',
    'the bytes, keys included',
  );
  t.false(h.isClosed(), 'no detach without a TTY (as dockerd)');
  t.true(await running(host, name));
});

test('bad detach keys: attach and exec create are 400 with dockerd messages', async (t) => {
  const { reg, host } = await setup();
  const name = await createStarted(host, { Image: reg.image, Tty: true, OpenStdin: true, Cmd: ['sleep', '600'] });
  t.teardown(() => docker(['rm', '-f', name], { host }).then(() => undefined));
  const h = hijack(host, `/v1.41/containers/${name}/attach?stream=1&stdin=1&detachKeys=ctrl-foo`);
  t.teardown(() => h.socket.destroy());
  await h.closed;
  t.regex(await h.head, /^HTTP\/1.1 400 /);
  t.regex(h.output().toString(), /Invalid detach keys \(ctrl-foo\) provided/);
  const ex = await api(host, 'POST', `/v1.41/containers/${name}/exec`, {
    Cmd: ['true'],
    Tty: true,
    AttachStdin: true,
    DetachKeys: 'ctrl-',
  });
  t.is(ex.status, 400);
  t.is((ex.json as { message: string }).message, 'Invalid escape keys (ctrl-) provided');
  const cli = await docker(['attach', '--no-stdin', '--detach-keys', 'bogus-key', name], { host, timeoutMs: 60_000 });
  t.not(cli.code, 0);
  // What the docker CLI prints against dockerd too: the 400 comes instead of the upgrade.
  t.regex(cli.stderr, /unable to upgrade to tcp, received 400/);
  t.true(await running(host, name));
  t.is((await api(host, 'GET', '/_ping')).status, 200);
});

test('raw exec start: the daemon detaches on the exec DetachKeys; the exec keeps running', async (t) => {
  const { reg, host } = await setup();
  const name = await createStarted(host, { Image: reg.image, Cmd: ['sleep', '600'] });
  t.teardown(() => docker(['rm', '-f', name], { host }).then(() => undefined));
  const since = Math.floor(Date.now() / 1000) - 1;
  const created = await api(host, 'POST', `/v1.41/containers/${name}/exec`, {
    Cmd: ['sh', '-c', 'stty raw -echo; exec cat > /tmp/e'],
    Tty: true,
    AttachStdin: true,
    AttachStdout: true,
    DetachKeys: 'ctrl-x,y',
  });
  t.is(created.status, 201, created.body);
  const id = (created.json as { Id: string }).Id;
  const h = hijack(host, `/v1.41/exec/${id}/start`, { Detach: false, Tty: true });
  t.teardown(() => h.socket.destroy());
  t.regex(await h.head, /^HTTP\/1.1 101 UPGRADED/);
  await until(
    () => docker(['exec', name, 'sh', '-c', 'ls /tmp/e'], { host }),
    (r) => r.code === 0,
    'the exec to start',
  );
  // Give stty time to switch the tty to raw: then the bytes reach cat unchanged.
  await sleep(500);
  h.socket.write('x\x18z\x18');
  await sleep(300);
  h.socket.write('y');
  await h.closed;
  const ins = await api(host, 'GET', `/v1.41/exec/${id}/json`);
  t.true((ins.json as { Running: boolean }).Running, 'the exec keeps running after a detach');
  await until(
    () => bytesOf(host, name, '/tmp/e'),
    (s) => s === 'x 030 z',
    'the exec input',
  );
  t.true((await events(host, since, name)).includes('exec_detach'));
});

interface Pty {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
}

/** Runs a command line on a real pseudo-terminal (util-linux script), as a user at a terminal would. */
function onPty(cmd: string, env: NodeJS.ProcessEnv): Pty {
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('latin1')));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

async function cliEnv(host: string, config: Record<string, unknown> = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-dk-'));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  return {
    env: { DOCKER_HOST: host, DOCKER_CONFIG: dir, DOCKER_CLI_HINTS: 'false' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

test('docker run -it --detach-keys and docker attach on a pty: detached, the container keeps running', async (t) => {
  const { reg, host } = await setup();
  const { env, cleanup } = await cliEnv(host);
  t.teardown(cleanup);
  const name = uniq('dkcli');
  t.teardown(() => docker(['rm', '-f', name], { host }).then(() => undefined));
  const p = onPty(`docker run -it --network none --detach-keys ctrl-x,y --name ${name} ${reg.image} sh`, env);
  t.teardown(() => p.child.kill('SIGKILL'));
  await until(
    async () => p.output(),
    (o) => o.includes('/ # '),
    'the shell prompt',
  );
  p.child.stdin.write('echo hel""lo\r');
  await until(
    async () => p.output(),
    (o) => o.includes('hello'),
    'the echo',
  );
  p.child.stdin.write('\x18');
  await sleep(200);
  p.child.stdin.write('y');
  t.is(await p.exited, 0, p.output());
  t.true(await running(host, name));

  // Attach again, detach with the default keys.
  const a = onPty(`docker attach ${name}`, env);
  t.teardown(() => a.child.kill('SIGKILL'));
  await sleep(1000);
  a.child.stdin.write('echo wor""ld\r');
  await until(
    async () => a.output(),
    (o) => o.includes('world'),
    'the echo after attach',
  );
  a.child.stdin.write('\x10');
  await sleep(200);
  a.child.stdin.write('\x11');
  // The docker CLI reports a detach from `attach` so, and exits 1 (against dockerd 20.10 too).
  t.is(await a.exited, 1, a.output());
  t.regex(a.output(), /read escape sequence/);
  t.true(await running(host, name));
});

test('daemon.json detach-keys is the default of attaches and execs that name none', async (t) => {
  const reg = await registry();
  const d: Daemon = await startDaemon({
    storageDriver: 'overlay',
    insecureRegistries: [reg.host],
    config: { 'detach-keys': 'ctrl-a,q' },
  });
  t.teardown(() => d.stop().then(() => undefined));
  const host = d.dockerHost;
  const pull = await docker(['pull', reg.image], { host });
  t.is(pull.code, 0, pull.stderr);
  const name = await createStarted(host, {
    Image: reg.image,
    Tty: true,
    OpenStdin: true,
    Cmd: ['sh', '-c', 'stty raw -echo; exec cat > /tmp/in'],
  });
  await sleep(500);
  const h = hijack(host, `/v1.41/containers/${name}/attach?stream=1&stdin=1&stdout=1`);
  t.teardown(() => h.socket.destroy());
  t.regex(await h.head, /^HTTP\/1.1 101 UPGRADED/);
  // ctrl-p,ctrl-q is no longer special here; ctrl-a,q is.
  h.socket.write('a\x10\x11b');
  await until(
    () => bytesOf(host, name, '/tmp/in'),
    (s) => s === 'a 020 021 b',
    'the old default forwarded',
  );
  t.false(h.isClosed());
  h.socket.write('\x01q');
  await h.closed;
  t.true(await running(host, name));
  // A bad value keeps the daemon from starting, with one clear line.
  const bad = await startDaemon({
    storageDriver: 'overlay',
    config: { 'detach-keys': 'ctrl-foo' },
    timeoutMs: 20_000,
  }).then(
    (x) => x.stop().then(() => 'started'),
    (err: Error) => err.message,
  );
  t.regex(bad, /detach-keys "ctrl-foo": Unknown character/);
});
