// Client-protocol test: the real `skiff` binary against an in-test fake daemon that answers
// like the wire captures in shared/reference/wire-captures (ping, create, 101 attach,
// wait headers-first, start, stdcopy frames, pull progress). End-to-end tests against a
// real skiffd live in test/.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { encodeFrame, STDERR, STDOUT } from './api/stdcopy.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface FakeContainer {
  id: string;
  body: { Image: string; Cmd: string[] | null; Tty: boolean; OpenStdin: boolean; HostConfig: { AutoRemove: boolean } };
  name?: string;
  attach?: Socket;
  stdin: Buffer[];
  stdinEnded: boolean;
  started: boolean;
  waiters: http.ServerResponse[];
}

/**
 * A fake daemon. Commands are a tiny script language: ["script", "out:TEXT", "err:TEXT",
 * "exit:N"], ["cat"] (echo stdin), ["nope"] (start fails: executable not found).
 */
class FakeDaemon {
  readonly events: string[] = [];
  readonly paths: string[] = [];
  readonly images = new Set<string>();
  readonly containers = new Map<string, FakeContainer>();
  readonly pullRequests: { query: string; auth?: string }[] = [];
  readonly createBodies: unknown[] = [];
  readonly sockets = new Set<Socket>();
  pullError?: string;
  private seq = 0;
  readonly server: http.Server;

  constructor(
    readonly socketPath: string,
    readonly apiVersion = '1.41',
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req, socket: Socket) => this.attach(req, socket));
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const c of this.containers.values()) c.attach?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'Api-Version': this.apiVersion, Ostype: 'linux', 'Docker-Experimental': 'false', ...extra };
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, this.headers({ 'Content-Type': 'application/json' }));
    res.end(JSON.stringify(body));
  }

  private route(url: string): { path: string; query: URLSearchParams } {
    const u = new URL(url, 'http://x');
    this.paths.push(u.pathname);
    return { path: u.pathname.replace(/^\/v\d+\.\d+/, ''), query: u.searchParams };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { path, query } = this.route(req.url ?? '/');
      const body = Buffer.concat(chunks).toString();
      if (path === '/_ping') {
        res.writeHead(200, this.headers({ 'Content-Type': 'text/plain; charset=utf-8' }));
        res.end(req.method === 'GET' ? 'OK' : '');
        return;
      }
      if (req.method === 'GET' && path === '/version') {
        this.json(res, 200, {
          Version: '0.0.0-fake',
          ApiVersion: this.apiVersion,
          MinAPIVersion: '1.12',
          Os: 'linux',
          Arch: 'amd64',
        });
        return;
      }
      if (req.method === 'POST' && path === '/containers/create') return this.create(req, res, body, query);
      if (req.method === 'POST' && path === '/images/create') return this.pull(req, res, query);
      const m = /^\/containers\/([^/]+)(?:\/(\w+))?$/.exec(path);
      const container = m ? this.containers.get(m[1] ?? '') : undefined;
      if (m && !container) {
        this.json(res, 404, { message: `No such container: ${m[1]}` });
        return;
      }
      if (container && req.method === 'POST' && m?.[2] === 'wait') {
        this.events.push(`wait:${query.get('condition')}`);
        res.writeHead(200, this.headers({ 'Content-Type': 'application/json' }));
        res.flushHeaders();
        container.waiters.push(res);
        return;
      }
      if (container && req.method === 'POST' && m?.[2] === 'start') return this.start(container, res);
      if (container && req.method === 'DELETE' && !m?.[2]) {
        this.containers.delete(container.id);
        this.events.push(`delete:${container.id}`);
        res.writeHead(204, this.headers());
        res.end();
        return;
      }
      this.json(res, 404, { message: 'page not found' });
    });
  }

  private create(req: http.IncomingMessage, res: http.ServerResponse, body: string, query: URLSearchParams): void {
    if (req.headers['content-type'] !== 'application/json') {
      this.json(res, 400, { message: 'Content-Type specified must be application/json' });
      return;
    }
    const parsed = JSON.parse(body) as FakeContainer['body'];
    this.createBodies.push(parsed);
    const name = query.get('name') ?? undefined;
    if (!this.images.has(parsed.Image)) {
      this.events.push('create:404');
      this.json(res, 404, { message: `No such image: ${parsed.Image}` });
      return;
    }
    if (name && [...this.containers.values()].some((c) => c.name === name)) {
      this.events.push('create:409');
      this.json(res, 409, { message: `Conflict. The container name "/${name}" is already in use` });
      return;
    }
    const id = (++this.seq).toString(16).padStart(64, 'c');
    this.containers.set(id, { id, body: parsed, name, stdin: [], stdinEnded: false, started: false, waiters: [] });
    this.events.push('create:201');
    this.json(res, 201, { Id: id, Warnings: [] });
  }

  private pull(req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): void {
    this.events.push('pull');
    this.pullRequests.push({ query: query.toString(), auth: req.headers['x-registry-auth'] as string | undefined });
    const from = query.get('fromImage') ?? '';
    const tag = query.get('tag') ?? 'latest';
    res.writeHead(200, this.headers({ 'Content-Type': 'application/json' }));
    const repo = from.split('/').pop();
    const lines: unknown[] = [
      { status: `Pulling from ${repo}`, id: tag },
      { status: 'Pulling fs layer', progressDetail: {}, id: '62a9679ed90e' },
      { status: 'Downloading', progressDetail: { current: 100, total: 614829 }, progress: '[>  ]', id: '62a9679ed90e' },
      { status: 'Pull complete', progressDetail: {}, id: '62a9679ed90e' },
    ];
    if (this.pullError) {
      lines.push({ errorDetail: { message: this.pullError }, error: this.pullError });
    } else {
      lines.push({ status: 'Digest: sha256:9836d7754c07040391556f6a08b070a54d14ed25587d82c34b4b82906941c432' });
      lines.push({ status: `Status: Downloaded newer image for ${from}:${tag}` });
      this.images.add(`${from}:${tag}`);
    }
    // One JSON message per chunk, the last one split in two to exercise the reader.
    const text = lines.map((l) => `${JSON.stringify(l)}\r\n`);
    const last = text.pop() ?? '';
    for (const t of text) res.write(t);
    res.write(last.slice(0, 7));
    setImmediate(() => res.end(last.slice(7)));
  }

  private attach(req: http.IncomingMessage, socket: Socket): void {
    const { path, query } = this.route(req.url ?? '/');
    const id = /^\/containers\/([^/]+)\/attach$/.exec(path)?.[1] ?? '';
    const container = this.containers.get(id);
    if (!container || req.headers.upgrade !== 'tcp') {
      socket.end(
        'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"message":"no such thing"}',
      );
      return;
    }
    this.events.push(`attach:${query.toString()}`);
    socket.write(
      'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    container.attach = socket;
    socket.on('data', (d: Buffer) => container.stdin.push(d));
    socket.on('end', () => {
      this.events.push('attach:half-close');
      container.stdinEnded = true;
      this.maybeRun(container);
    });
    socket.on('error', () => undefined);
  }

  private start(container: FakeContainer, res: http.ServerResponse): void {
    this.events.push('start');
    const cmd = container.body.Cmd ?? [];
    if (cmd[0] === 'nope') {
      this.json(res, 400, {
        message:
          'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown',
      });
      container.attach?.end();
      this.finish(container, 127);
      return;
    }
    container.started = true;
    res.writeHead(204, this.headers());
    res.end();
    this.maybeRun(container);
  }

  /** "Runs" the process once started and, for -i, once stdin is closed. */
  private maybeRun(container: FakeContainer): void {
    if (!container.started || (container.body.OpenStdin && !container.stdinEnded)) return;
    const cmd = container.body.Cmd ?? [];
    const frame = (stream: number, text: string): Buffer =>
      container.body.Tty ? Buffer.from(text.replace(/\n/g, '\r\n')) : encodeFrame(stream, text);
    const out: Buffer[] = [];
    let code = 0;
    if (cmd[0] === 'cat') out.push(frame(STDOUT, Buffer.concat(container.stdin).toString()));
    for (const step of cmd.slice(1)) {
      const [kind, ...rest] = step.split(':');
      const value = rest.join(':');
      if (kind === 'out') out.push(frame(STDOUT, `${value}\n`));
      if (kind === 'err') out.push(frame(STDERR, `${value}\n`));
      if (kind === 'exit') code = Number(value);
    }
    // Write everything in one go, then split one frame across two writes.
    const all = Buffer.concat(out);
    const socket = container.attach;
    if (socket) {
      socket.write(all.subarray(0, Math.min(3, all.length)));
      setImmediate(() => {
        socket.end(all.subarray(Math.min(3, all.length)));
        this.finish(container, code);
      });
    } else {
      this.finish(container, code);
    }
  }

  private finish(container: FakeContainer, code: number): void {
    if (container.body.HostConfig.AutoRemove) this.containers.delete(container.id);
    for (const w of container.waiters) w.end(`${JSON.stringify({ Error: null, StatusCode: code })}\n`);
    container.waiters = [];
  }
}

async function startFake(t: ExecutionContext, apiVersion?: string): Promise<FakeDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-cli-proto-'));
  const fake = new FakeDaemon(join(dir, 'd.sock'), apiVersion);
  await fake.listen();
  t.teardown(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return fake;
}

function skiff(
  fake: FakeDaemon,
  args: string[],
  stdin = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, SKIFF_HOST: `unix://${fake.socketPath}`, DOCKER_HOST: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const IMAGE = '127.0.0.1:5000/spytest:v1';

test('run --rm: output demuxed, exit code 3 propagated, wait registered before start', async (t) => {
  const fake = await startFake(t);
  fake.images.add(IMAGE);
  const r = await skiff(fake, ['run', '--rm', IMAGE, 'script', 'out:hello-out', 'err:hello-err', 'exit:3']);
  t.is(r.code, 3);
  t.is(r.stdout, 'hello-out\n');
  t.is(r.stderr, 'hello-err\n');
  const ev = fake.events;
  t.is(ev[0], 'create:201');
  t.is(ev[1], 'attach:stderr=1&stdout=1&stream=1');
  t.true(ev.includes('attach:half-close'), 'no stdin: the client half-closes the attach connection');
  t.true(ev.indexOf('wait:removed') < ev.indexOf('start'), ev.join(' '));
  t.true(fake.paths.every((p) => p === '/_ping' || p.startsWith('/v1.41/')));
  t.is(fake.containers.size, 0);
});

test('run with a missing image: 404 → "Unable to find image" → pull → create again', async (t) => {
  const fake = await startFake(t);
  const r = await skiff(fake, ['run', IMAGE, 'script', 'out:after-pull']);
  t.is(r.code, 0);
  t.is(r.stdout, 'after-pull\n');
  t.is(
    r.stderr,
    [
      `Unable to find image '${IMAGE}' locally`,
      'v1: Pulling from spytest',
      '62a9679ed90e: Pulling fs layer',
      '62a9679ed90e: Pull complete',
      'Digest: sha256:9836d7754c07040391556f6a08b070a54d14ed25587d82c34b4b82906941c432',
      `Status: Downloaded newer image for ${IMAGE}`,
      '',
    ].join('\n'),
  );
  t.deepEqual(fake.pullRequests, [{ query: 'fromImage=127.0.0.1%3A5000%2Fspytest&tag=v1', auth: 'e30=' }]);
  t.deepEqual(fake.events.slice(0, 3), ['create:404', 'pull', 'create:201']);
  t.true(fake.events.includes('wait:next-exit'));
});

test('run with a pull that fails in-band: message on stderr, exit 125, no second create', async (t) => {
  const fake = await startFake(t);
  fake.pullError = 'manifest unknown';
  const r = await skiff(fake, ['run', 'busybox']);
  t.is(r.code, 125);
  t.true(r.stderr.startsWith("Unable to find image 'busybox:latest' locally\n"));
  t.true(r.stderr.endsWith("skiff: manifest unknown\n\nRun 'skiff run --help' for more information\n"));
  t.deepEqual(
    fake.pullRequests.map((p) => p.query),
    ['fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest'],
  );
  t.deepEqual(fake.events, ['create:404', 'pull']);
});

test('run -i pipes stdin then half-closes', async (t) => {
  const fake = await startFake(t);
  fake.images.add(IMAGE);
  const r = await skiff(fake, ['run', '-i', '--rm', IMAGE, 'cat'], 'piped-line-1\npiped-line-2\n');
  t.is(r.code, 0);
  t.is(r.stdout, 'piped-line-1\npiped-line-2\n');
  t.is(fake.events[1], 'attach:stderr=1&stdin=1&stdout=1&stream=1');
  t.like(fake.createBodies[0], { AttachStdin: true, OpenStdin: true, StdinOnce: true, Tty: false });
});

test('run -t copies the raw stream', async (t) => {
  const fake = await startFake(t);
  fake.images.add(IMAGE);
  const r = await skiff(fake, ['run', '-t', IMAGE, 'script', 'out:in-tty', 'exit:5']);
  t.is(r.code, 5);
  t.is(r.stdout, 'in-tty\r\n');
});

test('run -d prints the id, does not attach, waits next-exit then starts', async (t) => {
  const fake = await startFake(t);
  fake.images.add(IMAGE);
  const r = await skiff(fake, ['run', '-d', '--name', 'web', '-e', 'A=B', IMAGE, 'script']);
  t.is(r.code, 0);
  const [id] = [...fake.containers.keys()];
  t.is(r.stdout, `${id}\n`);
  t.deepEqual(fake.events, ['create:201', 'wait:next-exit', 'start']);
  t.like(fake.createBodies[0], { AttachStdout: false, AttachStderr: false, Env: ['A=B'] });
  // the name is taken now: docker's conflict error, exit 125
  const again = await skiff(fake, ['run', '-d', '--name', 'web', IMAGE]);
  t.is(again.code, 125);
  t.is(
    again.stderr,
    `skiff: Error response from daemon: Conflict. The container name "/web" is already in use\n\nRun 'skiff run --help' for more information\n`,
  );
});

test('run: command not found at start → exit 127 with the daemon message', async (t) => {
  const fake = await startFake(t);
  fake.images.add(IMAGE);
  const r = await skiff(fake, ['run', '--rm', IMAGE, 'nope']);
  t.is(r.code, 127);
  t.regex(
    r.stderr,
    /^skiff: Error response from daemon: .*executable file not found in \$PATH: unknown\n\nRun 'skiff run --help'/,
  );
});

test('pull prints progress and the full reference; in-band error → exit 1', async (t) => {
  const fake = await startFake(t);
  const ok = await skiff(fake, ['pull', 'busybox']);
  t.is(ok.code, 0);
  t.true(ok.stdout.startsWith('Using default tag: latest\nlatest: Pulling from busybox\n'));
  t.true(
    ok.stdout.endsWith(
      'Status: Downloaded newer image for docker.io/library/busybox:latest\ndocker.io/library/busybox:latest\n',
    ),
  );
  fake.pullError = 'boom failed';
  const bad = await skiff(fake, ['pull', IMAGE]);
  t.is(bad.code, 1);
  t.is(bad.stderr, 'boom failed\n');
  t.false(bad.stdout.includes(IMAGE.replace('127.0.0.1:5000/', '\n')));
});

test('rm reports each id; failures on stderr and exit 1', async (t) => {
  const fake = await startFake(t);
  fake.images.add(IMAGE);
  await skiff(fake, ['run', '-d', '--name', 'a', IMAGE, 'script']);
  const [id] = [...fake.containers.keys()];
  const r = await skiff(fake, ['rm', id ?? '', 'nosuch']);
  t.is(r.code, 1);
  t.is(r.stdout, `${id}\n`);
  t.is(r.stderr, 'Error response from daemon: No such container: nosuch\n');
  const forced = await skiff(fake, ['rm', '-f', 'nosuch']);
  t.is(forced.code, 0);
});

test('API version negotiated down from the ping', async (t) => {
  const fake = await startFake(t, '1.30');
  const r = await skiff(fake, ['version']);
  t.is(r.code, 0);
  t.regex(r.stdout, /API version: +1\.30 \(downgraded from 1\.41\)/);
  t.regex(r.stdout, /Server:\n Engine:\n {2}Version: +0\.0\.0-fake\n/);
  t.deepEqual(fake.paths, ['/_ping', '/v1.30/version']);
});
