import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConflictError, type ExecSpec, InvalidParameterError, NotFoundError } from '@skiff/core/plugin-api';
import test from 'ava';
import { RuntimeExecError } from './errors.js';
import type { LinuxRuntime } from './linux-runtime.js';
import { collect, type Fixture, fixture, text } from './testing/fixture.js';

/** A started task running `sleep 100` (or `args`). */
async function running(t: Parameters<typeof fixture>[0], args = ['sleep', '100']): Promise<Fixture> {
  const f = await fixture(t);
  await f.writeConfig(args);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await f.runtime.start(f.id);
  return f;
}

/** The exec spec the core would build: the container's process with another command. */
async function execSpec(
  f: Fixture,
  args: string[],
  opts: { terminal?: boolean; stdin?: boolean; process?: Record<string, unknown> } = {},
): Promise<ExecSpec> {
  const config = JSON.parse(await readFile(join(f.bundle, 'config.json'), 'utf8')) as {
    process: Record<string, unknown>;
  };
  const execId = `exec-${randomBytes(8).toString('hex')}`;
  return {
    execId,
    process: { ...config.process, args, ...opts.process },
    terminal: opts.terminal ?? false,
    stdin: opts.stdin ?? false,
    logPath: join(f.base, `${execId}.log`),
  };
}

/** exec + waitExec; the exit code and the exec's whole log. */
async function execRun(rt: LinuxRuntime, f: Fixture, spec: ExecSpec) {
  await rt.exec(f.id, spec);
  const exit = await rt.waitExec(f.id, spec.execId);
  const log = await collect(rt.logs(f.id, spec.logPath, { follow: false, execId: spec.execId }));
  return { exitCode: exit.exitCode, log };
}

async function execsLeft(f: Fixture): Promise<string[]> {
  return readdir(join(f.stateDir, 'tasks', f.id, 'execs')).catch(() => []);
}

test('echo: pid, output followed until exit, exit code 0, state forgotten afterwards', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['sh', '-c', 'echo hello; echo $$']);
  const { pid } = await f.runtime.exec(f.id, spec);
  t.true(pid > 1);
  // What the core does: follow the exec's log and wait for it at the same time.
  const followed = collect(f.runtime.logs(f.id, spec.logPath, { follow: true, execId: spec.execId }));
  const exit = await f.runtime.waitExec(f.id, spec.execId);
  t.is(exit.exitCode, 0);
  t.false(exit.oomKilled);
  const entries = await followed;
  t.is(entries[0]?.stream, 'stdout');
  const lines = text(entries).split('\n');
  t.is(lines[0], 'hello');
  // Inside the container's pid namespace: not pid 1 (that is sleep), not the host pid.
  t.not(lines[1], '1');
  t.not(lines[1], String(pid));
  t.deepEqual(await execsLeft(f), []);
  await t.throwsAsync(f.runtime.waitExec(f.id, spec.execId), { instanceOf: NotFoundError });
  // The log stays (it is the caller's file) and a follower of a forgotten exec just drains it.
  t.is(text(await collect(f.runtime.logs(f.id, spec.logPath, { follow: true, execId: spec.execId }))), text(entries));
  t.is((await f.runtime.state(f.id)).status, 'running');
});

test('stdout and stderr stay apart; exit 7', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 7']);
  const { exitCode, log } = await execRun(f.runtime, f, spec);
  t.is(exitCode, 7);
  t.is(text(log, 'stdout'), 'out1\nout2\n');
  t.is(text(log, 'stderr'), 'err1\nerr2\n');
});

test("a missing executable is a RuntimeExecError with runc's message and hint 127, nothing left behind", async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['no-such-command', 'arg']);
  const err = await t.throwsAsync(f.runtime.exec(f.id, spec), { instanceOf: RuntimeExecError });
  t.regex(
    err?.message ?? '',
    /^OCI runtime exec failed: .*exec: "no-such-command": executable file not found in \$PATH/,
  );
  t.is(err?.exitCodeHint, 127);
  t.is(err?.status, 500);
  t.deepEqual(await execsLeft(f), []);
  await t.throwsAsync(f.runtime.waitExec(f.id, spec.execId), { instanceOf: NotFoundError });
  // The same exec id can be used again, and the task is unharmed.
  t.is((await execRun(f.runtime, f, { ...spec, process: { ...spec.process, args: ['true'] } })).exitCode, 0);
  t.is((await f.runtime.state(f.id)).status, 'running');
});

test('a non-executable file gives hint 126', async (t) => {
  const f = await running(t);
  const err = await t.throwsAsync(f.runtime.exec(f.id, await execSpec(f, ['/etc/passwd'])), {
    instanceOf: RuntimeExecError,
  });
  t.is(err?.exitCodeHint, 126, err?.message);
  t.regex(err?.message ?? '', /permission denied/);
});

test('a missing working directory gives hint 126, like dockerd', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['pwd'], { process: { cwd: '/no/such/dir' } });
  const err = await t.throwsAsync(f.runtime.exec(f.id, spec), { instanceOf: RuntimeExecError });
  t.regex(err?.message ?? '', /^OCI runtime exec failed: .*chdir to cwd \("\/no\/such\/dir"\)/);
  t.is(err?.exitCodeHint, 126);
  t.deepEqual(await execsLeft(f), []);
});

test('stdin: what is written reaches cat; ending it closes its stdin', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['sh', '-c', 'cat; echo done'], { stdin: true });
  await f.runtime.exec(f.id, spec);
  const stdin = await f.runtime.openStdin(f.id, spec.execId);
  stdin.write('hello\n');
  stdin.end('world\n');
  t.is((await f.runtime.waitExec(f.id, spec.execId)).exitCode, 0);
  const log = await collect(f.runtime.logs(f.id, spec.logPath, { follow: false, execId: spec.execId }));
  t.is(text(log), 'hello\nworld\ndone\n');
});

test('openStdin and resize: refused without stdin, unknown exec not found', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['sleep', '100']);
  await f.runtime.exec(f.id, spec);
  await t.throwsAsync(f.runtime.openStdin(f.id, spec.execId), { instanceOf: ConflictError });
  await t.throwsAsync(f.runtime.openStdin(f.id, 'exec-unknown'), { instanceOf: NotFoundError });
  await t.throwsAsync(f.runtime.resize(f.id, 80, 24, 'exec-unknown'), { instanceOf: NotFoundError });
  await t.throwsAsync(f.runtime.resize(f.id, 80, 24, '../x'), { instanceOf: InvalidParameterError });
  await t.throwsAsync(f.runtime.resize(f.id, -1, 24, spec.execId), { instanceOf: InvalidParameterError });
  await f.runtime.kill(f.id, 'KILL');
  t.is((await f.runtime.waitExec(f.id, spec.execId)).exitCode, 137);
});

test('tty exec: a terminal, resize reaches it, its output is stdout', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['sh', '-c', 'read x; tty; stty size; echo err >&2'], { terminal: true, stdin: true });
  await f.runtime.exec(f.id, spec);
  await f.runtime.resize(f.id, 100, 30, spec.execId);
  const stdin = await f.runtime.openStdin(f.id, spec.execId);
  stdin.write('go\n');
  t.is((await f.runtime.waitExec(f.id, spec.execId)).exitCode, 0);
  stdin.end();
  const log = await collect(f.runtime.logs(f.id, spec.logPath, { follow: false, execId: spec.execId }));
  t.deepEqual(new Set(log.map((e) => e.stream)), new Set(['stdout']));
  const out = text(log);
  t.regex(out, /\/dev\/pts\/\d+\r?\n/);
  t.regex(out, /30 100\r?\n/);
  t.regex(out, /err\r?\n/);
  // The exec has exited (and been forgotten): no more resizing it.
  await t.throwsAsync(f.runtime.resize(f.id, 80, 24, spec.execId), { instanceOf: NotFoundError });
});

test('exec needs a running task: stopped or never started is a conflict, unknown is not found', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['true']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  const spec = await execSpec(f, ['echo', 'hi']);
  await t.throwsAsync(f.runtime.exec(f.id, spec), { instanceOf: ConflictError });
  await f.runtime.start(f.id);
  t.is((await f.runtime.wait(f.id)).exitCode, 0);
  const err = await t.throwsAsync(f.runtime.exec(f.id, spec), { instanceOf: ConflictError });
  t.is(err?.status, 409);
  await t.throwsAsync(f.runtime.exec('no-such-task', spec), { instanceOf: NotFoundError });
  await t.throwsAsync(f.runtime.exec(f.id, { ...spec, execId: '../../etc' }), { instanceOf: InvalidParameterError });
  await t.throwsAsync(f.runtime.exec(f.id, { ...spec, process: { ...spec.process, args: [] } }), {
    instanceOf: InvalidParameterError,
  });
  await t.throwsAsync(f.runtime.waitExec(f.id, spec.execId), { instanceOf: NotFoundError });
  t.deepEqual(await execsLeft(f), []);
  await f.runtime.delete(f.id);
  t.deepEqual(await readdir(join(f.stateDir, 'tasks')), []);
});

test('exec in a paused task is a conflict (the runtime refuses it)', async (t) => {
  const f = await running(t);
  const runc = (cmd: string) =>
    promisify(execFile)('runc', [`--root=${join(f.stateDir, 'roots', 'runc')}`, cmd, f.id]).then(() => undefined);
  await runc('pause');
  t.teardown(() => runc('resume').catch(() => undefined));
  const err = await t.throwsAsync(f.runtime.exec(f.id, await execSpec(f, ['true'])), { instanceOf: ConflictError });
  t.regex(err?.message ?? '', /is paused/);
  t.deepEqual(await execsLeft(f), []);
  await runc('resume');
  t.is((await execRun(f.runtime, f, await execSpec(f, ['true']))).exitCode, 0);
});

test('two concurrent execs keep their own output and exit codes; an exec id is unique while it runs', async (t) => {
  const f = await running(t);
  const a = await execSpec(f, ['sh', '-c', 'for i in 1 2 3; do echo a$i; done; exit 3']);
  const b = await execSpec(f, ['sh', '-c', 'for i in 1 2 3; do echo b$i; done; exit 4']);
  const [ra, rb] = await Promise.all([execRun(f.runtime, f, a), execRun(f.runtime, f, b)]);
  t.is(ra.exitCode, 3);
  t.is(rb.exitCode, 4);
  t.is(text(ra.log), 'a1\na2\na3\n');
  t.is(text(rb.log), 'b1\nb2\nb3\n');

  const c = await execSpec(f, ['sleep', '100']);
  await f.runtime.exec(f.id, c);
  await t.throwsAsync(f.runtime.exec(f.id, c), { instanceOf: ConflictError });
  await f.runtime.kill(f.id, 'KILL');
  await f.runtime.waitExec(f.id, c.execId);
});

test('waitExec and logs from a second runtime (daemon restart), while the exec runs and after it exited', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['sh', '-c', 'echo started; read x; echo $x'], { stdin: true });
  await f.runtime.exec(f.id, spec);
  const restarted = f.reopen();
  const waited = restarted.waitExec(f.id, spec.execId);
  const followed = collect(restarted.logs(f.id, spec.logPath, { follow: true, execId: spec.execId }));
  const aborted = new AbortController();
  const abortedWait = restarted.waitExec(f.id, spec.execId, aborted.signal);
  aborted.abort(new Error('client went away'));
  await t.throwsAsync(abortedWait, { message: 'client went away' });
  const stdin = await restarted.openStdin(f.id, spec.execId);
  stdin.end('bye\n');
  t.is((await waited).exitCode, 0);
  t.is(text(await followed), 'started\nbye\n');
  t.deepEqual(await execsLeft(f), []);

  // An exec that exited before anyone waited: its exit file is read at once, by any instance.
  const quick = await execSpec(f, ['sh', '-c', 'exit 5']);
  await f.runtime.exec(f.id, quick);
  // Following the log ends at the exit without forgetting the exec.
  await collect(f.runtime.logs(f.id, quick.logPath, { follow: true, execId: quick.execId }));
  t.is((await f.reopen().waitExec(f.id, quick.execId)).exitCode, 5);
  await t.throwsAsync(f.runtime.waitExec(f.id, quick.execId), { instanceOf: NotFoundError });
});

test('execs are killed when their task stops; delete leaves nothing behind', async (t) => {
  const f = await running(t);
  const spec = await execSpec(f, ['sh', '-c', 'echo up; exec sleep 100']);
  await f.runtime.exec(f.id, spec);
  const other = await execSpec(f, ['sleep', '100']);
  await f.runtime.exec(f.id, other);
  const followed = collect(f.runtime.logs(f.id, spec.logPath, { follow: true, execId: spec.execId }));
  await t.throwsAsync(f.runtime.delete(f.id), { instanceOf: ConflictError });
  await f.runtime.kill(f.id, 'KILL');
  t.is((await f.runtime.waitExec(f.id, spec.execId)).exitCode, 137);
  t.is(text(await followed), 'up\n');
  t.is((await f.runtime.wait(f.id)).exitCode, 137);
  // The other exec is not waited for: delete still cleans it up.
  await f.runtime.delete(f.id);
  t.deepEqual(await readdir(join(f.stateDir, 'tasks')), []);
  await t.throwsAsync(f.runtime.waitExec(f.id, other.execId), { instanceOf: NotFoundError });
});

test('exec+waitExec of true (timing, reported not asserted)', async (t) => {
  const f = await running(t);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const spec = await execSpec(f, ['true']);
    const t0 = performance.now();
    await f.runtime.exec(f.id, spec);
    const exit = await f.runtime.waitExec(f.id, spec.execId);
    times.push(performance.now() - t0);
    t.is(exit.exitCode, 0);
  }
  times.sort((a, b) => a - b);
  t.log(
    `exec+waitExec of true: median ${times[3]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[6]!.toFixed(1)})`,
  );
});
