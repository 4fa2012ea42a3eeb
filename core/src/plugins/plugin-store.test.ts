import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { ConsoleLogger } from '../util/logger.js';
import { DriverRegistry } from './driver-registry.js';
import { driverUsers } from './driver-usage.js';
import { checkHostRange, hostCoreDir, hostVersion } from './host-compat.js';
import { loadPlugins } from './plugin-loader.js';
import { checkSpec } from './plugin-manager.js';
import { PluginLoadError } from './plugin-package.js';
import { PluginStore } from './plugin-store.js';
import { tarballIntegrity, tarballPackageJson } from './plugin-tarball.js';
import type { DaemonConfig } from '../config/daemon-config.js';

async function tmp(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-store-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A package directory and its `tar czf` tarball (the layout npm uses: `package/…`). */
async function tarball(base: string, pkgJson: string | undefined, top = 'package'): Promise<string> {
  const src = join(base, 'src');
  await mkdir(join(src, top), { recursive: true });
  if (pkgJson !== undefined) await writeFile(join(src, top, 'package.json'), pkgJson);
  await writeFile(join(src, top, 'index.js'), 'export default {};\n');
  const file = join(base, 'it.tgz');
  execFileSync('tar', ['czf', file, '-C', src, top]);
  return file;
}

test('tarball: package.json is read without unpacking the code; integrity is npm-style sha512', async (t) => {
  const base = await tmp(t);
  const file = await tarball(base, JSON.stringify({ name: 'skiff-plugin-a', version: '1.0.0' }), 'anything');
  t.deepEqual(await tarballPackageJson(file), { name: 'skiff-plugin-a', version: '1.0.0' });
  const sha = createHash('sha512')
    .update(await readFile(file))
    .digest('base64');
  t.is(await tarballIntegrity(file), `sha512-${sha}`);
});

test('tarball: no package.json, bad JSON, not a tarball are InvalidParameterError', async (t) => {
  const base = await tmp(t);
  const none = await tarball(join(base, 'a'), undefined);
  await t.throwsAsync(tarballPackageJson(none), { instanceOf: InvalidParameterError, message: /has no package\.json/ });
  const bad = await tarball(join(base, 'b'), '{nope');
  await t.throwsAsync(tarballPackageJson(bad), {
    instanceOf: InvalidParameterError,
    message: /package\.json in the tarball is invalid/,
  });
  const arr = await tarball(join(base, 'c'), '[1]');
  await t.throwsAsync(tarballPackageJson(arr), { message: /not a JSON object/ });
  await writeFile(join(base, 'junk.tgz'), 'not gzip at all');
  await t.throwsAsync(tarballPackageJson(join(base, 'junk.tgz')), { message: /not a readable npm package tarball/ });
});

test('host range: the @skiff/core peerDependency must exist, be valid and include this host', (t) => {
  t.is(
    hostVersion(),
    JSON.parse(execFileSync('cat', [join(hostCoreDir, 'package.json')], { encoding: 'utf8' })).version,
  );
  t.is(checkHostRange('p', { peerDependencies: { '@skiff/core': '^0.1.0' } }, '0.1.5'), '^0.1.0');
  t.is(checkHostRange('p', { peerDependencies: { '@skiff/core': '>=0.1 <2' } }, '1.9.0'), '>=0.1 <2');
  const refused = (pkg: Record<string, unknown>, v: string, re: RegExp) =>
    t.throws(() => checkHostRange('p', pkg, v), { instanceOf: PluginLoadError, message: re });
  refused({}, '0.1.0', /declares no peerDependencies/);
  refused({ peerDependencies: { '@skiff/core': 3 } }, '0.1.0', /declares no peerDependencies/);
  refused({ peerDependencies: { '@skiff/core': 'not a range!' } }, '0.1.0', /invalid @skiff\/core range/);
  refused(
    { peerDependencies: { '@skiff/core': '^0.2.0' } },
    '0.1.0',
    /needs @skiff\/core \^0\.2\.0; this skiffd is 0\.1\.0/,
  );
});

test('specs npm could take as options or resolve against the daemon’s cwd are refused', (t) => {
  for (const bad of ['', '  ', '-g', '--prefix=/', './x.tgz', '../x', '.', 'a\nb', 42, undefined]) {
    t.throws(() => checkSpec(bad), { instanceOf: InvalidParameterError }, String(bad));
  }
  for (const ok of ['skiff-plugin-x', '@s/skiff-plugin-x@^1', '/abs/x.tgz', 'file:/abs/dir']) t.is(checkSpec(ok), ok);
});

test('driver users: the running storage driver, networks, volumes, runtimes and config names', (t) => {
  const config = {
    runtimes: { runc: {}, fancy: { runtimeType: 'fancy' } },
    firewallDriver: 'nftables',
    clusterStore: 'etcd://127.0.0.1:2379',
  } as unknown as DaemonConfig;
  const networks = {
    list: () => [{ Name: 'n1', Driver: 'ipvlan', IPAM: { Driver: 'default' } }] as never,
  };
  const volumes = { list: () => [{ name: 'v1', driver: 'memvol' }] as never };
  const src = { config, storageDriver: 'copyfs', networks, volumes };
  t.regex(driverUsers(src, 'storage', 'copyfs')[0]!, /storage driver this daemon runs with/);
  t.deepEqual(driverUsers(src, 'storage', 'vfs'), []);
  t.deepEqual(driverUsers(src, 'network', 'ipvlan'), ['network n1']);
  t.deepEqual(driverUsers(src, 'ipam', 'default'), ['network n1']);
  t.deepEqual(driverUsers(src, 'volume', 'memvol'), ['volume v1']);
  t.deepEqual(driverUsers(src, 'volume', 'other'), []);
  t.deepEqual(driverUsers(src, 'runtime', 'fancy'), ['runtime fancy in the daemon config']);
  t.deepEqual(driverUsers(src, 'runtime', 'linux'), ['runtime runc in the daemon config']);
  t.is(driverUsers(src, 'firewall', 'nftables').length, 1);
  t.is(driverUsers(src, 'clusterstore', 'etcd').length, 1);
});

test('a register() or an import that never finishes fails after the timeout; a late provide() does not count', async (t) => {
  const root = await tmp(t);
  const nm = join(root, 'node_modules');
  const pkg = async (name: string, code: string) => {
    await mkdir(join(nm, name), { recursive: true });
    await writeFile(
      join(nm, name, 'package.json'),
      JSON.stringify({ name, type: 'module', skiff: { apiVersion: 1, kind: 'volume', name, entry: './index.js' } }),
    );
    await writeFile(join(nm, name, 'index.js'), code);
  };
  await pkg(
    'hangs',
    `export default { apiVersion: 1, kind: 'volume', name: 'hangs', register(r) { return new Promise((ok) => setTimeout(() => { try { r.provide(() => ({})); } catch {} ok(); }, 600)); } };`,
  );
  await pkg('tla', `await new Promise(() => {}); export default {};`);
  await pkg(
    'quick',
    `export default { apiVersion: 1, kind: 'volume', name: 'quick', register(r) { r.provide(() => ({ name: 'quick' })); } };`,
  );
  const registry = new DriverRegistry();
  const lines: string[] = [];
  const started = Date.now();
  const status = await loadPlugins(
    ['hangs', 'tla', 'quick'].map((spec) => ({ spec, missingOk: false })),
    [nm],
    registry,
    {
      dataRoot: join(root, 'data'),
      execRoot: join(root, 'exec'),
      log: new ConsoleLogger('debug', '', (l) => lines.push(l)),
      settings: () => ({}),
      service: () => undefined,
      registerTimeoutMs: 200,
    },
  );
  t.true(Date.now() - started < 5_000);
  t.like(status[0], { state: 'failed', reason: 'register() failed: timed out after 0.2 s' });
  t.like(status[1], { state: 'failed', reason: 'cannot import ./index.js: timed out after 0.2 s' });
  t.like(status[2], { state: 'loaded' });
  await new Promise((r) => setTimeout(r, 800));
  t.false(registry.has('volume', 'hangs'), 'the late provide() was ignored');
  t.true(registry.has('volume', 'quick'));
});

test('registry remove drops a driver and hands back its started instances', async (t) => {
  const r = new DriverRegistry();
  r.add('volume', 'v', { packageName: 'p', factory: () => ({ name: 'v' }) as never });
  await r.get('volume', 'v');
  const dropped = await Promise.all(r.remove('volume', 'v'));
  t.deepEqual(dropped, [{ name: 'v' }]);
  t.false(r.has('volume', 'v'));
  t.deepEqual(await r.startedInstances('volume', 'v'), []);
  r.add('volume', 'v', { packageName: 'p', factory: () => ({ name: 'v2' }) as never });
  t.deepEqual(await r.get('volume', 'v'), { name: 'v2' } as never);
});

test('store: state survives reopening, stray pulls are collected, a corrupt state file is one clear error', async (t) => {
  const dir = await tmp(t);
  const s = new PluginStore(dir, hostCoreDir);
  await s.open();
  t.true(JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).private);
  // Plugins resolve their peerDependency to this host's own @skiff/core.
  t.is(await realpath(join(dir, 'node_modules', '@skiff', 'core')), await realpath(hostCoreDir));
  await s.put({
    package: 'skiff-plugin-x',
    version: '1.0.0',
    integrity: 'sha512-x',
    kind: 'volume',
    driver: 'x',
    enabled: false,
    spec: 'skiff-plugin-x',
    tarball: 'kept.tgz',
    installedAt: new Date(0).toISOString(),
  });
  await writeFile(join(dir, 'tarballs', 'kept.tgz'), 'x');
  await writeFile(join(dir, 'tarballs', 'stray.tgz'), 'x');
  await mkdir(join(dir, 'tarballs', '.pull-abc'));
  const again = new PluginStore(dir, hostCoreDir);
  await again.open();
  t.like(again.get('skiff-plugin-x'), { version: '1.0.0', enabled: false });
  t.deepEqual(await readdir(join(dir, 'tarballs')), ['kept.tgz']);
  await writeFile(join(dir, 'skiff-plugins.json'), '{"plugins": 3}');
  await t.throwsAsync(new PluginStore(dir, hostCoreDir).open(), { message: /plugin store state .* is unreadable/ });
});
