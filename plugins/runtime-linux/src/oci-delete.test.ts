import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { runtimeHostProblem } from './host-support.js';
import { deleteStoppedCrun } from './stopped-crun.js';
import { deleteStoppedRunc } from './stopped-runc.js';
import { fixture } from './testing/fixture.js';
import { runtimeRefusing } from './testing/runtime-refusing.js';
import { findExecutable } from './which.js';

const crun = findExecutable('crun');
const crunSkip = !crun ? 'crun is not installed' : runtimeHostProblem(crun);
const crunTest = crunSkip ? test.skip : test;
if (crunSkip) console.log(`oci-delete crun cases skipped: ${crunSkip}`);

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
  await f.create();
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
  await f.create();
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

test('no runc or crun state: left to the runtime', async (t) => {
  t.false(await deleteStoppedRunc('/nonexistent-skiff-root', 'x'));
  t.false(await deleteStoppedCrun('/nonexistent-skiff-root', 'x'));
});

/** The directories of crun's cgroup for the task: one per mounted hierarchy that has it. */
async function crunCgroups(statusFile: string): Promise<string[]> {
  const path = (JSON.parse(await readFile(statusFile, 'utf8')) as { 'cgroup-path': string })['cgroup-path'];
  const dirs = (await readdir('/sys/fs/cgroup')).map((h) => join('/sys/fs/cgroup', h, path));
  return (await Promise.all(dirs.map(async (d) => ((await exists(d)) ? d : undefined)))).filter(
    (d): d is string => d !== undefined,
  );
}

crunTest('an exited crun task is deleted without `crun delete`: its cgroups and crun state are gone', async (t) => {
  const f = await fixture(t, { binary: await runtimeRefusing(t, 'delete', 'crun') });
  await f.writeConfig(['true']);
  await f.create();
  const root = join(f.stateDir, 'roots', 'crun-nodelete', f.id);
  const cgroups = await crunCgroups(join(root, 'status'));
  t.true(cgroups.length > 0);
  await f.runtime.start(f.id);
  t.is((await f.runtime.wait(f.id)).exitCode, 0);
  await f.runtime.delete(f.id);
  t.false(await exists(root));
  for (const p of cgroups) t.false(await exists(p), p);
});

crunTest('a running crun task, or one with hooks, is left to crun', async (t) => {
  const f = await fixture(t, { binary: 'crun' });
  await f.writeConfig(['sleep', '100']);
  await f.create();
  await f.runtime.start(f.id);
  const crunRoot = join(f.stateDir, 'roots', 'crun');
  const statusFile = join(crunRoot, f.id, 'status');
  const cgroups = await crunCgroups(statusFile);
  t.false(await deleteStoppedCrun(crunRoot, f.id));
  t.true(await exists(statusFile));
  for (const p of cgroups) t.true(await exists(p), p);

  await f.runtime.kill(f.id, 'KILL');
  t.is((await f.runtime.wait(f.id)).exitCode, 137);
  const configFile = join(crunRoot, f.id, 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8')) as { hooks?: Record<string, unknown> };
  // The hook reads the state crun writes on its stdin: crun dies of SIGPIPE when a hook does not.
  config.hooks = { ...config.hooks, poststop: [{ path: '/bin/sh', args: ['sh', '-c', 'cat >/dev/null'] }] };
  await writeFile(configFile, JSON.stringify(config));
  t.false(await deleteStoppedCrun(crunRoot, f.id));
  t.true(await exists(statusFile));
  await f.runtime.delete(f.id);
  t.false(await exists(join(crunRoot, f.id)));
  for (const p of cgroups) t.false(await exists(p), p);
});
