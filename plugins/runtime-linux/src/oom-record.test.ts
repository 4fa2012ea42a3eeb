import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { oomKills } from './cgroups.js';
import { fixture } from './testing/fixture.js';

// conmon reports the pid before it watches for OOM kills; a task started at once can be killed
// first. The runtime then finds the kill in the task's memory cgroup, recorded at create.
test('an OOM kill conmon did not see is found in the task’s memory cgroup', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived'], {
    resources: { memory: { limit: 16 * 1024 * 1024 } },
  });
  await f.create();
  const taskDir = join(f.stateDir, 'tasks', f.id);
  const memcg = await readFile(join(taskDir, 'memcg'), 'utf8');
  t.regex(memcg, /^\/sys\/fs\/cgroup\/.*skiff-test-/);
  t.is(oomKills(memcg), 0);
  await f.runtime.start(f.id);
  t.is((await f.runtime.wait(f.id)).exitCode, 0, 'sh survives; dd was the one killed');
  t.true(oomKills(memcg) > 0);
  await rm(join(taskDir, 'oom'), { force: true }); // as if conmon had missed it
  const again = f.reopen();
  t.teardown(() => again.close());
  t.true((await again.state(f.id)).exit?.oomKilled);
});

test('a task that exits without an OOM kill is not reported killed', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['true'], { resources: { memory: { limit: 64 * 1024 * 1024 } } });
  await f.create();
  await f.runtime.start(f.id);
  const exit = await f.runtime.wait(f.id);
  t.is(exit.exitCode, 0);
  t.false(exit.oomKilled);
});
