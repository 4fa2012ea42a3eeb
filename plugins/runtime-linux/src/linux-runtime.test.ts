import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConflictError, InvalidParameterError, NotFoundError } from '@skiff/core/plugin-api';
import test from 'ava';
import { RuntimeCreateError } from './errors.js';
import { collect, fixture, run, text } from './testing/fixture.js';

test('echo hello: output in the log, exit 0', async (t) => {
  const f = await fixture(t);
  const { exitCode, log } = await run(f.runtime, f, ['echo', 'hello']);
  t.is(exitCode, 0);
  t.is(text(log), 'hello\n');
  t.is(log[0]?.stream, 'stdout');
  t.regex(log[0]?.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  const st = await f.runtime.state(f.id);
  t.is(st.status, 'stopped');
  t.is(st.exit?.exitCode, 0);
  t.false(st.exit?.oomKilled);
});

test('exit code of sh -c "exit 3" is 3', async (t) => {
  const f = await fixture(t);
  t.is((await run(f.runtime, f, ['sh', '-c', 'exit 3'])).exitCode, 3);
});

test('stdout and stderr stay apart', async (t) => {
  const f = await fixture(t);
  const { log } = await run(f.runtime, f, ['sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2']);
  t.is(text(log, 'stdout'), 'out1\nout2\n');
  t.is(text(log, 'stderr'), 'err1\nerr2\n');
});

test("the process is pid 1 with docker's default capabilities only", async (t) => {
  const f = await fixture(t);
  const { log } = await run(f.runtime, f, ['sh', '-c', 'echo $$; grep -E "^Cap(Eff|Bnd|Prm)" /proc/self/status']);
  const lines = text(log).trim().split('\n');
  t.is(lines[0], '1');
  t.true(lines.includes('CapEff:\t00000000a80425fb'), text(log));
  t.true(lines.includes('CapBnd:\t00000000a80425fb'), text(log));
  t.true(lines.includes('CapPrm:\t00000000a80425fb'), text(log));
});

test('no daemon fds leak into the container', async (t) => {
  const f = await fixture(t);
  // The shell's (pid 1) own descriptors. `; true` keeps sh from exec'ing ls as pid 1, whose
  // listing would include its own directory fd.
  const { log } = await run(f.runtime, f, ['sh', '-c', 'ls /proc/$$/fd; true']);
  t.deepEqual(text(log).trim().split(/\s+/), ['0', '1', '2']);
});

test('kill of sleep 100 gives 137; killing it again is a conflict', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sleep', '100']);
  const { pid } = await f.runtime.create({
    id: f.id,
    bundle: f.bundle,
    terminal: false,
    stdin: false,
    logPath: f.logPath,
  });
  t.true(pid > 1);
  t.is((await f.runtime.state(f.id)).status, 'created');
  await f.runtime.start(f.id);
  t.like(await f.runtime.state(f.id), { status: 'running', pid });
  await t.throwsAsync(f.runtime.delete(f.id), { instanceOf: ConflictError });
  await t.throwsAsync(
    f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath }),
    {
      instanceOf: ConflictError,
    },
  );
  await f.runtime.kill(f.id, 'SIGKILL');
  const exit = await f.runtime.wait(f.id);
  t.is(exit.exitCode, 137);
  t.false(exit.oomKilled);
  await t.throwsAsync(f.runtime.kill(f.id, 'KILL'), { instanceOf: ConflictError });
  await t.throwsAsync(f.runtime.kill(f.id, 'NOTASIGNAL'), { instanceOf: InvalidParameterError });
});

test('wait() from a second runtime (daemon restart) while the task runs, and after it exited', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sleep', '100']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await f.runtime.start(f.id);
  const restarted = f.reopen();
  t.is((await restarted.state(f.id)).status, 'running');
  const waited = restarted.wait(f.id);
  const aborted = new AbortController();
  const abortedWait = restarted.wait(f.id, aborted.signal);
  aborted.abort(new Error('client went away'));
  await t.throwsAsync(abortedWait, { message: 'client went away' });
  await restarted.kill(f.id, 9);
  t.is((await waited).exitCode, 137);
  // Exit file already there: resolves at once, from any instance.
  t.is((await f.reopen().wait(f.id)).exitCode, 137);
  t.is((await f.runtime.wait(f.id)).exitCode, 137);
});

test('a task outlives the daemon process that created it', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', 'echo before; exec sleep 100']);
  const spec = { id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath };
  // A separate Node process plays the daemon: it creates and starts the task, then exits.
  const daemon = `
    const { LinuxRuntime } = await import(${JSON.stringify(new URL('./linux-runtime.js', import.meta.url).href)});
    const rt = new LinuxRuntime({ binary: 'runc', stateDir: process.argv[1] });
    const spec = JSON.parse(process.argv[2]);
    const { pid } = await rt.create(spec);
    await rt.start(spec.id);
    process.stdout.write(String(pid));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--input-type=module',
    '-e',
    daemon,
    f.stateDir,
    JSON.stringify(spec),
  ]);
  const pid = Number(stdout);
  t.like(await f.runtime.state(f.id), { status: 'running', pid });
  const exited = f.runtime.wait(f.id);
  const log = collect(f.runtime.logs(f.id, f.logPath, { follow: true }));
  await f.runtime.kill(f.id, 'KILL');
  t.is((await exited).exitCode, 137);
  t.is(text(await log), 'before\n');
  await f.runtime.delete(f.id);
});

test('logs follow from tail 0 before start sees every line and ends at exit; tail N', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  const followed = collect(f.runtime.logs(f.id, f.logPath, { follow: true, tail: 0 }));
  await f.runtime.start(f.id);
  const entries = await followed;
  t.is(text(entries, 'stdout'), 'line1\nline2\nline3\nline4\nline5\n');
  t.is(text(entries, 'stderr'), 'oops\n');

  const last2 = await collect(f.runtime.logs(f.id, f.logPath, { follow: false, tail: 2 }));
  t.deepEqual(
    last2.map((e) => e.data.toString()),
    ['line5\n', 'oops\n'],
  );
  t.is((await collect(f.runtime.logs(f.id, f.logPath, { follow: false, tail: 0 }))).length, 0);
  t.is((await collect(f.runtime.logs(f.id, f.logPath, { follow: false }))).length, 6);
  // Following a task that has exited drains the file and ends.
  t.is((await collect(f.runtime.logs(f.id, f.logPath, { follow: true, tail: 1 }))).length, 1);
  await f.runtime.delete(f.id);
  t.is((await collect(f.runtime.logs(f.id, f.logPath, { follow: true }))).length, 6);
});

test('logs follow honours its AbortSignal while the task runs', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', 'echo started; exec sleep 100']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const e of f.runtime.logs(f.id, f.logPath, { follow: true, tail: 0, signal: ac.signal })) {
      seen.push(e.data.toString());
      ac.abort();
    }
  })();
  await f.runtime.start(f.id);
  await done;
  t.deepEqual(seen, ['started\n']);
});

test("a missing executable is a RuntimeCreateError with the runtime's message, rolled back", async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['no-such-command', 'arg']);
  const err = await t.throwsAsync(
    f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath }),
    {
      instanceOf: RuntimeCreateError,
    },
  );
  t.regex(
    err?.message ?? '',
    /^OCI runtime create failed: .*exec: "no-such-command": executable file not found in \$PATH/,
  );
  t.is(err?.exitCodeHint, 127);
  t.is(err?.status, 500);
  await t.throwsAsync(f.runtime.state(f.id), { instanceOf: NotFoundError });
  t.deepEqual(await readdir(join(f.stateDir, 'tasks')), []);
  t.deepEqual(await readdir(join(f.stateDir, 'exits')), []);
  // The id is free again.
  await f.writeConfig(['true']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await f.runtime.start(f.id);
  t.is((await f.runtime.wait(f.id)).exitCode, 0);
});

test('a non-executable file gives exit code hint 126', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['/etc/passwd']);
  const err = await t.throwsAsync(
    f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath }),
    {
      instanceOf: RuntimeCreateError,
    },
  );
  t.is(err?.exitCodeHint, 126, err?.message);
});

test('delete is idempotent and removes the task; unknown ids are not found', async (t) => {
  const f = await fixture(t);
  await run(f.runtime, f, ['true']);
  await f.runtime.delete(f.id);
  await f.runtime.delete(f.id);
  await f.runtime.delete('never-existed');
  await t.throwsAsync(f.runtime.state(f.id), { instanceOf: NotFoundError });
  await t.throwsAsync(f.runtime.wait(f.id), { instanceOf: NotFoundError });
  await t.throwsAsync(f.runtime.start(f.id), { instanceOf: NotFoundError });
  await t.throwsAsync(f.runtime.kill(f.id, 'TERM'), { instanceOf: NotFoundError });
  await t.throwsAsync(f.runtime.state('../etc'), { instanceOf: InvalidParameterError });
  t.deepEqual(await readdir(join(f.stateDir, 'tasks')), []);
  t.deepEqual((await readdir(f.bundle)).sort(), ['config.json', 'rootfs']);
});

test('delete of a created, never started task stops it first', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['true']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await f.runtime.delete(f.id);
  await t.throwsAsync(f.runtime.state(f.id), { instanceOf: NotFoundError });
});

test('stdin: what is written reaches the process; ending it closes its stdin', async (t) => {
  const f = await fixture(t);
  t.true(f.runtime.capabilities().stdin);
  await f.writeConfig(['sh', '-c', 'cat; echo done']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: true, logPath: f.logPath });
  const stdin = await f.runtime.openStdin(f.id);
  await f.runtime.start(f.id);
  stdin.write('hello\n');
  stdin.end('world\n');
  t.is((await f.runtime.wait(f.id)).exitCode, 0);
  t.is(text(await collect(f.runtime.logs(f.id, f.logPath, { follow: false }))), 'hello\nworld\ndone\n');
  await t.throwsAsync(f.runtime.openStdin(f.id), { instanceOf: ConflictError });
});

test('openStdin on a task created without stdin is a conflict', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['true']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await t.throwsAsync(f.runtime.openStdin(f.id), { instanceOf: ConflictError });
});

test('terminal: the process gets a tty, and resize reaches it', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', 'read x; tty; stty size'], { terminal: true });
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: true, stdin: true, logPath: f.logPath });
  await f.runtime.start(f.id);
  await f.runtime.resize(f.id, 100, 30);
  const stdin = await f.runtime.openStdin(f.id);
  stdin.write('go\n');
  t.is((await f.runtime.wait(f.id)).exitCode, 0);
  stdin.end();
  const out = text(await collect(f.runtime.logs(f.id, f.logPath, { follow: false })));
  t.regex(out, /\/dev\/pts\/0\r?\n/);
  t.regex(out, /30 100\r?\n/);
  await t.throwsAsync(f.runtime.resize(f.id, 80, 24), { instanceOf: ConflictError });
});

test('create+start+wait of true (timing, reported not asserted)', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['true']);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
    await f.runtime.start(f.id);
    const exit = await f.runtime.wait(f.id);
    const t1 = performance.now();
    await f.runtime.delete(f.id);
    t.is(exit.exitCode, 0);
    times.push(t1 - t0);
  }
  times.sort((a, b) => a - b);
  t.log(
    `create+start+wait of true: median ${times[2]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[4]!.toFixed(1)})`,
  );
});
