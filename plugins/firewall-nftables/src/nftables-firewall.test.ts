import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { configureNetns, IpNetlink, ipBatch } from '@skiff/core/host';
import { ConflictError, type FirewallNetwork, InvalidParameterError } from '@skiff/core/plugin-api';
import test, { type ExecutionContext } from 'ava';
import { NftablesFirewall } from './nftables-firewall.js';
import { testNetns } from '@skiff/core/testkit';

// A namespace plays the host: nft, iptables, bridges and listeners all live in namespaces the test
// creates, so the machine's own ruleset and interfaces are never touched.
const sh = promisify(execFile);
const tag = () => randomBytes(3).toString('hex');

const netns = (t: ExecutionContext, role: string) => testNetns(t, `sk-fw-${role}`);

const nsx = (ns: string, ...cmd: string[]) => sh('ip', ['netns', 'exec', ns, ...cmd]);

async function reachable(ns: string, ip: string): Promise<boolean> {
  return nsx(ns, 'busybox', 'ping', '-c', '1', '-W', '3', ip).then(
    () => true,
    () => false,
  );
}

interface Topo {
  host: { name: string; path: string };
  outside: { name: string; path: string };
  fw: NftablesFirewall;
  /** A container namespace on bridge `br` with address `ip` in `subnet`/24. */
  container(br: string, n: number, subnet: string): Promise<{ name: string; ip: string }>;
  bridge(br: string, subnet: string): Promise<void>;
}

/** host ns with ip_forward, an "outside" ns behind veth up0 (192.168.77.0/24), and a firewall. */
async function topology(t: ExecutionContext): Promise<Topo> {
  const host = await netns(t, 'h');
  const outside = await netns(t, 'o');
  const nl = new IpNetlink(host.path);
  await nsx(host.name, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  await ipBatch(['link set lo up'], { netns: host.path });
  await nl.createVeth({ name: 'up0', peer: { name: 'eth0', netnsPath: outside.path } });
  await nl.addAddress('up0', '192.168.77.1/24');
  await configureNetns(outside.path, { ifName: 'eth0', addresses: ['192.168.77.2/24'], loopback: true });
  const fw = new NftablesFirewall({ netns: host.path, table: `skiff_t${tag()}` });
  t.teardown(() => fw.teardown().catch(() => {}));
  return {
    host,
    outside,
    fw,
    async bridge(br, subnet) {
      await nl.createBridge(br);
      await nl.addAddress(br, `${subnet}.1/24`);
      await nsx(host.name, 'sysctl', '-qw', `net.ipv4.conf.${br}.route_localnet=1`);
    },
    async container(br, n, subnet) {
      const c = await netns(t, 'c');
      const ip = `${subnet}.${n}`;
      await nl.createVeth({ name: `v${br}${n}`, master: br, peer: { name: 'eth0', netnsPath: c.path } });
      await configureNetns(c.path, {
        ifName: 'eth0',
        addresses: [`${ip}/24`],
        routes: [{ dst: 'default', gw: `${subnet}.1` }],
        loopback: true,
      });
      return { name: c.name, ip };
    },
  };
}

function net(id: string, iface: string, subnet: string, over: Partial<FirewallNetwork> = {}): FirewallNetwork {
  return { id, iface, subnets: [`${subnet}.0/24`], internal: false, masquerade: true, isolate: true, ...over };
}

/** Starts a busybox httpd in `ns` serving `body` on `port`; waits until it listens. */
async function httpd(t: ExecutionContext, ns: string, port: number, body: string, ip = ''): Promise<void> {
  const dir = (await sh('mktemp', ['-d'])).stdout.trim();
  await sh('sh', ['-c', `printf '%s' "$1" > ${dir}/index.html`, 'sh', body]);
  const listen = ip ? `${ip}:${port}` : String(port);
  const p = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', listen, '-h', dir], {
    stdio: 'ignore',
  });
  t.teardown(() => {
    p.kill('SIGKILL');
    return sh('rm', ['-rf', dir]).then(() => {});
  });
  await waitListening(ns, port);
}

async function waitListening(ns: string, port: number): Promise<void> {
  for (;;) {
    const { stdout } = await nsx(ns, 'ss', '-Hltn');
    if (stdout.split('\n').some((l) => l.includes(`:${port} `))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function httpGet(ns: string, ip: string, port: number): Promise<string> {
  try {
    const { stdout } = await sh('sh', [
      '-c',
      `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ip netns exec ${ns} busybox nc -w 5 ${ip} ${port}`,
    ]);
    return stdout;
  } catch {
    return '';
  }
}

test('masquerade out, isolation between bridges, internal networks, FORWARD DROP beside iptables', async (t) => {
  const topo = await topology(t);
  await topo.bridge('bra', '10.210.1');
  await topo.bridge('brb', '10.210.2');
  await topo.bridge('bri', '10.210.3');
  const a1 = await topo.container('bra', 2, '10.210.1');
  const a2 = await topo.container('bra', 3, '10.210.1');
  const b1 = await topo.container('brb', 2, '10.210.2');
  const i1 = await topo.container('bri', 2, '10.210.3');
  // dockerd's setting: nothing is forwarded unless some rule accepts it.
  await nsx(topo.host.name, 'iptables', '-w', '-P', 'FORWARD', 'DROP');

  await topo.fw.sync({
    networks: [
      net('a', 'bra', '10.210.1'),
      net('b', 'brb', '10.210.2'),
      net('i', 'bri', '10.210.3', { internal: true, masquerade: false }),
    ],
    publications: [],
  });
  t.true(await reachable(a1.name, a2.ip), 'same network');
  t.true(await reachable(a1.name, '192.168.77.2'), 'outside through masquerade despite FORWARD DROP');
  t.false(await reachable(a1.name, b1.ip), 'isolated from the other bridge');
  t.false(await reachable(b1.name, a1.ip), 'isolated both ways');
  t.false(await reachable(i1.name, '192.168.77.2'), 'internal: no route out');
  t.false(await reachable(a1.name, i1.ip), 'internal: not reachable from other networks');
  t.true(await reachable(i1.name, '10.210.3.1'), 'internal: the gateway answers');
  const rules = (await nsx(topo.host.name, 'iptables', '-w', '-S', 'FORWARD')).stdout;
  t.regex(rules, new RegExp(`skiff-${topo.fw.table}`));

  // Masquerade: the outside sees the host's address, not the container's.
  const seen = (await nsx(topo.outside.name, 'ip', '-j', 'neigh', 'show')).stdout;
  t.false(seen.includes('10.210.1.2'));

  await topo.fw.removeNetwork('a');
  t.false(await reachable(a1.name, '192.168.77.2'), 'rules gone with the network');
  await topo.fw.teardown();
  const after = (await nsx(topo.host.name, '/usr/sbin/nft', 'list', 'tables')).stdout;
  t.false(after.includes(topo.fw.table));
  t.false((await nsx(topo.host.name, 'iptables', '-w', '-S', 'FORWARD')).stdout.includes('skiff-'));
});

test("published ports never capture a network's host services (the embedded DNS on the gateway)", async (t) => {
  const topo = await topology(t);
  await topo.bridge('brs', '10.211.5');
  const web = await topo.container('brs', 2, '10.211.5');
  const peer = await topo.container('brs', 3, '10.211.5');
  await httpd(t, web.name, 80, 'hello-from-web');
  // Stands in for the DNS server skiffd runs on the gateway (a TCP service is easier to probe).
  await httpd(t, topo.host.name, 8053, 'host-service', '10.211.5.1');
  const service = { address: '10.211.5.1', protocol: 'tcp' as const, port: 8053 };
  await topo.fw.sync({ networks: [net('s', 'brs', '10.211.5', { hostServices: [service] })], publications: [] });
  await topo.fw.publish({
    endpointId: 'ep-web',
    networkId: 's',
    address: web.ip,
    ports: [{ hostIp: '', hostPort: 8053, containerPort: 80, protocol: 'tcp' }],
  });
  t.regex(await httpGet(peer.name, '10.211.5.1', 8053), /host-service/, 'the network still reaches the host service');
  t.regex(await httpGet(topo.outside.name, '192.168.77.1', 8053), /hello-from-web/, 'the world gets the container');
  // A stranger's listener on the same port is still a conflict.
  await httpd(t, topo.host.name, 8054, 'stranger', '10.211.5.1');
  await t.throwsAsync(
    topo.fw.publish({
      endpointId: 'ep-web-2',
      networkId: 's',
      address: peer.ip,
      ports: [{ hostIp: '', hostPort: 8054, containerPort: 80, protocol: 'tcp' }],
    }),
    { message: /already in use/ },
  );
});

test('published ports: from the host on 127.0.0.1, from other containers, conflicts and listeners', async (t) => {
  const topo = await topology(t);
  await topo.bridge('brp', '10.211.1');
  await topo.bridge('brq', '10.211.2');
  const web = await topo.container('brp', 2, '10.211.1');
  const peer = await topo.container('brp', 3, '10.211.1');
  const other = await topo.container('brq', 2, '10.211.2');
  await httpd(t, web.name, 80, 'hello-from-web');
  await topo.fw.sync({ networks: [net('p', 'brp', '10.211.1'), net('q', 'brq', '10.211.2')], publications: [] });
  await topo.fw.publish({
    endpointId: 'ep-web',
    networkId: 'p',
    address: web.ip,
    ports: [
      { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 8081, containerPort: 80, protocol: 'tcp' },
    ],
  });
  t.regex(await httpGet(topo.host.name, '127.0.0.1', 8080), /hello-from-web/);
  t.regex(await httpGet(topo.host.name, '127.0.0.1', 8081), /hello-from-web/);
  t.regex(await httpGet(topo.host.name, '192.168.77.1', 8080), /hello-from-web/);
  t.regex(await httpGet(topo.outside.name, '192.168.77.1', 8080), /hello-from-web/, 'from outside the host');
  t.regex(await httpGet(peer.name, '10.211.1.1', 8080), /hello-from-web/, 'hairpin: same network');
  t.is(
    await httpGet(other.name, '10.211.2.1', 8080),
    '',
    'not from another network, even through the host (as dockerd)',
  );
  t.is(await httpGet(other.name, web.ip, 80), '', 'but not directly');
  t.is(await httpGet(topo.outside.name, '192.168.77.1', 8081), '', '127.0.0.1-only mapping');

  // The same host port again: taken by skiff itself, then by a process on the host.
  await t.throwsAsync(
    topo.fw.publish({
      endpointId: 'ep-2',
      networkId: 'p',
      address: peer.ip,
      ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    }),
    { instanceOf: ConflictError, message: /already allocated/ },
  );
  await httpd(t, topo.host.name, 9090, 'host');
  await t.throwsAsync(
    topo.fw.publish({
      endpointId: 'ep-3',
      networkId: 'p',
      address: peer.ip,
      ports: [{ hostIp: '', hostPort: 9090, containerPort: 80, protocol: 'tcp' }],
    }),
    { instanceOf: ConflictError, message: /in use/ },
  );
  await t.throwsAsync(
    topo.fw.publish({
      endpointId: 'ep-4',
      networkId: 'p',
      address: peer.ip,
      ports: [{ hostIp: '', hostPort: 70000, containerPort: 80, protocol: 'tcp' }],
    }),
    { instanceOf: InvalidParameterError },
  );
  // Nothing of the failed publications stayed.
  t.false(topo.fw.render().includes('9090'));

  await topo.fw.unpublish('ep-web');
  await topo.fw.unpublish('ep-web');
  t.is(await httpGet(topo.host.name, '127.0.0.1', 8080), '');
  // Freed: another endpoint can take it now.
  await topo.fw.publish({
    endpointId: 'ep-2',
    networkId: 'p',
    address: web.ip,
    ports: [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  });
  t.regex(await httpGet(topo.host.name, '127.0.0.1', 8080), /hello-from-web/);
});

test('sync replaces stale state; bad options are rejected', async (t) => {
  const topo = await topology(t);
  await topo.bridge('brs', '10.212.1');
  await topo.fw.sync({
    networks: [net('s', 'brs', '10.212.1'), net('gone', 'brgone', '10.212.9')],
    publications: [
      {
        endpointId: 'stale',
        networkId: 'gone',
        address: '10.212.9.2',
        ports: [{ hostIp: '', hostPort: 7000, containerPort: 80, protocol: 'udp' }],
      },
    ],
  });
  let listed = (await nsx(topo.host.name, '/usr/sbin/nft', 'list', 'table', 'inet', topo.fw.table)).stdout;
  t.regex(listed, /brgone/);
  t.regex(listed, /udp dport 7000/);
  // A second instance (a restarted daemon) syncs what survived: the stale network disappears.
  const again = new NftablesFirewall({ netns: topo.host.path, table: topo.fw.table });
  await again.sync({ networks: [net('s', 'brs', '10.212.1')], publications: [] });
  listed = (await nsx(topo.host.name, '/usr/sbin/nft', 'list', 'table', 'inet', topo.fw.table)).stdout;
  t.notRegex(listed, /brgone|dport 7000/);
  t.regex(listed, /brs/);

  t.throws(() => new NftablesFirewall({ table: 'bad table;' }), { instanceOf: InvalidParameterError });
  t.throws(() => new NftablesFirewall({ mark: -1 }), { instanceOf: InvalidParameterError });
});
