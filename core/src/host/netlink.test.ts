import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { InvalidParameterError, NotFoundError, NotImplementedError } from '../plugin-api/errors.js';
import {
  configureNetns,
  IpNetlink,
  ipBatch,
  macFromIPv4,
  routeMetric,
  sameCidr,
  setDefaultRoutes,
  validIfName,
} from './netlink.js';
import { testNetns } from '../testkit/netns.js';

// Every link here lives in namespaces the test creates; the host's own namespace is never touched.
const sh = promisify(execFile);

const netns = (t: ExecutionContext, role: string) => testNetns(t, `sk-nl-${role}`);

async function links(ns: string): Promise<Array<{ ifname: string; master?: string; mtu: number; address: string }>> {
  return JSON.parse((await sh('ip', ['-n', ns, '-j', 'link', 'show'])).stdout);
}

async function addrs(ns: string, dev: string): Promise<string[]> {
  const out = JSON.parse((await sh('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev])).stdout) as Array<{
    addr_info: Array<{ local: string; prefixlen: number }>;
  }>;
  return out.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).filter((a) => !a.startsWith('fe80:'));
}

/** This machine's kernel is built without CONFIG_VLAN_8021Q; other kernels have it. */
async function vlanSupported(): Promise<boolean> {
  try {
    const { stdout } = await sh('sh', ['-c', 'zcat /proc/config.gz']);
    return /^CONFIG_VLAN_8021Q=[ym]/m.test(stdout);
  } catch {
    return true;
  }
}

async function ping(ns: string, ip: string): Promise<boolean> {
  try {
    await sh('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '5', ip]);
    return true;
  } catch {
    return false;
  }
}

test('macFromIPv4 derives Docker-style MACs and validIfName checks names', (t) => {
  t.is(macFromIPv4('172.17.0.2'), '02:42:ac:11:00:02');
  t.is(macFromIPv4('10.1.255.3/24'), '02:42:0a:01:ff:03');
  t.throws(() => macFromIPv4('300.1.1.1'), { instanceOf: InvalidParameterError });
  t.true(validIfName('eth0.10'));
  t.false(validIfName('a-name-longer-than-15'));
  t.false(validIfName('bad/name'));
  t.false(validIfName(''));
  t.is(routeMetric('eth0'), 0);
  t.is(routeMetric('eth12'), 12);
  t.is(routeMetric('net'), 1000);
});

test('ip backend: bridge, veth into a namespace, addresses, routes, ping, delete', async (t) => {
  const host = await netns(t, 'h');
  const ctr = await netns(t, 'c');
  const nl = new IpNetlink(host.path);
  await nl.createBridge('br-t', { mtu: 1400 });
  await nl.createBridge('br-t', { mtu: 1400, mayExist: true });
  await nl.addAddress('br-t', '10.201.0.1/24');
  await nl.createVeth({
    name: 'vh0',
    master: 'br-t',
    mtu: 1400,
    peer: { name: 'eth0', netnsPath: ctr.path, mac: '02:42:0a:c9:00:02', mtu: 1400 },
  });
  await configureNetns(ctr.path, {
    ifName: 'eth0',
    addresses: ['10.201.0.2/24'],
    routes: [{ dst: 'default', gw: '10.201.0.1' }],
    loopback: true,
  });
  const hl = await links(host.name);
  t.is(hl.find((l) => l.ifname === 'vh0')?.master, 'br-t');
  const cl = (await links(ctr.name)).find((l) => l.ifname === 'eth0');
  t.is(cl?.address, '02:42:0a:c9:00:02');
  t.is(cl?.mtu, 1400);
  t.deepEqual(await addrs(ctr.name, 'eth0'), ['10.201.0.2/24']);
  t.true(await ping(ctr.name, '10.201.0.1'));
  t.deepEqual(await nl.listAddresses('br-t'), ['10.201.0.1/24']);
  await nl.addAddress('br-t', 'fd00:201::1/64');
  t.deepEqual(await nl.listAddresses('br-t'), ['10.201.0.1/24', 'fd00:201::1/64']);
  await nl.deleteAddress('br-t', 'fd00:201::1/64');
  await nl.deleteAddress('br-t', 'fd00:201::1/64');
  t.true(sameCidr('fd00:201::1/64', 'fd00:201:0:0:0:0:0:1/64'));
  t.false(sameCidr('fd00:201::1/64', 'fd00:201::1/48'));
  await t.throwsAsync(nl.listAddresses('nope0'), { instanceOf: NotFoundError });
  // A second network with its own default route: both coexist, the first one (metric 0) wins,
  // until the core keeps one (setDefaultRoutes).
  await nl.createBridge('br-u');
  await nl.addAddress('br-u', '10.203.0.1/24');
  await nl.createVeth({ name: 'vh1', master: 'br-u', peer: { name: 'eth1', netnsPath: ctr.path } });
  await configureNetns(ctr.path, {
    ifName: 'eth1',
    addresses: ['10.203.0.2/24'],
    routes: [{ dst: 'default', gw: '10.203.0.1' }],
  });
  const defaults = (await sh('ip', ['-n', ctr.name, 'route', 'show', 'default'])).stdout.trim().split('\n');
  t.deepEqual(
    defaults.map((l) => l.replace(/\s+/g, ' ').trim()),
    ['default via 10.201.0.1 dev eth0', 'default via 10.203.0.1 dev eth1 metric 1'],
  );
  const routes = async (six = false) =>
    (await sh('ip', ['-n', ctr.name, ...(six ? ['-6'] : []), 'route', 'show', 'default'])).stdout
      .trim()
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' ').trim())
      .filter(Boolean);
  await nl.addAddress('br-u', 'fd00:203::1/64');
  await configureNetns(ctr.path, {
    ifName: 'eth1',
    addresses: ['fd00:203::2/64'],
    routes: [{ dst: '::/0', gw: 'fd00:203::1' }],
  });
  await setDefaultRoutes(
    ctr.path,
    { v4: { gw: '10.203.0.1', dev: 'eth1' }, v6: { gw: 'fd00:203::1', dev: 'eth1' } },
    true,
  );
  t.deepEqual(await routes(), ['default via 10.203.0.1 dev eth1']);
  t.deepEqual(await routes(true), ['default via fd00:203::1 dev eth1 metric 1024 pref medium']);
  // A driver's route of the metric the kept one has replaces it (the core settles them after).
  await configureNetns(ctr.path, { ifName: 'eth0', addresses: [], routes: [{ dst: 'default', gw: '10.201.0.1' }] });
  t.deepEqual(await routes(), ['default via 10.201.0.1 dev eth0']);
  await setDefaultRoutes(ctr.path, {}, true);
  t.deepEqual([...(await routes()), ...(await routes(true))], []);
  await t.throwsAsync(setDefaultRoutes(ctr.path, { v4: { gw: '10.203.0.1', dev: 'bad dev' } }, false), {
    instanceOf: InvalidParameterError,
  });
  t.is((await nl.getLink('vh0'))?.kind, 'veth');

  t.true(await nl.deleteLink('vh0'));
  t.false(await nl.deleteLink('vh0'));
  t.false((await links(ctr.name)).some((l) => l.ifname === 'eth0'));
});

test('ip backend: vlan and macvlan on a veth parent, bad input', async (t) => {
  const host = await netns(t, 'h');
  const ctr = await netns(t, 'c');
  const nl = new IpNetlink(host.path);
  await ipBatch(['link add pa type veth peer name pb', 'link set pa up', 'link set pb up'], { netns: host.path });
  if (await vlanSupported()) {
    await nl.createVlan('pa.10', 'pa', 10);
    t.is((await nl.getLink('pa.10'))?.kind, 'vlan');
    t.true(await nl.deleteLink('pa.10'));
  } else {
    await t.throwsAsync(nl.createVlan('pa.10', 'pa', 10), { instanceOf: NotImplementedError, message: /802\.1q/ });
  }
  await nl.createMacvlan({ name: 'mv0', parent: 'pa', mode: 'bridge', netnsPath: ctr.path });
  t.true((await links(ctr.name)).some((l) => l.ifname === 'mv0'));

  await t.throwsAsync(nl.createMacvlan({ name: 'mv1', parent: 'nope0', mode: 'bridge' }), {
    instanceOf: NotFoundError,
  });
  await t.throwsAsync(nl.createVlan('nope0.5', 'nope0', 5), { instanceOf: NotFoundError });
  await t.throwsAsync(nl.createVlan('pa.5000', 'pa', 5000), { instanceOf: InvalidParameterError });
  await t.throwsAsync(nl.createBridge('br-x', { mtu: 10 }), { instanceOf: InvalidParameterError });
  await t.throwsAsync(nl.createBridge('bad name'), { instanceOf: InvalidParameterError });
  await t.throwsAsync(configureNetns('', { ifName: 'eth0', addresses: [] }), { instanceOf: InvalidParameterError });
  await t.throwsAsync(configureNetns(ctr.path, { ifName: 'eth0', addresses: ['10.0.0.1/24 dev lo'] }), {
    instanceOf: InvalidParameterError,
  });
});

// rtnetlink works on the daemon's own namespace, so this part runs in a child started inside a
// namespace the test made (`ip netns exec`), exactly as the daemon would run on a host.
const moduleUrl = new URL('./netlink.js', import.meta.url).href;
const childScript = `
import { openNetlink, configureNetns } from ${JSON.stringify(moduleUrl)};
const [ctrPath] = process.argv.slice(1);
const nl = openNetlink();
const out = { backend: nl.backend };
await nl.createBridge('br-r', { mtu: 1450 });
await nl.addAddress('br-r', '10.202.0.1/24');
await nl.addAddress('br-r', 'fd00:202::1/64');
await nl.createVeth({ name: 'vr0', master: 'br-r', mtu: 1450, peer: { name: 'eth1', netnsPath: ctrPath, mac: '02:42:0a:ca:00:02', mtu: 1450 } });
await configureNetns(ctrPath, { ifName: 'eth1', addresses: ['10.202.0.2/24'], routes: [{ dst: 'default', gw: '10.202.0.1' }] });
out.addrs = await nl.listAddresses('br-r');
await nl.addAddress('br-r', '10.250.0.1/16');
await nl.deleteAddress('br-r', '10.250.0.1/16');
await nl.deleteAddress('br-r', '10.250.0.1/16');
out.addrsAfter = await nl.listAddresses('br-r');
out.veth = await nl.getLink('vr0');
out.bridge = await nl.getLink('br-r');
await nl.createVeth({ name: 'pa', peer: { name: 'pb', netnsPath: '/proc/self/ns/net' } });
try { await nl.createVlan('pa.20', 'pa', 20); out.vlan = (await nl.getLink('pa.20'))?.kind; } catch (e) { out.vlan = e.name; }
await nl.createMacvlan({ name: 'mvr', parent: 'pa', mode: 'private', netnsPath: ctrPath, mac: '02:00:00:00:00:09' });
for (const f of [
  () => nl.createMacvlan({ name: 'mvx', parent: 'missing0', mode: 'bridge' }),
  () => nl.setLink('missing0', { up: true }),
  () => nl.createVeth({ name: 'vr0', peer: { name: 'x0', netnsPath: ctrPath } }),
  () => nl.createVeth({ name: 'vr9', peer: { name: 'x0', netnsPath: '/nonexistent/ns' } }),
]) {
  try { await f(); out.errors = [...(out.errors ?? []), 'none']; } catch (e) { out.errors = [...(out.errors ?? []), e.name]; }
}
out.links = (await nl.listLinks()).map((l) => l.name).sort();
out.del = [await nl.deleteLink('vr0'), await nl.deleteLink('vr0')];
nl.close();
console.log(JSON.stringify(out));
`;

test('rtnetlink backend inside a namespace: bridge, veth, vlan, macvlan, errors', async (t) => {
  const host = await netns(t, 'h');
  const ctr = await netns(t, 'c');
  const node = process.execPath;
  const { stdout } = await sh('ip', [
    'netns',
    'exec',
    host.name,
    node,
    '--input-type=module',
    '-e',
    childScript,
    ctr.path,
  ]);
  const out = JSON.parse(stdout);
  t.is(out.backend, 'rtnetlink');
  t.deepEqual(out.addrs, ['10.202.0.1/24', 'fd00:202:0:0:0:0:0:1/64']);
  t.deepEqual(out.addrsAfter, out.addrs);
  t.is(out.veth.kind, 'veth');
  t.is(out.veth.master, out.bridge.index);
  t.true(out.veth.up);
  t.is(out.bridge.mtu, 1450);
  t.is(out.vlan, (await vlanSupported()) ? 'vlan' : 'NotImplementedError');
  t.deepEqual(out.errors, ['NotFoundError', 'NotFoundError', 'SystemError', 'NotFoundError']);
  t.true(out.links.includes('br-r'));
  t.deepEqual(out.del, [true, false]);
  t.deepEqual(await addrs(host.name, 'br-r'), ['10.202.0.1/24', 'fd00:202::1/64']);
  const cl = await links(ctr.name);
  t.is(cl.find((l) => l.ifname === 'mvr')?.address, '02:00:00:00:00:09');
  t.false(cl.some((l) => l.ifname === 'eth1'));
  t.truthy(fileURLToPath(moduleUrl));
});
