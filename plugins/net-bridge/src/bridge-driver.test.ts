import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type AttachRequest,
  type AttachResult,
  ConflictError,
  InvalidParameterError,
  type IpamPool,
  type NetworkSpec,
} from '@skiff/core/plugin-api';
import test, { type ExecutionContext } from 'ava';
import { RemoteBridgeDriver } from './testing/remote.js';
import { testNetns } from '@skiff/core/testkit';

// The driver runs in a child process inside a namespace that plays the host; the containers are
// namespaces too. Nothing here touches the machine's own interfaces, routes or nftables.
const sh = promisify(execFile);
const rand = () => randomBytes(3).toString('hex');
const NFT = '/usr/sbin/nft';

const netns = (t: ExecutionContext, role: string) => testNetns(t, `sk-br-${role}`);

const nsx = (ns: string, ...cmd: string[]) => sh('ip', ['netns', 'exec', ns, ...cmd]);
const ok = (p: Promise<unknown>) =>
  p.then(
    () => true,
    () => false,
  );
const ping = (ns: string, ip: string) => ok(nsx(ns, 'busybox', 'ping', '-c', '1', '-W', '3', ip));

async function hostLinks(ns: string): Promise<Array<{ ifname: string; master?: string; mtu: number }>> {
  return JSON.parse((await sh('ip', ['-n', ns, '-j', 'link', 'show'])).stdout);
}

/** busybox nslookup against `server`; the IPv4 addresses it printed for `name`, or null on failure. */
async function lookup(ns: string, name: string, server: string): Promise<string[] | null> {
  try {
    const { stdout } = await nsx(ns, 'busybox', 'nslookup', '-type=a', name, server);
    const after = stdout
      .split(/Name:\s+/)
      .slice(1)
      .join('\n');
    return [...after.matchAll(/Address:\s+(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!);
  } catch {
    return null;
  }
}

async function httpd(t: ExecutionContext, ns: string, port: number, body: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sk-br-www-'));
  await writeFile(join(dir, 'index.html'), body);
  const p = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', String(port), '-h', dir], {
    stdio: 'ignore',
  });
  t.teardown(async () => {
    p.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  for (;;) {
    const { stdout } = await nsx(ns, 'ss', '-Hltn');
    if (stdout.includes(`:${port} `)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function httpGet(ns: string, ip: string, port: number): Promise<string> {
  const cmd = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ip netns exec ${ns} busybox nc -w 5 ${ip} ${port}`;
  return sh('sh', ['-c', cmd]).then(
    (r) => r.stdout,
    () => '',
  );
}

function spec(name: string, over: Partial<NetworkSpec> = {}): NetworkSpec {
  return {
    id: randomBytes(32).toString('hex'),
    name,
    driver: 'bridge',
    internal: false,
    ipv6: false,
    options: {},
    labels: {},
    ...over,
  };
}

const pool = (prefix: string): IpamPool => ({ poolId: prefix, subnet: `${prefix}.0/24`, gateway: `${prefix}.1` });

interface World {
  host: { name: string; path: string };
  table: string;
  driver: RemoteBridgeDriver;
  config: { table: string; dnsPort: number; upstream: { port: number; names: Record<string, string> } };
  endpoint(net: NetworkSpec, prefix: string, n: number, over?: Partial<AttachRequest>): Promise<Endpoint>;
}
interface Endpoint {
  ns: { name: string; path: string };
  req: AttachRequest;
  ip: string;
}

async function world(t: ExecutionContext): Promise<World> {
  const host = await netns(t, 'h');
  const table = `skiff_t${rand()}`;
  const config = { table, dnsPort: 53, upstream: { port: 5353, names: { 'upstream.test': '192.0.2.123' } } };
  const driver = await RemoteBridgeDriver.start(host.name, config);
  t.teardown(() => driver.kill());
  return {
    host,
    table,
    driver,
    config,
    async endpoint(net, prefix, n, over = {}) {
      const ns = await netns(t, 'c');
      const ip = `${prefix}.${n}`;
      const req: AttachRequest = {
        endpointId: randomBytes(32).toString('hex'),
        containerId: randomBytes(32).toString('hex'),
        dnsNames: [`c${n}-${prefix.split('.')[2]}`],
        network: net,
        netnsPath: ns.path,
        ifName: 'eth0',
        addresses: [`${ip}/24`],
        gateway: `${prefix}.1`,
        ports: [],
        aliases: [],
        options: {},
        ...over,
      };
      return { ns, req, ip };
    },
  };
}

test('two endpoints on a network talk, DNS answers per network, other networks are isolated', async (t) => {
  const w = await world(t);
  const n1 = spec(`n1-${rand()}`, { options: { 'com.docker.network.driver.mtu': '1400' } });
  const n2 = spec(`n2-${rand()}`);
  await w.driver.createNetwork(n1, [pool('10.220.1')]);
  await w.driver.createNetwork(n2, [pool('10.220.2')]);
  const a = await w.endpoint(n1, '10.220.1', 2, { dnsNames: ['web', 'abc123'], aliases: ['www'] });
  const b = await w.endpoint(n1, '10.220.1', 3, { dnsNames: ['client'] });
  const c = await w.endpoint(n2, '10.220.2', 2, { dnsNames: ['other'] });
  const ra = await w.driver.attach(a.req);
  const rb = await w.driver.attach(b.req);
  await w.driver.attach(c.req);

  t.deepEqual(ra.ips, [{ address: '10.220.1.2/24', gateway: '10.220.1.1', interface: 1 }]);
  t.deepEqual(ra.routes, [{ dst: 'default', gw: '10.220.1.1' }]);
  t.deepEqual(ra.dns, { nameservers: ['10.220.1.1'] });
  t.is(ra.interfaces[1]?.mac, '02:42:0a:dc:01:02');
  t.is(ra.interfaces[1]?.sandbox, a.ns.path);
  const links = await hostLinks(w.host.name);
  const bridge = `skiff-${n1.id.slice(0, 9)}`;
  t.is(links.find((l) => l.ifname === ra.interfaces[0]?.name)?.master, bridge);
  t.is(links.find((l) => l.ifname === bridge)?.mtu, 1400);
  t.is((await hostLinks(a.ns.name)).find((l) => l.ifname === 'eth0')?.mtu, 1400);

  t.true(await ping(b.ns.name, a.ip), 'same network');
  t.false(await ping(c.ns.name, a.ip), 'other network: not by IP');
  t.deepEqual(await lookup(b.ns.name, 'web', '10.220.1.1'), ['10.220.1.2']);
  t.deepEqual(await lookup(b.ns.name, 'WWW', '10.220.1.1'), ['10.220.1.2'], 'alias, any case');
  t.deepEqual(await lookup(b.ns.name, `web.${n1.name}`, '10.220.1.1'), ['10.220.1.2']);
  t.deepEqual(await lookup(a.ns.name, 'client', '10.220.1.1'), ['10.220.1.3']);
  t.is(await lookup(c.ns.name, 'web', '10.220.2.1'), null, 'other network: not by name');
  t.is(await lookup(c.ns.name, 'web', '10.220.1.1'), null, "not even through the other network's gateway");
  t.deepEqual(await lookup(c.ns.name, 'upstream.test', '10.220.1.1'), ['192.0.2.123'], 'which still forwards');
  t.is(await lookup(b.ns.name, 'other', '10.220.1.1'), null);
  t.deepEqual(await lookup(b.ns.name, 'upstream.test', '10.220.1.1'), ['192.0.2.123'], 'forwarded upstream');

  // Detach is repeatable and takes the name with it.
  await w.driver.detach(a.req, ra);
  await w.driver.detach(a.req, ra);
  await w.driver.detach(a.req, null);
  t.is(await lookup(b.ns.name, 'web', '10.220.1.1'), null);
  t.false((await hostLinks(w.host.name)).some((l) => l.ifname === ra.interfaces[0]?.name));
  t.false((await hostLinks(a.ns.name)).some((l) => l.ifname === 'eth0'));

  await w.driver.detach(b.req, rb);
  await w.driver.deleteNetwork(n1);
  await w.driver.deleteNetwork(n1);
  t.false((await hostLinks(w.host.name)).some((l) => l.ifname === bridge));
});

test('published ports from the host on 127.0.0.1 and from other containers; port in use rolls back', async (t) => {
  const w = await world(t);
  const net = spec(`p-${rand()}`);
  await w.driver.createNetwork(net, [pool('10.221.1')]);
  const web = await w.endpoint(net, '10.221.1', 2, {
    ports: [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  });
  const peer = await w.endpoint(net, '10.221.1', 3);
  await httpd(t, web.ns.name, 80, 'hello-bridge');
  const rw = await w.driver.attach(web.req);
  await w.driver.attach(peer.req);
  t.regex(await httpGet(w.host.name, '127.0.0.1', 8080), /hello-bridge/);
  t.regex(await httpGet(peer.ns.name, '10.221.1.1', 8080), /hello-bridge/);

  // Taken by another endpoint: ConflictError, and no veth is left behind.
  const before = (await hostLinks(w.host.name)).length;
  const dup = await w.endpoint(net, '10.221.1', 4, {
    ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  });
  await t.throwsAsync(w.driver.attach(dup.req), { instanceOf: ConflictError });
  // Held by a process on the host.
  await httpd(t, w.host.name, 9191, 'host');
  const busy = await w.endpoint(net, '10.221.1', 5, {
    ports: [{ hostIp: '', hostPort: 9191, containerPort: 80, protocol: 'tcp' }],
  });
  await t.throwsAsync(w.driver.attach(busy.req), { instanceOf: ConflictError, message: /in use/ });
  t.is((await hostLinks(w.host.name)).length, before);
  t.false((await hostLinks(busy.ns.name)).some((l) => l.ifname === 'eth0'));

  await w.driver.detach(web.req, rw);
  t.is(await httpGet(w.host.name, '127.0.0.1', 8080), '');
  const rules = (await nsx(w.host.name, NFT, 'list', 'table', 'inet', w.table)).stdout;
  t.notRegex(rules, /dport 8080/);
});

test('internal and default-bridge networks; bad input creates nothing', async (t) => {
  const w = await world(t);
  const internal = spec(`i-${rand()}`, { internal: true });
  const open = spec(`o-${rand()}`);
  const def = spec('bridge', {
    options: { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': `sk0${rand()}` },
  });
  await w.driver.createNetwork(internal, [pool('10.222.1')]);
  await w.driver.createNetwork(open, [pool('10.222.2')]);
  await w.driver.createNetwork(def, [pool('10.222.3')]);
  const i1 = await w.endpoint(internal, '10.222.1', 2);
  const o1 = await w.endpoint(open, '10.222.2', 2);
  const d1 = await w.endpoint(def, '10.222.3', 2, { dnsNames: ['dflt'] });
  const ri = await w.driver.attach(i1.req);
  await w.driver.attach(o1.req);
  const rd = await w.driver.attach(d1.req);
  t.deepEqual(ri.routes, [], 'internal: no default route');
  t.true(await ping(i1.ns.name, '10.222.1.1'), 'internal: its gateway');
  t.false(await ping(i1.ns.name, '10.222.2.1'), 'internal: nothing else');
  t.false(await ping(o1.ns.name, i1.ip), 'internal: unreachable from other networks');
  t.is(rd.dns, undefined, 'the default bridge has no embedded DNS');
  t.is(await lookup(d1.ns.name, 'dflt', '10.222.3.1'), null);
  t.true((await hostLinks(w.host.name)).some((l) => l.ifname === def.options['com.docker.network.bridge.name']));
  // A later daemon reusing that bridge with another subnet: the bridge carries only the new gateway.
  const brName = def.options['com.docker.network.bridge.name']!;
  await w.driver.detach(d1.req, rd);
  await w.driver.deleteNetwork(def);
  await sh('ip', ['-n', w.host.name, 'link', 'add', brName, 'type', 'bridge']);
  await sh('ip', ['-n', w.host.name, 'addr', 'add', '10.222.99.1/24', 'dev', brName]);
  const def2 = { ...def, id: randomBytes(32).toString('hex') };
  await w.driver.createNetwork(def2, [pool('10.222.4')]);
  const addrs = JSON.parse((await sh('ip', ['-n', w.host.name, '-j', 'addr', 'show', 'dev', brName])).stdout) as Array<{
    addr_info: Array<{ local: string; scope: string }>;
  }>;
  t.deepEqual(
    addrs[0]!.addr_info.filter((a) => a.scope === 'global').map((a) => a.local),
    ['10.222.4.1'],
  );

  const linksBefore = (await hostLinks(w.host.name)).map((l) => l.ifname).sort();
  await t.throwsAsync(
    w.driver.createNetwork(spec('bad-mtu', { options: { 'com.docker.network.driver.mtu': '12' } }), [pool('10.222.9')]),
    {
      instanceOf: InvalidParameterError,
      message: /MTU/,
    },
  );
  await t.throwsAsync(
    w.driver.createNetwork(spec('bad-mtu2', { options: { 'com.docker.network.driver.mtu': 'lots' } }), [
      pool('10.222.9'),
    ]),
    { instanceOf: InvalidParameterError },
  );
  await t.throwsAsync(
    w.driver.createNetwork(
      spec('bad-name', { options: { 'com.docker.network.bridge.name': 'way-too-long-bridge-name' } }),
      [pool('10.222.9')],
    ),
    { instanceOf: InvalidParameterError },
  );
  const noNs = await w.endpoint(open, '10.222.2', 9, { netnsPath: '/run/netns/does-not-exist' });
  await t.throwsAsync(w.driver.attach(noNs.req));
  t.deepEqual((await hostLinks(w.host.name)).map((l) => l.ifname).sort(), linksBefore);
});

test('restore after a crash: DNS and published ports come back, stale links are collected', async (t) => {
  const w = await world(t);
  const net = spec(`r-${rand()}`);
  const pools = [pool('10.223.1')];
  const state = await w.driver.createNetwork(net, pools);
  const a = await w.endpoint(net, '10.223.1', 2, {
    dnsNames: ['alpha'],
    ports: [{ hostIp: '', hostPort: 8088, containerPort: 80, protocol: 'tcp' }],
  });
  const b = await w.endpoint(net, '10.223.1', 3, { dnsNames: ['beta'] });
  const gone = await w.endpoint(net, '10.223.1', 4, { dnsNames: ['gone'] });
  const ra = await w.driver.attach(a.req);
  const rb = await w.driver.attach(b.req);
  const rg = await w.driver.attach(gone.req);
  await httpd(t, a.ns.name, 80, 'after-restart');
  await w.driver.kill();
  // A stale bridge of a network that no longer exists, and one another daemon made.
  await sh('ip', ['-n', w.host.name, 'link', 'add', 'skiff-stale0', 'type', 'bridge']);
  await sh('ip', ['-n', w.host.name, 'link', 'set', 'skiff-stale0', 'alias', 'skiff:default']);
  await sh('ip', ['-n', w.host.name, 'link', 'add', 'skiff-other0', 'type', 'bridge']);
  await sh('ip', ['-n', w.host.name, 'link', 'set', 'skiff-other0', 'alias', 'skiff:another-daemon']);

  const again = await RemoteBridgeDriver.start(w.host.name, w.config);
  t.teardown(() => again.kill());
  await again.restore(
    [{ spec: net, pools, state }],
    [
      { req: a.req, result: ra },
      { req: b.req, result: rb },
    ],
  );
  t.deepEqual(await lookup(b.ns.name, 'alpha', '10.223.1.1'), ['10.223.1.2']);
  t.is(await lookup(b.ns.name, 'gone', '10.223.1.1'), null);
  t.regex(await httpGet(w.host.name, '127.0.0.1', 8088), /after-restart/);
  const names = (await hostLinks(w.host.name)).map((l) => l.ifname);
  t.false(names.includes(rg.interfaces[0]!.name), 'stale veth collected');
  t.false(names.includes('skiff-stale0'), 'stale bridge collected');
  t.true(names.includes('skiff-other0'), "another daemon's bridge is left alone");
  t.true(names.includes(ra.interfaces[0]!.name));
  t.true(await ping(b.ns.name, a.ip));

  // Full teardown leaves nothing behind.
  await again.detach(a.req, ra);
  await again.detach(b.req, rb);
  await again.deleteNetwork(net);
  await again.firewallTeardown();
  const left = (await hostLinks(w.host.name)).filter((l) => l.ifname !== 'lo' && l.ifname !== 'skiff-other0');
  t.deepEqual(left, []);
  t.false((await nsx(w.host.name, NFT, 'list', 'tables')).stdout.includes(w.table));
});

test('attach to a network whose bridge is missing fails clearly', async (t) => {
  const w = await world(t);
  const net = spec(`m-${rand()}`);
  const e = await w.endpoint(net, '10.224.1', 2);
  await t.throwsAsync(w.driver.attach(e.req), { message: /bridge .* does not exist|not found/ });
  t.false((await hostLinks(e.ns.name)).some((l) => l.ifname === 'eth0'));
  const r: AttachResult | null = null;
  await t.notThrowsAsync(w.driver.detach(e.req, r));
});

test('detach after the container exited leaves the pair to the kernel; settled() confirms it is gone', async (t) => {
  const w = await world(t);
  const net = spec(`x-${rand()}`);
  await w.driver.createNetwork(net, [pool('10.225.1')]);
  const proc = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
  t.teardown(() => void proc.kill('SIGKILL'));
  const own = (await sh('readlink', ['/proc/self/ns/net'])).stdout;
  while ((await sh('readlink', [`/proc/${proc.pid}/ns/net`])).stdout === own)
    await new Promise((r) => setTimeout(r, 5));
  const e = await w.endpoint(net, '10.225.1', 2, { netnsPath: `/proc/${proc.pid}/ns/net` });
  const r = await w.driver.attach(e.req);
  const hostIf = r.interfaces[0]!.name;
  t.true((await hostLinks(w.host.name)).some((l) => l.ifname === hostIf));
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
  await w.driver.detach(e.req, r);
  await w.driver.settled();
  t.false((await hostLinks(w.host.name)).some((l) => l.ifname === hostIf));
  await w.driver.deleteNetwork(net);
});

test('IPv6 next to IPv4: addresses, v6 default route, AAAA answers', async (t) => {
  const w = await world(t);
  const net = spec(`v6-${rand()}`, { ipv6: true });
  const v6pool: IpamPool = { poolId: 'v6', subnet: 'fd42:226::/64', gateway: 'fd42:226::1' };
  await w.driver.createNetwork(net, [pool('10.226.1'), v6pool]);
  const a = await w.endpoint(net, '10.226.1', 2, { addresses: ['10.226.1.2/24', 'fd42:226::2/64'], dnsNames: ['six'] });
  const b = await w.endpoint(net, '10.226.1', 3, { addresses: ['10.226.1.3/24', 'fd42:226::3/64'] });
  const ra = await w.driver.attach(a.req);
  await w.driver.attach(b.req);
  t.deepEqual(ra.routes, [
    { dst: 'default', gw: '10.226.1.1' },
    { dst: '::/0', gw: 'fd42:226::1' },
  ]);
  t.deepEqual(
    ra.ips.map((i) => i.gateway),
    ['10.226.1.1', 'fd42:226::1'],
  );
  t.true(await ok(nsx(b.ns.name, 'busybox', 'ping', '-6', '-c', '1', '-W', '5', 'fd42:226::2')));
  const routes6 = (await nsx(a.ns.name, 'ip', '-6', 'route', 'show', 'default')).stdout;
  t.regex(routes6, /via fd42:226::1/);
  const { stdout } = await nsx(b.ns.name, 'busybox', 'nslookup', '-type=aaaa', 'six', '10.226.1.1');
  t.regex(stdout, /fd42:226::2/);
});
