import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api, docker, expectStartFailure, registryWithBusybox, startDaemon } from '../harness/index.js';
import { startNetnsDaemon, uid, uniqueSubnet } from '../harness/netns-daemon.js';

// Driver swaps by config. The storage driver, on a data root whose images belong to another driver:
// refused with what to do, unless allowed; allowed, the other driver's images stay aside and are
// back when it is used again (what dockerd does without asking).

test('a storage-driver change while the previous driver holds images is refused, saying how to go on', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d1 = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  let last = d1;
  t.teardown(() => last.stop());
  const pulled = await docker(['pull', '-q', reg.image], { host: d1.dockerHost });
  t.is(pulled.code, 0, pulled.stderr);
  await d1.stop({ keepState: true });
  const same = { root: d1.root, execRoot: d1.execRoot, socket: d1.socket, insecureRegistries: [reg.host] };

  const refused = await expectStartFailure({ storageDriver: 'vfs', ...same });
  t.not(refused.code, 0);
  t.regex(
    refused.output,
    /storage driver "vfs" cannot take over: this data root holds 1 image of storage driver "overlay"\. Start with "storage-driver": "overlay"/,
  );
  t.notRegex(refused.output, /^\s+at /m, 'one line, no stack trace');

  const d2 = await startDaemon({ storageDriver: 'vfs', ...same, config: { 'allow-storage-driver-switch': true } });
  last = d2;
  t.is((await docker(['info', '--format', '{{.Driver}}'], { host: d2.dockerHost })).stdout.trim(), 'vfs');
  t.is((await docker(['images', '-q'], { host: d2.dockerHost })).stdout, '', "overlay's image is kept aside");
  await d2.stop({ keepState: true });

  const d3 = await startDaemon({ storageDriver: 'overlay', ...same });
  last = d3;
  const images = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'], { host: d3.dockerHost });
  t.is(images.stdout.trim(), reg.image, 'back with its driver');
  const run = await docker(['run', '--rm', '--network', 'none', reg.image, 'true'], { host: d3.dockerHost });
  t.is(run.code, 0, run.stderr);
});

test('other driver kinds swap on restart for new objects: a new default runtime runs new containers, old ones keep theirs', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d1 = await startDaemon({ storageDriver: 'vfs', insecureRegistries: [reg.host] });
  let last = d1;
  t.teardown(() => last.stop());
  const host1 = d1.dockerHost;
  const old = await docker(['create', '--network', 'none', reg.image, 'sleep', '60'], { host: host1 });
  t.is(old.code, 0, old.stderr);
  const oldId = old.stdout.trim();
  await d1.stop({ keepState: true });
  const d2 = await startDaemon({
    storageDriver: 'vfs',
    root: d1.root,
    execRoot: d1.execRoot,
    socket: d1.socket,
    insecureRegistries: [reg.host],
    config: { runtimes: { 'runc-b': { path: 'runc' } }, 'default-runtime': 'runc-b' },
  });
  last = d2;
  const host = d2.dockerHost;
  t.is((await docker(['info', '--format', '{{.DefaultRuntime}}'], { host })).stdout.trim(), 'runc-b');
  const fresh = await docker(['run', '-d', '--network', 'none', reg.image, 'sleep', '60'], { host });
  t.is(fresh.code, 0, fresh.stderr);
  t.is((await docker(['start', oldId], { host })).code, 0);
  const runtimes = await docker(
    ['inspect', '-f', '{{.HostConfig.Runtime}} {{.State.Running}}', oldId, fresh.stdout.trim()],
    {
      host,
    },
  );
  t.is(runtimes.stdout, 'runc true\nrunc-b true\n');
  await docker(['rm', '-f', oldId, fresh.stdout.trim()], { host });
});

/** A third-party plugin package in a temp dir (daemon.json `plugins` takes its path). */
async function pluginPackage(kind: string, name: string, code: string): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'skf-swap-')), `skiff-plugin-${name}`);
  await mkdir(dir);
  const skiff = { apiVersion: 1, kind, name, entry: './index.js' };
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: `skiff-plugin-${name}`, version: '1.0.0', type: 'module', skiff }),
  );
  await writeFile(
    join(dir, 'index.js'),
    `export default { apiVersion: 1, kind: '${kind}', name: '${name}', register(r) { r.provide(() => (${code})); } };`,
  );
  return dir;
}

// An IPAM driver that hands out addresses from the top of the subnet down (in memory).
const TOPDOWN = `(() => {
  const pools = new Map();
  let n = 0;
  return {
    name: 'topdown',
    async requestPool({ pool, gateway, v6 }) {
      if (!pool || v6) throw new Error('topdown needs an IPv4 subnet');
      const [base, bits] = pool.split('/');
      const prefix = base.split('.').slice(0, 3).join('.');
      const poolId = 'td' + ++n;
      pools.set(poolId, { prefix, bits, next: 254 });
      return { poolId, subnet: pool, gateway: gateway || prefix + '.1' };
    },
    async releasePool(id) { pools.delete(id); },
    async requestAddress(id, opts = {}) {
      const p = pools.get(id);
      if (!p) throw new Error('no pool ' + id);
      return (opts.preferred || p.prefix + '.' + p.next--) + '/' + p.bits;
    },
    async releaseAddress() {},
  };
})()`;

// A network driver that gives containers no interface (its endpoints only hold IPAM's addresses).
const BLANK = `({
  name: 'blank',
  capabilities: () => ({ namespace: 'private', endpoints: true, needsIpam: true, portMapping: false, dns: false, scope: 'local' }),
  async createNetwork() { return {}; },
  async deleteNetwork() {},
  async attach() { return { interfaces: [], ips: [], routes: [] }; },
  async detach() {},
})`;

// A volume driver keeping its volumes in plain directories under its own root.
const DIRVOL = `(() => {
  const vols = new Map();
  return {
    name: 'dirvol',
    capabilities: () => ({ scope: 'local' }),
    async create(name, options, labels) {
      const mountpoint = r.paths.root + '/' + name;
      await (await import('node:fs/promises')).mkdir(mountpoint, { recursive: true });
      if (!vols.has(name)) vols.set(name, { name, driver: 'dirvol', mountpoint, createdAt: new Date(), scope: 'local', labels, options });
      return vols.get(name);
    },
    async get(name) { const v = vols.get(name); if (!v) throw Object.assign(new Error('no such volume'), { status: 404 }); return v; },
    async list() { return [...vols.values()]; },
    async remove(name) { vols.delete(name); },
    async mount(name) { return { path: vols.get(name).mountpoint }; },
    async unmount() {},
  };
})()`;

test('network, IPAM and volume drivers swap through config on restart: new objects get them, old ones keep theirs', async (t) => {
  const plugins = [
    await pluginPackage('ipam', 'topdown', TOPDOWN),
    await pluginPackage('network', 'blank', BLANK),
    await pluginPackage('volume', 'dirvol', DIRVOL),
  ];
  t.teardown(() => Promise.all(plugins.map((p) => rm(join(p, '..'), { recursive: true, force: true }))));
  const d = await startNetnsDaemon(t, { config: { plugins } });
  const ok = async (...args: string[]) => {
    const r = await d.cli(...args);
    t.is(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const [oldNet, oldVol] = [`old-${uid()}`, `oldv-${uid()}`];
  const oldSub = uniqueSubnet();
  await ok('network', 'create', '--subnet', oldSub.subnet, oldNet);
  await ok('volume', 'create', oldVol);

  await d.crash();
  await d.relaunch({
    plugins,
    'default-network-driver': 'blank',
    'default-ipam-driver': 'topdown',
    'default-volume-driver': 'dirvol',
  });
  const [newNet, newBridge, newVol] = [`new-${uid()}`, `newb-${uid()}`, `newv-${uid()}`];
  const newSub = uniqueSubnet();
  // API clients that name no driver (compose, the SDKs) get the configured defaults; the docker CLI
  // names its own (bridge, default, local), which win as any explicit choice does.
  const create = async (path: string, body: object) => {
    const r = await api(d.host, 'POST', path, body);
    t.is(r.status, 201, r.body);
  };
  const subnet = (s: string) => ({ Config: [{ Subnet: s }] });
  await create('/networks/create', { Name: newNet, IPAM: subnet(newSub.subnet) });
  await create('/networks/create', { Name: newBridge, Driver: 'bridge', IPAM: subnet(uniqueSubnet().subnet) });
  const explicit = `ex-${uid()}`;
  await ok('network', 'create', '--subnet', uniqueSubnet().subnet, explicit);
  const drivers = (net: string) => ok('network', 'inspect', '-f', '{{.Driver}} {{.IPAM.Driver}}', net);
  t.is(await drivers(oldNet), 'bridge default');
  t.is(await drivers(newNet), 'blank topdown');
  t.is(await drivers(newBridge), 'bridge topdown');
  t.is(await drivers(explicit), 'bridge default');

  // Containers get their addresses from their network's IPAM: skiffd's own from the bottom, topdown from the top.
  const [a, b] = [`a-${uid()}`, `b-${uid()}`];
  await ok('run', '-d', '--name', a, '--network', oldNet, d.image, 'sleep', '600');
  await ok('run', '-d', '--name', b, '--network', newNet, d.image, 'sleep', '600');
  const ip = (c: string, net: string) =>
    ok('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c);
  t.is(await ip(a, oldNet), `${oldSub.prefix}.2`);
  t.is(await ip(b, newNet), `${newSub.prefix}.254`);

  // Volumes: the new default for new ones (named, and -v of a missing one), the old one keeps local.
  await create('/volumes/create', { Name: newVol });
  const cliVol = `cliv-${uid()}`;
  await ok('volume', 'create', cliVol);
  const used = `u-${uid()}`;
  await ok('run', '--rm', '-v', `${used}:/data`, d.image, 'sh', '-c', 'echo kept > /data/f');
  const vdriver = (v: string) => ok('volume', 'inspect', '-f', '{{.Driver}}', v);
  t.is(await vdriver(oldVol), 'local');
  t.is(await vdriver(newVol), 'dirvol');
  t.is(await vdriver(cliVol), 'local', 'the CLI names local');
  t.is(await vdriver(used), 'dirvol');
  t.is(await ok('run', '--rm', '-v', `${used}:/data`, d.image, 'cat', '/data/f'), 'kept');
  t.is(await ok('run', '--rm', '-v', `${oldVol}:/data`, d.image, 'true'), '', 'an old local volume still mounts');

  // An unknown default is a clear error for objects that would use it.
  await d.crash();
  await d.relaunch({ plugins, 'default-ipam-driver': 'nosuch' });
  const bad = await api(d.host, 'POST', '/networks/create', {
    Name: `bad-${uid()}`,
    IPAM: subnet(uniqueSubnet().subnet),
  });
  t.is(bad.status, 404);
  t.is((bad.json as { message?: string }).message, 'plugin "nosuch" not found');
  await ok('rm', '-f', a, b);
});
