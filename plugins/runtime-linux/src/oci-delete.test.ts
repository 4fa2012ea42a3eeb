import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { deleteStoppedRunc } from './stopped-runc.js';
import { fixture } from './testing/fixture.js';
import { runtimeRefusing } from './testing/runtime-refusing.js';

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function cgroupPaths(stateFile: string): Promise<string[]> {
  const st = JSON.parse(await readFile(stateFile, 'utf8')) as { cgroup_paths: Record<string, string> };
  return Object.values(st.cgroup_paths);
}

test('an exited task is deleted without `runc delete`: its cgroups and runc state are gone', async (t) => {
  const f = await fixture(t, { binary: await runtimeRefusing(t, 'delete') });
  await f.writeConfig(['true']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  const root = join(f.stateDir, 'roots', 'runc-nodelete', f.id);
  const cgroups = await cgroupPaths(join(root, 'state.json'));
  t.true(cgroups.length > 0);
  for (const p of cgroups) t.true(await exists(p), p);
  await f.runtime.start(f.id);
  t.is((await f.runtime.wait(f.id)).exitCode, 0);
  await f.runtime.delete(f.id);
  t.false(await exists(root));
  for (const p of cgroups) t.false(await exists(p), p);
});

test('a running task, or one with runc hooks, is left to the runtime', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sleep', '100']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await f.runtime.start(f.id);
  const runcRoot = join(f.stateDir, 'roots', 'runc');
  const stateFile = join(runcRoot, f.id, 'state.json');
  const cgroups = await cgroupPaths(stateFile);
  t.false(await deleteStoppedRunc(runcRoot, f.id));
  t.true(await exists(stateFile));
  for (const p of cgroups) t.true(await exists(p), p);

  await f.runtime.kill(f.id, 'KILL');
  t.is((await f.runtime.wait(f.id)).exitCode, 137);
  // A poststop hook must run: only runc runs it.
  const st = JSON.parse(await readFile(stateFile, 'utf8')) as { config: { Hooks: Record<string, unknown> } };
  st.config.Hooks = { ...st.config.Hooks, poststop: [{ path: '/bin/true' }] };
  await writeFile(stateFile, JSON.stringify(st));
  t.false(await deleteStoppedRunc(runcRoot, f.id));
  t.true(await exists(stateFile));
  await f.runtime.delete(f.id);
  t.false(await exists(join(runcRoot, f.id)));
  for (const p of cgroups) t.false(await exists(p), p);
});

test('no runc state: left to the runtime', async (t) => {
  t.false(await deleteStoppedRunc('/nonexistent-skiff-root', 'x'));
});
