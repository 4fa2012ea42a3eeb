import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { networkDriverSuite } from '@skiff/core/testkit';
import {
  type AttachRequest,
  ConflictError,
  InvalidParameterError,
  type NetworkSpec,
  NotImplementedError,
} from '@skiff/core/plugin-api';
import test, { type ExecutionContext } from 'ava';
import { MacvlanDriver } from './macvlan-driver.js';
import { testNetns } from '@skiff/core/testkit';

// Parents are veth pairs made inside a namespace that plays the host; never a real NIC.
const sh = promisify(execFile);
const rand = () => randomBytes(3).toString('hex');

const netns = (t: ExecutionContext, role: string) => testNetns(t, `sk-mv-${role}`);

/** A veth pair pa/pb, both up, in `ns`: pa is the macvlan parent. */
async function parent(ns: string): Promise<void> {
  await sh('ip', ['-n', ns, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb']);
  await sh('ip', ['-n', ns, 'link', 'set', 'pa', 'up']);
  await sh('ip', ['-n', ns, 'link', 'set', 'pb', 'up']);
}

const ping = (ns: string, ip: string) =>
  sh('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '3', ip]).then(
    () => true,
    () => false,
  );

async function linkNames(ns: string): Promise<string[]> {
  return (JSON.parse((await sh('ip', ['-n', ns, '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map(
    (l) => l.ifname,
  );
}

async function vlanSupported(): Promise<boolean> {
  try {
    return /^CONFIG_VLAN_8021Q=[ym]/m.test((await sh('sh', ['-c', 'zcat /proc/config.gz'])).stdout);
  } catch {
    return true;
  }
}

function spec(options: Record<string, string>): NetworkSpec {
  return {
    id: randomBytes(32).toString('hex'),
    name: `mv-${rand()}`,
    driver: 'macvlan',
    internal: false,
    ipv6: false,
    options,
    labels: {},
  };
}

function request(net: NetworkSpec, netnsPath: string, n: number): AttachRequest {
  return {
    endpointId: randomBytes(32).toString('hex'),
    containerId: randomBytes(32).toString('hex'),
    dnsNames: [],
    network: net,
    netnsPath,
    ifName: 'eth0',
    addresses: [`10.230.0.${n}/24`],
    gateway: '10.230.0.1',
    ports: [],
    aliases: [],
    options: {},
  };
}

const pools = [{ poolId: 'p', subnet: '10.230.0.0/24', gateway: '10.230.0.1' }];

for (const [mode, reach] of [
  ['bridge', true],
  ['private', false],
] as const) {
  test(`macvlan ${mode}: two endpoints on one parent ${reach ? 'reach' : 'do not reach'} each other`, async (t) => {
    const host = await netns(t, 'h');
    await parent(host.name);
    const d = new MacvlanDriver({ netns: host.path });
    const net = spec({ parent: 'pa', macvlan_mode: mode });
    t.deepEqual(await d.createNetwork(net, pools), { parent: 'pa', mode, createdVlan: 'false' });
    const c1 = await netns(t, 'c');
    const c2 = await netns(t, 'c');
    const r1 = await d.attach(request(net, c1.path, 2));
    await d.attach(request(net, c2.path, 3));
    t.is(r1.interfaces[0]?.mac, '02:42:0a:e6:00:02');
    t.deepEqual(r1.routes, [{ dst: 'default', gw: '10.230.0.1' }]);
    const details = (await sh('ip', ['-n', c1.name, '-d', 'link', 'show', 'eth0'])).stdout;
    t.regex(details, new RegExp(`macvlan mode ${mode}`));
    t.is(await ping(c1.name, '10.230.0.3'), reach);
    await d.detach(request(net, c1.path, 2));
    await d.detach(request(net, c1.path, 2));
    t.false((await linkNames(c1.name)).includes('eth0'));
    await d.deleteNetwork(net);
    t.true((await linkNames(host.name)).includes('pa'), 'a parent we did not create stays');
  });
}

test('macvlan passthru takes the parent for one endpoint only', async (t) => {
  const host = await netns(t, 'h');
  await parent(host.name);
  const d = new MacvlanDriver({ netns: host.path });
  const net = spec({ parent: 'pa', macvlan_mode: 'passthru' });
  await d.createNetwork(net, pools);
  const c1 = await netns(t, 'c');
  const c2 = await netns(t, 'c');
  await d.attach({ ...request(net, c1.path, 2), mac: undefined });
  await t.throwsAsync(d.attach(request(net, c2.path, 3)));
  t.false((await linkNames(c2.name)).includes('eth0'));
});

test('macvlan: 802.1q parents are created and removed with the network', async (t) => {
  const host = await netns(t, 'h');
  await parent(host.name);
  const d = new MacvlanDriver({ netns: host.path });
  const net = spec({ parent: 'pa.10' });
  if (!(await vlanSupported())) {
    await t.throwsAsync(d.createNetwork(net, pools), { instanceOf: NotImplementedError, message: /802\.1q/ });
    t.false((await linkNames(host.name)).includes('pa.10'));
    return;
  }
  t.like(await d.createNetwork(net, pools), { createdVlan: 'true' });
  t.true((await linkNames(host.name)).includes('pa.10'));
  await d.deleteNetwork(net);
  t.false((await linkNames(host.name)).includes('pa.10'));
});

test('macvlan: bad input is refused before anything is made', async (t) => {
  const host = await netns(t, 'h');
  await parent(host.name);
  const d = new MacvlanDriver({ netns: host.path });
  const before = await linkNames(host.name);
  await t.throwsAsync(d.createNetwork(spec({ parent: 'nosuch0' }), pools), {
    instanceOf: InvalidParameterError,
    message: /nosuch0 was not found/,
  });
  await t.throwsAsync(d.createNetwork(spec({ parent: 'nosuch0.7' }), pools), {
    instanceOf: InvalidParameterError,
    message: /nosuch0/,
  });
  await t.throwsAsync(d.createNetwork(spec({}), pools), { instanceOf: InvalidParameterError, message: /parent/ });
  await t.throwsAsync(d.createNetwork(spec({ parent: 'pa', macvlan_mode: 'weird' }), pools), {
    instanceOf: InvalidParameterError,
  });
  await t.throwsAsync(d.createNetwork(spec({ parent: 'pa.5000' }), pools), { instanceOf: InvalidParameterError });
  t.deepEqual(await linkNames(host.name), before);
  const one = spec({ parent: 'pa' });
  await d.createNetwork(one, pools);
  await t.throwsAsync(d.createNetwork(spec({ parent: 'pa' }), pools), { instanceOf: ConflictError });
  await d.deleteNetwork(one);
});

networkDriverSuite(test, 'macvlan', async ({ hostNetns }) => new MacvlanDriver({ netns: hostNetns }), {
  async networkOptions({ hostNetns }) {
    const ns = hostNetns.replace(/^\/run\/netns\//, '');
    if (!(await linkNames(ns)).includes('pa')) await parent(ns);
    return { parent: 'pa' };
  },
});
