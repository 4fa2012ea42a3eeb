import { ConflictError } from '@skiff/core/plugin-api';
import test from 'ava';
import type { TaskStats } from './cgroups.js';
import { fixture } from './testing/fixture.js';

const MiB = 1024 * 1024;

test('pause/resume, update, stats and pids of a running task (real runc and cgroups)', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', 'sleep 300 & sleep 301'], {
    resources: { memory: { limit: 32 * MiB }, pids: { limit: 20 } },
  });
  const { pid } = await f.runtime.create({
    id: f.id,
    bundle: f.bundle,
    terminal: false,
    stdin: false,
    logPath: f.logPath,
  });
  await f.runtime.start(f.id);

  // start returns once the init is released, before `sh` has forked its background sleep.
  let pids = await f.runtime.pids(f.id);
  for (let i = 0; i < 200 && pids.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 25));
    pids = await f.runtime.pids(f.id);
  }
  t.true(pids.includes(pid));
  t.is(pids.length, 2);

  let stats = (await f.runtime.stats(f.id)) as unknown as TaskStats;
  t.is(stats.memory_stats.limit, 32 * MiB);
  t.true((stats.memory_stats.usage ?? 0) > 0);
  t.is(stats.pids_stats.current, 2);
  t.is(stats.pids_stats.limit, 20);
  t.true(stats.cpu_stats.cpu_usage.total_usage > 0);
  t.true((stats.cpu_stats.system_cpu_usage ?? 0) > 0);
  // A network namespace with only a loopback has no endpoint to report.
  t.is(stats.networks, undefined);

  await f.runtime.update(f.id, { memory: { limit: 48 * MiB }, pids: { limit: 30 } });
  stats = (await f.runtime.stats(f.id)) as unknown as TaskStats;
  t.is(stats.memory_stats.limit, 48 * MiB);
  t.is(stats.pids_stats.limit, 30);

  await f.runtime.pause(f.id);
  t.is((await f.runtime.state(f.id)).status, 'paused');
  await t.throwsAsync(f.runtime.pause(f.id), { instanceOf: ConflictError });
  await f.runtime.resume(f.id);
  t.is((await f.runtime.state(f.id)).status, 'running');
  await t.throwsAsync(f.runtime.resume(f.id), { instanceOf: ConflictError });

  await f.runtime.kill(f.id, 'KILL', { all: true });
  await f.runtime.wait(f.id);
  await t.throwsAsync(f.runtime.stats(f.id), { instanceOf: ConflictError });
  await t.throwsAsync(f.runtime.pids(f.id), { instanceOf: ConflictError });
});

test('an OOM kill is reported by wait() and state()', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', 'x=a; while true; do x=$x$x; done'], {
    resources: { memory: { limit: 8 * MiB, swap: 8 * MiB } },
  });
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await f.runtime.start(f.id);
  const exit = await f.runtime.wait(f.id);
  t.is(exit.exitCode, 137);
  t.true(exit.oomKilled);
  t.true((await f.runtime.state(f.id)).exit?.oomKilled);
});
