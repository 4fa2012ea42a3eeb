import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphDriver } from '@skiff/core/plugin-api';
import { graphDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import {
  api,
  docker,
  registryWithBusybox,
  repoRoot,
  run,
  skiff,
  skiffBin,
  startDaemon,
  type Daemon,
} from '../harness/index.js';
import { type Spec, validateIn } from '../harness/api-schema.js';
import { spawnPty } from '../harness/pty-screen.js';

// Third-party plugins through the plugin store: `npm pack` of the copyfs fixture (kept outside the
// workspaces), `skiff plugin install ./it.tgz --yes`, selected by daemon.json, running containers,
// and the storage conformance suite against the installed copy.

const fixture = join(repoRoot, 'test', 'fixtures', 'third-party-plugin');
const npmEnv = { ...process.env, PATH: `${join(process.execPath, '..')}:${process.env.PATH}` };

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    env: npmEnv,
    encoding: 'utf8',
  });
}

/** `npm pack <dir>` into a fresh temp dir; the tarball's path. */
function pack(dir: string): string {
  const out = execFileSync('mktemp', ['-d', join(tmpdir(), 'skf-pack-XXXXXX')], { encoding: 'utf8' }).trim();
  npm(['pack', dir, '--pack-destination', out], out);
  const [tgz] = execFileSync('ls', [out], { encoding: 'utf8' }).trim().split('\n');
  return join(out, tgz!);
}

const copyfsTgz = pack(fixture);
test.after.always(() => rm(join(copyfsTgz, '..'), { recursive: true, force: true }));

// The conformance suite runs against the package as npm installs it from the packed tarball
// (in a prefix laid out like skiffd's store: @skiff/core provided by the host). Tests are declared
// synchronously, so this is all synchronous (require() of an ES module works in Node 24).
const suitePrefix = mkdtempSync(join(tmpdir(), 'skf-copyfs-suite-'));
writeFileSync(join(suitePrefix, 'package.json'), '{"name":"suite-prefix","private":true}\n');
npm(['install', '--prefix', suitePrefix, '--legacy-peer-deps', copyfsTgz], suitePrefix);
mkdirSync(join(suitePrefix, 'node_modules', '@skiff'), { recursive: true });
symlinkSync(join(repoRoot, 'core'), join(suitePrefix, 'node_modules', '@skiff', 'core'));
const { CopyfsDriver } = createRequire(import.meta.url)(
  join(suitePrefix, 'node_modules', 'skiff-plugin-copyfs', 'driver.js'),
) as { CopyfsDriver: new (root: string) => GraphDriver };
test.after.always(() => rm(suitePrefix, { recursive: true, force: true }));
graphDriverSuite(test, 'copyfs (installed from npm pack)', async (root) => new CopyfsDriver(root));

const uid = () => randomBytes(4).toString('hex');
const msg = (r: { json: unknown }) => (r.json as { message: string }).message;

/** The skiff CLI in `cwd` (relative specs resolve there). */
function skiffIn(d: Daemon, cwd: string, args: string[], stdin = '') {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SKIFF_') && !k.startsWith('DOCKER_')) env[k] = v;
  return run(skiffBin, args, { cwd, stdin, env: { ...env, SKIFF_HOST: d.dockerHost } });
}

interface ListEntry {
  Package: string;
  Version: string;
  Name: string;
  Kind: string;
  State: string;
  Reason: string;
  Source: string;
  Enabled: boolean;
  Integrity: string;
}

async function listed(d: Daemon, pkg: string): Promise<ListEntry | undefined> {
  const r = await api(d.dockerHost, 'GET', '/skiff/v1/plugins');
  return (r.json as { Plugins: ListEntry[] }).Plugins.find((p) => p.Package === pkg);
}

test('copyfs: npm pack, skiff plugin install --yes, selected by daemon.json, runs containers, in use cannot go', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d1 = await startDaemon({ storageDriver: 'vfs' });
  t.teardown(() => d1.stop());
  const dir = join(copyfsTgz, '..');

  const install = await skiffIn(d1, dir, ['plugin', 'install', `./${copyfsTgz.split('/').pop()}`, '--yes']);
  t.is(install.code, 0, install.stderr);
  const integrity = `sha512-${createHash('sha512').update(readFileSync(copyfsTgz)).digest('base64')}`;
  t.regex(install.stdout, /Package: +skiff-plugin-copyfs/);
  t.regex(install.stdout, /Version: +1\.0\.0/);
  t.regex(install.stdout, /Kind: +storage/);
  t.true(install.stdout.includes(`Integrity:  ${integrity}`), install.stdout);
  t.regex(install.stdout, /installed and enabled skiff-plugin-copyfs@1\.0\.0/);
  const entry = await listed(d1, 'skiff-plugin-copyfs');
  t.like(entry, {
    State: 'loaded',
    Source: 'store',
    Enabled: true,
    Kind: 'storage',
    Name: 'copyfs',
    Integrity: integrity,
  });
  // The store is an npm prefix whose lock records the same integrity.
  const lock = JSON.parse(await readFile(join(d1.root, 'plugins', 'package-lock.json'), 'utf8'));
  t.is(lock.packages['node_modules/skiff-plugin-copyfs'].integrity, integrity);
  const ls = await skiff(['plugin', 'ls'], { host: d1.dockerHost });
  t.regex(ls.stdout, /storage\s+copyfs\s+skiff-plugin-copyfs\s+1\.0\.0\s+loaded/);

  // Swap the storage driver by config: restart on the same root with "storage-driver": "copyfs".
  await d1.stop({ keepState: true });
  const d2 = await startDaemon({
    storageDriver: 'vfs',
    root: d1.root,
    execRoot: d1.execRoot,
    socket: d1.socket,
    insecureRegistries: [reg.host],
    config: { 'storage-driver': 'copyfs' },
  });
  t.teardown(() => d2.stop());
  const info = await docker(['info', '--format', '{{.Driver}}'], { host: d2.dockerHost });
  t.is(info.stdout.trim(), 'copyfs', info.stderr);
  const name = `copyfs-${uid()}`;
  const r = await docker(
    ['run', '--name', name, '--network', 'none', reg.image, 'sh', '-c', 'echo hi > /f && cat /f'],
    {
      host: d2.dockerHost,
    },
  );
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'hi');
  // The container's rootfs is a copyfs tree.
  t.true((await readdir(join(d2.root, 'plugins', 'storage-copyfs', 'trees'))).length >= 2);

  // Disabling or removing the storage driver the daemon runs with is refused (409).
  const dis = await api(d2.dockerHost, 'POST', '/skiff/v1/plugins/skiff-plugin-copyfs/disable');
  t.is(dis.status, 409);
  t.regex(msg(dis), /in use \(it is the storage driver this daemon runs with/);
  const rm1 = await skiff(['plugin', 'rm', 'skiff-plugin-copyfs'], { host: d2.dockerHost });
  t.is(rm1.code, 1);
  t.regex(rm1.stderr, /cannot remove plugin skiff-plugin-copyfs: its storage driver "copyfs" is in use/);
  t.like(await listed(d2, 'skiff-plugin-copyfs'), { State: 'loaded', Enabled: true });
  await docker(['rm', '-f', name], { host: d2.dockerHost });
});

test('install asks: on a terminal y/N, without one and without --yes it refuses', async (t) => {
  const d = await startDaemon({ storageDriver: 'vfs' });
  t.teardown(() => d.stop());
  const r = await skiff(['plugin', 'install', copyfsTgz], { host: d.dockerHost, stdin: 'y\n' });
  t.is(r.code, 1);
  t.regex(r.stdout, /Package: +skiff-plugin-copyfs/);
  t.regex(r.stderr, /refusing to install skiff-plugin-copyfs without confirmation: .* pass --yes/);
  t.is(await listed(d, 'skiff-plugin-copyfs'), undefined);
  t.false(existsSync(join(d.root, 'plugins', 'node_modules', 'skiff-plugin-copyfs')));

  // On a terminal it asks y/N: "n" installs nothing, "y" installs.
  const ask = async (answer: string, outcome: RegExp) => {
    const pty = spawnPty([skiffBin, 'plugin', 'install', copyfsTgz], {
      cols: 200,
      rows: 30,
      env: { SKIFF_HOST: d.dockerHost },
    });
    t.teardown(() => pty.kill());
    await pty.waitFor(/Install skiff-plugin-copyfs@1\.0\.0\? \[y\/N\]/, 60_000);
    t.regex(pty.text(), /A plugin runs as root inside skiffd/);
    pty.write(`${answer}\r`);
    await pty.waitFor(outcome, 60_000);
    return pty.exited;
  };
  t.is(await ask('n', /Not installed/), 1);
  t.is(await listed(d, 'skiff-plugin-copyfs'), undefined);
  t.is(await ask('y', /installed and enabled skiff-plugin-copyfs@1\.0\.0/), 0);
  t.like(await listed(d, 'skiff-plugin-copyfs'), { State: 'loaded', Enabled: true });
});

/** A plugin package directory made in the test (npm packs directories too). */
async function pluginDir(name: string, pkg: Record<string, unknown>, code: string): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'skf-plg-')), name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', ...pkg }));
  await writeFile(join(dir, 'index.js'), code);
  return dir;
}

const peer = { peerDependencies: { '@skiff/core': '^0.1.0' } };

/** A volume driver in a few lines: volumes are directories under the plugin's root. */
const memVolumeCode = (name: string) => `
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
const vols = new Map();
export default { apiVersion: 1, kind: 'volume', name: '${name}', register(r) {
  r.provide(() => ({
    name: '${name}',
    capabilities: () => ({ scope: 'local' }),
    async create(n, options, labels) {
      if (!vols.has(n)) { const mountpoint = join(r.paths.root, n); await mkdir(mountpoint, { recursive: true });
        vols.set(n, { name: n, driver: '${name}', mountpoint, createdAt: new Date(), scope: 'local', labels, options }); }
      return vols.get(n);
    },
    async get(n) { const v = vols.get(n); if (!v) throw Object.assign(new Error('no such volume'), { status: 404 }); return v; },
    async list() { return [...vols.values()]; },
    async remove(n) { const v = vols.get(n); vols.delete(n); if (v) await rm(v.mountpoint, { recursive: true, force: true }); },
    async mount(n) { return { path: vols.get(n).mountpoint }; },
    async unmount() {},
  }));
} };`;

test('enable, disable and rm of a volume plugin take effect at once; a driver in use is kept', async (t) => {
  const drv = `memvol${uid()}`;
  const dir = await pluginDir(
    `skiff-plugin-${drv}`,
    { ...peer, skiff: { apiVersion: 1, kind: 'volume', name: drv, entry: './index.js' } },
    memVolumeCode(drv),
  );
  t.teardown(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const d = await startDaemon({ storageDriver: 'vfs' });
  t.teardown(() => d.stop());
  const pkg = `skiff-plugin-${drv}`;
  const cli = (...args: string[]) => skiff(args, { host: d.dockerHost });
  const dk = (...args: string[]) => docker(args, { host: d.dockerHost });

  t.is((await cli('plugin', 'install', '--yes', dir)).code, 0);
  const vol = `v-${uid()}`;
  const created = await dk('volume', 'create', '-d', drv, vol);
  t.is(created.code, 0, created.stderr);

  const dis = await cli('plugin', 'disable', pkg);
  t.is(dis.code, 1);
  t.regex(dis.stderr, new RegExp(`volume driver "${drv}" is in use \\(volume ${vol}\\)`));
  t.is((await dk('volume', 'rm', vol)).code, 0);

  const dis2 = await cli('plugin', 'disable', pkg);
  t.is(dis2.code, 0, dis2.stderr);
  t.regex(dis2.stdout, new RegExp(`disabled ${pkg}`));
  t.like(await listed(d, pkg), { State: 'disabled', Enabled: false });
  const ls = await cli('plugin', 'ls');
  t.regex(ls.stdout, new RegExp(`volume\\s+${drv}\\s+${pkg}\\s+1\\.0\\.0\\s+disabled`));
  const refused = await dk('volume', 'create', '-d', drv, `w-${uid()}`);
  t.not(refused.code, 0);

  const en = await cli('plugin', 'enable', pkg);
  t.is(en.code, 0, en.stderr);
  t.like(await listed(d, pkg), { State: 'loaded', Enabled: true });
  const again = await dk('volume', 'create', '-d', drv, `x-${uid()}`);
  t.is(again.code, 0, again.stderr);
  await dk('volume', 'rm', again.stdout.trim());

  const insp = await cli('plugin', 'inspect', pkg);
  t.is(insp.code, 0);
  const [i] = JSON.parse(insp.stdout) as Array<Record<string, unknown>>;
  t.like(i, { Package: pkg, Kind: 'volume', Name: drv, State: 'loaded', Source: 'store', Enabled: true });
  t.regex(String(i!.Integrity), /^sha512-/);

  const removed = await cli('plugin', 'rm', pkg);
  t.is(removed.code, 0, removed.stderr);
  t.is(await listed(d, pkg), undefined);
  t.false(existsSync(join(d.root, 'plugins', 'node_modules', pkg)));
  t.is((await api(d.dockerHost, 'GET', `/skiff/v1/plugins/${pkg}`)).status, 404);
  t.not((await dk('volume', 'create', '-d', drv, `y-${uid()}`)).code, 0);
});

test('upgrade installs the new version; code already running is replaced at restart', async (t) => {
  const drv = `upg${uid()}`;
  const pkg = `skiff-plugin-${drv}`;
  const skiffField = { apiVersion: 1, kind: 'volume', name: drv, entry: './index.js' };
  const v1 = await pluginDir(pkg, { ...peer, skiff: skiffField }, memVolumeCode(drv));
  const v2 = await pluginDir(pkg, { ...peer, version: '2.0.0', skiff: skiffField }, memVolumeCode(drv));
  t.teardown(() => Promise.all([v1, v2].map((p) => rm(join(p, '..'), { recursive: true, force: true }))));
  const d = await startDaemon({ storageDriver: 'vfs' });
  t.teardown(() => d.stop());
  t.is((await skiff(['plugin', 'install', '-y', v1], { host: d.dockerHost })).code, 0);
  const up = await skiff(['plugin', 'upgrade', '--yes', pkg, v2], { host: d.dockerHost });
  t.is(up.code, 0, up.stderr);
  t.regex(up.stdout, /Version: +2\.0\.0/);
  t.regex(up.stdout, new RegExp(`upgraded ${pkg} to 2\\.0\\.0; takes effect when skiffd restarts`));
  t.like(await listed(d, pkg), { State: 'loaded' });
  const insp = (await api(d.dockerHost, 'GET', `/skiff/v1/plugins/${pkg}`)).json as Record<string, unknown>;
  t.like(insp, { Version: '2.0.0', RestartRequired: true });
  // Removed and installed again in another version: this process still has the old code imported.
  t.is((await skiff(['plugin', 'rm', pkg], { host: d.dockerHost })).code, 0);
  const re = await skiff(['plugin', 'install', '-y', v2], { host: d.dockerHost });
  t.is(re.code, 0, re.stderr);
  t.regex(re.stdout, /it loads when skiffd restarts/);
  t.like(await listed(d, pkg), { State: 'pending', Enabled: true });
  await d.stop({ keepState: true });
  const d2 = await startDaemon({ storageDriver: 'vfs', root: d.root, execRoot: d.execRoot, socket: d.socket });
  t.teardown(() => d2.stop());
  t.like(await listed(d2, pkg), { State: 'loaded', Enabled: true, Version: '2.0.0' });
  t.like((await api(d2.dockerHost, 'GET', `/skiff/v1/plugins/${pkg}`)).json as object, { RestartRequired: false });
  const other = await pluginDir('skiff-plugin-someone-else', { ...peer, skiff: { ...skiffField, name: 'x' } }, '');
  t.teardown(() => rm(join(other, '..'), { recursive: true, force: true }));
  const wrong = await api(d2.dockerHost, 'POST', `/skiff/v1/plugins/${pkg}/upgrade?spec=${encodeURIComponent(other)}`);
  t.is(wrong.status, 400);
  t.regex(msg(wrong), /is skiff-plugin-someone-else, not/);
});

test('bad input: no skiff field, wrong apiVersion, host range, bad specs, changed integrity, unknown names', async (t) => {
  const d = await startDaemon({ storageDriver: 'vfs' });
  t.teardown(() => d.stop());
  const pull = (spec: string) => api(d.dockerHost, 'POST', `/skiff/v1/plugins/pull?spec=${encodeURIComponent(spec)}`);
  const dirs: string[] = [];
  t.teardown(() => Promise.all(dirs.map((p) => rm(join(p, '..'), { recursive: true, force: true }))));
  const mk = async (name: string, pkg: Record<string, unknown>) => {
    const dir = await pluginDir(name, pkg, `throw new Error('this code must never run');`);
    dirs.push(dir);
    return dir;
  };

  // A tarball without a skiff field.
  const plain = pack(await mk(`plain-${uid()}`, { ...peer }));
  dirs.push(plain);
  const r1 = await skiff(['plugin', 'install', '--yes', plain], { host: d.dockerHost });
  t.is(r1.code, 1);
  t.regex(r1.stderr, /refused: plugin plain-[0-9a-f]+: package\.json has no "skiff" field/);

  const r2 = await pull(
    await mk('skiff-plugin-future', {
      ...peer,
      skiff: { apiVersion: 7, kind: 'volume', name: 'f', entry: './index.js' },
    }),
  );
  t.is(r2.status, 400);
  t.regex(msg(r2), /unsupported plugin apiVersion 7 \(this skiffd speaks 1\)/);

  const r3 = await pull(
    await mk('skiff-plugin-old', {
      peerDependencies: { '@skiff/core': '^9.0.0' },
      skiff: { apiVersion: 1, kind: 'volume', name: 'old', entry: './index.js' },
    }),
  );
  t.is(r3.status, 400);
  t.regex(msg(r3), /needs @skiff\/core \^9\.0\.0; this skiffd is 0\.1\.0/);
  const r4 = await pull(
    await mk('skiff-plugin-norange', { skiff: { apiVersion: 1, kind: 'volume', name: 'nr', entry: './index.js' } }),
  );
  t.is(r4.status, 400);
  t.regex(msg(r4), /declares no peerDependencies\["@skiff\/core"\] range/);
  const r5 = await pull(
    await mk('skiff-plugin-kind', {
      ...peer,
      skiff: { apiVersion: 1, kind: 'teleport', name: 'k', entry: './index.js' },
    }),
  );
  t.is(r5.status, 400);
  t.regex(msg(r5), /unknown plugin kind "teleport"/);

  for (const spec of ['--global', './relative.tgz', '/nonexistent/skf-nothing.tgz', '']) {
    const r = await pull(spec);
    t.is(r.status, 400, `${spec}: ${r.body}`);
  }
  t.regex(msg(await pull('./relative.tgz')), /relative path/);
  t.regex(msg(await pull('/nonexistent/skf-nothing.tgz')), /npm pack failed/);

  // Integrity confirmed in step one must still hold in step two.
  const ok = await mk(`skiff-plugin-ok${uid()}`, {
    ...peer,
    skiff: { apiVersion: 1, kind: 'volume', name: `ok${uid()}`, entry: './index.js' },
  });
  const preview = (await pull(ok)).json as { Integrity: string };
  t.regex(preview.Integrity, /^sha512-/);
  const changed = await api(
    d.dockerHost,
    'POST',
    `/skiff/v1/plugins/install?spec=${encodeURIComponent(ok)}&integrity=${encodeURIComponent('sha512-AAAA')}`,
  );
  t.is(changed.status, 409);
  t.regex(msg(changed), /changed since it was shown/);
  const noIntegrity = await api(d.dockerHost, 'POST', `/skiff/v1/plugins/install?spec=${encodeURIComponent(ok)}`);
  t.is(noIntegrity.status, 400);

  for (const [method, path] of [
    ['GET', '/skiff/v1/plugins/skiff-plugin-nope'],
    ['POST', '/skiff/v1/plugins/skiff-plugin-nope/enable'],
    ['POST', '/skiff/v1/plugins/skiff-plugin-nope/disable'],
    ['DELETE', '/skiff/v1/plugins/skiff-plugin-nope'],
    ['GET', `/skiff/v1/plugins/${encodeURIComponent('@scope/skiff-plugin-nope')}`],
  ] as const) {
    t.is((await api(d.dockerHost, method, path)).status, 404, `${method} ${path}`);
  }
  // Built-in plugins are not the store's to change.
  t.is((await api(d.dockerHost, 'DELETE', '/skiff/v1/plugins/@skiff%2Fstorage-vfs')).status, 409);
  // Nothing of the refused packages was installed, and no pulled tarball is left behind.
  const left = await readdir(join(d.root, 'plugins', 'tarballs'));
  t.deepEqual(left, []);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('a plugin that throws or hangs in register is reported failed and left disabled; the daemon keeps serving', async (t) => {
  const d = await startDaemon({ storageDriver: 'vfs', config: { 'plugin-register-timeout': 1 } });
  t.teardown(() => d.stop());
  const throws = await pluginDir(
    `skiff-plugin-throws${uid()}`,
    { ...peer, skiff: { apiVersion: 1, kind: 'volume', name: `throws${uid()}`, entry: './index.js' } },
    '',
  );
  const field = JSON.parse(await readFile(join(throws, 'package.json'), 'utf8')).skiff;
  await writeFile(
    join(throws, 'index.js'),
    `export default { apiVersion: 1, kind: 'volume', name: '${field.name}', register() { throw new Error('the plugin exploded'); } };`,
  );
  const hangs = await pluginDir(
    `skiff-plugin-hangs${uid()}`,
    { ...peer, skiff: { apiVersion: 1, kind: 'volume', name: 'hangs', entry: './index.js' } },
    `export default { apiVersion: 1, kind: 'volume', name: 'hangs', register() { return new Promise(() => {}); } };`,
  );
  const badImport = await pluginDir(
    `skiff-plugin-badimport${uid()}`,
    { ...peer, skiff: { apiVersion: 1, kind: 'volume', name: 'badimport', entry: './index.js' } },
    `import 'skiff-no-such-module';`,
  );
  t.teardown(() =>
    Promise.all([throws, hangs, badImport].map((p) => rm(join(p, '..'), { recursive: true, force: true }))),
  );
  const cases: Array<[string, RegExp]> = [
    [throws, /register\(\) failed: the plugin exploded/],
    [hangs, /register\(\) failed: timed out after 1 s/],
    [badImport, /cannot import \.\/index\.js: .*skiff-no-such-module/],
  ];
  for (const [dir, why] of cases) {
    const pkg = dir.split('/').pop()!;
    const r = await skiff(['plugin', 'install', '--yes', dir], { host: d.dockerHost });
    t.is(r.code, 1, `${pkg}: ${r.stdout}${r.stderr}`);
    t.regex(r.stdout, why);
    const e = await listed(d, pkg);
    t.like(e, { State: 'failed', Enabled: false });
    t.regex(e!.Reason, why);
    t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
    t.regex(d.output(), new RegExp(`plugin ${pkg}: `));
  }
  t.notRegex(d.output(), /\n\s+at /, 'no stack trace');
  const ls = await skiff(['plugin', 'ls'], { host: d.dockerHost });
  t.regex(ls.stdout, /failed\s+register\(\) failed: timed out after 1 s/);
});

test('GET /skiff/v1/openapi.json documents every native route, and their answers fit it', async (t) => {
  const d = await startDaemon({ storageDriver: 'vfs' });
  t.teardown(() => d.stop());
  const docRes = await api(d.dockerHost, 'GET', '/skiff/v1/openapi.json');
  t.is(docRes.status, 200);
  const doc = docRes.json as Spec & { openapi: string };
  t.is(doc.openapi, '3.0.3');
  t.deepEqual(Object.keys(doc.paths).sort(), [
    '/skiff/v1/openapi.json',
    '/skiff/v1/plugins',
    '/skiff/v1/plugins/install',
    '/skiff/v1/plugins/pull',
    '/skiff/v1/plugins/{name}',
    '/skiff/v1/plugins/{name}/disable',
    '/skiff/v1/plugins/{name}/enable',
    '/skiff/v1/plugins/{name}/upgrade',
  ]);
  const call = async (method: string, specPath: string, path: string, status: number) => {
    const r = await api(d.dockerHost, method, path);
    t.is(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
    t.deepEqual(validateIn(doc, specPath, method, r.status, r.json), [], `${method} ${path}`);
    return r.json as Record<string, unknown>;
  };
  const spec = encodeURIComponent(copyfsTgz);
  const pkg = 'skiff-plugin-copyfs';
  await call('GET', '/skiff/v1/plugins', '/skiff/v1/plugins', 200);
  const preview = await call('POST', '/skiff/v1/plugins/pull', `/skiff/v1/plugins/pull?spec=${spec}`, 200);
  const integrity = encodeURIComponent(String(preview.Integrity));
  await call('POST', '/skiff/v1/plugins/install', `/skiff/v1/plugins/install?spec=${spec}&integrity=${integrity}`, 200);
  await call('POST', '/skiff/v1/plugins/install', `/skiff/v1/plugins/install?spec=${spec}&integrity=${integrity}`, 409);
  await call('GET', '/skiff/v1/plugins/{name}', `/skiff/v1/plugins/${pkg}`, 200);
  await call('GET', '/skiff/v1/plugins/{name}', '/skiff/v1/plugins/no-such-plugin', 404);
  await call('POST', '/skiff/v1/plugins/{name}/disable', `/skiff/v1/plugins/${pkg}/disable`, 200);
  await call('POST', '/skiff/v1/plugins/{name}/enable', `/skiff/v1/plugins/${pkg}/enable`, 200);
  await call(
    'POST',
    '/skiff/v1/plugins/{name}/upgrade',
    `/skiff/v1/plugins/${pkg}/upgrade?spec=${spec}&integrity=${integrity}`,
    200,
  );
  await call('POST', '/skiff/v1/plugins/pull', '/skiff/v1/plugins/pull?spec=-rf', 400);
  await call('DELETE', '/skiff/v1/plugins/{name}', `/skiff/v1/plugins/${pkg}`, 200);
  await call('GET', '/skiff/v1/plugins', '/skiff/v1/plugins', 200);
});
