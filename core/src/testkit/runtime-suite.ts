import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import { buildOciSpec, type OciSpecInput } from '../containers/oci-spec.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { LogEntry, Runtime, RuntimeCapabilities } from '../plugin-api/runtime.js';

export interface RuntimeSuiteOptions {
  /** Host-built static busybox the suite's root filesystem is made of (Debian busybox-static). */
  busybox?: string;
  /** Register the suite as skipped with this reason (a runtime that cannot work on this host). */
  skip?: string;
}

let applets: string[] | undefined;

/** A root filesystem made of a static busybox and its applet symlinks. */
export async function busyboxRootfs(dir: string, busybox = '/bin/busybox'): Promise<void> {
  applets ??= execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox');
  await mkdir(join(dir, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'etc', 'tmp', 'root']) await mkdir(join(dir, d), { recursive: true });
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await Promise.all(applets.map((a) => symlink('busybox', join(dir, 'bin', a))));
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
}

interface Ctx {
  t: ExecutionContext;
  rt: Runtime;
  id: string;
  bundle: string;
  logPath: string;
  stateDir: string;
  caps: RuntimeCapabilities;
  /** Writes config.json for `args`; `mutate` may adjust the OCI spec (limits). */
  config(args: string[], over?: Partial<OciSpecInput>, mutate?: (spec: Record<string, unknown>) => void): Promise<void>;
  create(opts?: { terminal?: boolean; stdin?: boolean }): Promise<{ pid: number }>;
  /** A second runtime on the same state directory: what a restarted daemon constructs. */
  reopen(): Promise<Runtime>;
  logs(rt?: Runtime): Promise<LogEntry[]>;
}

function text(entries: LogEntry[], stream?: 'stdout' | 'stderr'): string {
  return entries
    .filter((e) => !stream || e.stream === stream)
    .map((e) => e.data.toString('utf8'))
    .join('');
}

async function untilLogged(logs: () => Promise<LogEntry[]>, expected: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while ((seen = text(await logs())) !== expected) {
    if (Date.now() > deadline)
      throw new Error(`the task logged ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/**
 * The conformance suite every runtime driver runs (anchors: containerd's runtime integration tests,
 * the OCI runtime-tools validation): task state transitions and their errors, the order of what a
 * task goes through (create < start < exit < delete), exit codes, output capture, OOM, and, gated on
 * capabilities, terminals, stdin and waiting on a task after a reconnect. `factory` builds a
 * runtime on a (fresh or reused) state directory; the suite makes its own busybox bundle.
 */
export function runtimeSuite(
  test: TestFn,
  name: string,
  factory: (stateDir: string) => Promise<Runtime>,
  opts: RuntimeSuiteOptions = {},
): void {
  if (opts.skip) {
    test.skip(`${name}: runtime conformance (skipped: ${opts.skip})`, () => {});
    return;
  }
  async function setup(t: ExecutionContext): Promise<Ctx> {
    const base = await mkdtemp(join(tmpdir(), 'skiff-rts-'));
    const id = `skiff-rts-${randomBytes(6).toString('hex')}`;
    const bundle = join(base, 'bundle');
    const rootfs = join(bundle, 'rootfs');
    const stateDir = join(base, 'state');
    await busyboxRootfs(rootfs, opts.busybox);
    const runtimes: Runtime[] = [];
    const rt = await factory(stateDir);
    runtimes.push(rt);
    t.teardown(async () => {
      await rt.kill(id, 'KILL', { all: true }).catch(() => {});
      await rt.wait(id).catch(() => {});
      await rt.delete(id).catch(() => {});
      for (const r of runtimes) await r.close().catch(() => {});
      await rm(base, { recursive: true, force: true });
    });
    let terminal = false;
    const logPath = join(base, 'task.log');
    return {
      t,
      rt,
      id,
      bundle,
      logPath,
      stateDir,
      caps: rt.capabilities(),
      async config(args, over = {}, mutate) {
        terminal = over.terminal ?? false;
        const spec = buildOciSpec({
          id,
          rootfs,
          args,
          env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
          cwd: '/',
          user: { uid: 0, gid: 0, additionalGids: [] },
          hostname: 'conformance',
          terminal: false,
          readonlyRootfs: false,
          network: { mode: 'new' },
          cgroupsPath: `/skiff-conformance/${id}`,
          ...over,
        }) as unknown as Record<string, unknown>;
        mutate?.(spec);
        await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
      },
      create(o = {}) {
        return rt.create({ id, bundle, terminal: o.terminal ?? terminal, stdin: o.stdin ?? false, logPath });
      },
      async reopen() {
        const r = await factory(stateDir);
        runtimes.push(r);
        return r;
      },
      logs(r = rt) {
        return collect(r.logs(id, logPath, { follow: false }));
      },
    };
  }
  const it = (title: string, fn: (c: Ctx) => Promise<void>) =>
    test(`${name}: ${title}`, async (t) => {
      await fn(await setup(t));
    });
  const gated = (cap: keyof RuntimeCapabilities, title: string, fn: (c: Ctx) => Promise<void>) =>
    test(`${name}: ${title}`, async (t) => {
      const c = await setup(t);
      if (!c.caps[cap]) {
        t.log(`skipped: the runtime does not declare ${cap}`);
        t.pass();
        return;
      }
      await fn(c);
    });

  it('create < start < exit < delete: each step shows in state()', async ({ t, rt, id, config, create }) => {
    await config(['sh', '-c', 'echo done']);
    const { pid } = await create();
    t.true(Number.isInteger(pid) && pid > 0);
    t.is((await rt.state(id)).status, 'created');
    const beforeStart = Date.now();
    await rt.start(id);
    const exit = await rt.wait(id);
    t.is(exit.exitCode, 0);
    t.false(exit.oomKilled);
    // The exit is recorded after the start (file times have a coarser clock: allow a second).
    t.true(exit.exitedAt.getTime() >= beforeStart - 1000, `${exit.exitedAt.toISOString()} vs start`);
    const st = await rt.state(id);
    t.is(st.status, 'stopped');
    t.is(st.exit?.exitCode, 0);
    await rt.delete(id);
    await t.throwsAsync(rt.state(id), { instanceOf: NotFoundError });
    // delete is idempotent.
    await rt.delete(id);
  });

  it('a created task is running after start and until killed', async ({ t, rt, id, config, create }) => {
    await config(['sleep', '1000']);
    await create();
    await rt.start(id);
    const st = await rt.state(id);
    t.is(st.status, 'running');
    t.true((st.pid ?? 0) > 0);
    await rt.kill(id, 'KILL');
    t.is((await rt.wait(id)).exitCode, 137);
  });

  it('errors: unknown tasks, double create, double start, delete while running, bad signals', async (c) => {
    const { t, rt, id, config, create } = c;
    await t.throwsAsync(rt.state('skiff-rts-unknown'), { instanceOf: NotFoundError });
    await t.throwsAsync(rt.start('skiff-rts-unknown'));
    await t.throwsAsync(rt.wait('skiff-rts-unknown'), { instanceOf: NotFoundError });
    await t.throwsAsync(
      rt.create({ id: '../evil', bundle: c.bundle, terminal: false, stdin: false, logPath: c.logPath }),
      {
        instanceOf: InvalidParameterError,
      },
    );
    await config(['sleep', '1000']);
    await create();
    await t.throwsAsync(create(), { instanceOf: ConflictError });
    await rt.start(id);
    await t.throwsAsync(rt.start(id), { instanceOf: ConflictError });
    await t.throwsAsync(rt.delete(id), { instanceOf: ConflictError });
    await t.throwsAsync(rt.kill(id, 'NOSUCHSIGNAL'), { instanceOf: InvalidParameterError });
    await t.throwsAsync(rt.kill(id, 0), { instanceOf: InvalidParameterError });
    t.is((await rt.state(id)).status, 'running');
    await rt.kill(id, 'SIGKILL');
    await rt.wait(id);
    await t.throwsAsync(rt.kill(id, 'KILL'), { instanceOf: ConflictError });
  });

  it('exit codes: 0, 3, 255', async ({ t, rt, id, config, create }) => {
    for (const [args, code] of [
      [['true'], 0],
      [['sh', '-c', 'exit 3'], 3],
      [['sh', '-c', 'exit 255'], 255],
    ] as const) {
      await config([...args]);
      await create();
      await rt.start(id);
      t.is((await rt.wait(id)).exitCode, code, args.join(' '));
      await rt.delete(id);
    }
  });

  it('signals reach the process: a TERM handler decides the exit code', async ({
    t,
    rt,
    id,
    config,
    create,
    logPath,
  }) => {
    await config(['sh', '-c', "trap 'exit 42' TERM; echo ready; sleep 1000 & wait"]);
    await create();
    const ac = new AbortController();
    const ready = (async () => {
      for await (const e of rt.logs(id, logPath, { follow: true, signal: ac.signal }))
        if (e.data.toString().includes('ready')) return true;
      return false;
    })();
    await rt.start(id);
    t.true(await ready);
    ac.abort();
    await rt.kill(id, 'TERM');
    t.is((await rt.wait(id)).exitCode, 42);
  });

  it('stdout and stderr are captured apart, in order, with timestamps', async ({ t, rt, id, config, create, logs }) => {
    await config(['sh', '-c', 'echo out1; echo err1 >&2; echo out2; printf partial']);
    await create();
    await rt.start(id);
    await rt.wait(id);
    const log = await logs();
    t.is(text(log, 'stdout'), 'out1\nout2\npartial');
    t.is(text(log, 'stderr'), 'err1\n');
    for (const e of log) t.regex(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it('logs: tail N, and follow ends with the task', async ({ t, rt, id, config, create, logPath }) => {
    await config(['sh', '-c', 'for i in 1 2 3 4 5; do echo $i; done']);
    await create();
    const followed = collect(rt.logs(id, logPath, { follow: true }));
    await rt.start(id);
    await rt.wait(id);
    t.is(text(await followed), '1\n2\n3\n4\n5\n');
    t.is(text(await collect(rt.logs(id, logPath, { follow: false, tail: 2 }))), '4\n5\n');
    t.is(text(await collect(rt.logs(id, logPath, { follow: false, tail: 0 }))), '');
  });

  it('OOM: a task over its memory limit is killed and reported', async ({ t, rt, id, config, create }) => {
    await config(['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived'], {}, (spec) => {
      const linux = spec.linux as { resources?: Record<string, unknown> };
      linux.resources = { ...linux.resources, memory: { limit: 16 * 1024 * 1024 } };
    });
    await create();
    await rt.start(id);
    const exit = await rt.wait(id);
    t.true(exit.oomKilled, `exit ${exit.exitCode}`);
    t.true((await rt.state(id)).exit?.oomKilled);
  });

  gated('survivesDaemonRestart', 'wait after a reconnect: a new runtime on the same state sees the exit', async (c) => {
    const { t, rt, id, config, create, reopen } = c;
    await config(['sh', '-c', 'echo before; sleep 1000']);
    await create();
    await rt.start(id);
    await rt.close();
    const again = await reopen();
    t.is((await again.state(id)).status, 'running');
    // The kill must not race the echo: the output written before the exit has to be kept.
    await untilLogged(() => c.logs(again), 'before\n');
    const waited = again.wait(id);
    await again.kill(id, 'KILL', { all: true });
    t.is((await waited).exitCode, 137);
    t.is(text(await c.logs(again)), 'before\n');
    await again.delete(id);
    await t.throwsAsync(again.state(id), { instanceOf: NotFoundError });
  });

  gated('survivesDaemonRestart', 'an exit while no runtime watched is found by the next one', async (c) => {
    const { t, rt, id, config, create, reopen } = c;
    await config(['sh', '-c', 'exit 7']);
    await create();
    await rt.start(id);
    await rt.close();
    const again = await reopen();
    t.is((await again.wait(id)).exitCode, 7);
    t.is((await again.state(id)).status, 'stopped');
  });

  gated('terminal', 'terminal: the process gets a pty', async ({ t, rt, id, config, create, logs }) => {
    await config(['sh', '-c', 'tty; test -t 0 && echo is-a-tty'], { terminal: true });
    await create({ terminal: true });
    await rt.start(id);
    t.is((await rt.wait(id)).exitCode, 0);
    const out = text(await logs()).replace(/\r/g, '');
    t.regex(out, /^\/dev\/pts\/\d+\n/);
    t.true(out.includes('is-a-tty'));
  });

  gated(
    'stdin',
    'stdin: what is written reaches the process; closing it is EOF',
    async ({ t, rt, id, config, create, logs }) => {
      await config(['sh', '-c', 'cat; echo eof']);
      await create({ stdin: true });
      await rt.start(id);
      const w = await rt.openStdin!(id);
      await new Promise<void>((resolve, reject) => {
        w.on('error', reject);
        w.write('hello\n', (err) => (err ? reject(err) : w.end(resolve)));
      });
      t.is((await rt.wait(id)).exitCode, 0);
      t.is(text(await logs()), 'hello\neof\n');
    },
  );
}
