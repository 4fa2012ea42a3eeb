import { type EtcdServer, startEtcd } from '@skiff/clusterstore-etcd/testing';
import test, { type ExecutionContext } from 'ava';
import { sleep } from '../harness/index.js';
import { type NetnsDaemon, uid, uniqueSubnet } from '../harness/netns-daemon.js';
import { overlayHost, pingOk, type Underlay as Switch, underlay as switchNs } from '../harness/overlay-hosts.js';

/*
 * Three skiff "hosts" (network namespaces, each with its own skiffd, root, socket and advertise
 * address) on an underlay bridge in a fourth namespace the test creates, with etcd on that bridge.
 * Nothing here touches the machine's own namespace or NIC.
 */

interface Underlay extends Switch {
  etcd: EtcdServer;
}

async function underlay(t: ExecutionContext): Promise<Underlay> {
  const sw = await switchNs(t);
  const etcd = await startEtcd({ host: sw.address, netns: sw.netns });
  t.teardown(() => etcd.stop());
  return { ...sw, etcd };
}

const host = (t: ExecutionContext, u: Underlay, n: number, advertise?: string): Promise<NetnsDaemon> =>
  overlayHost(t, u, n, { store: u.etcd.url, advertise });

async function ok(t: ExecutionContext, d: NetnsDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args);
  if (r.code !== 0) t.fail(`docker ${args.join(' ')} failed: ${r.stderr}\n${d.output().slice(-3000)}`);
  return r.stdout.trim();
}

/** Polls until `check` holds (the cluster converges through watches); fails after a generous bound. */
async function eventually(t: ExecutionContext, what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (await check()) return;
    await sleep(500);
  }
  t.fail(`never happened: ${what}`);
}

async function fdbMacs(d: NetnsDaemon): Promise<string> {
  return (await d.inNs('bridge', ['fdb', 'show'])).stdout;
}

test('overlay across three hosts: reachability, names, isolation, same view everywhere, dead host, store down', async (t) => {
  const u = await underlay(t);
  // B advertises by interface name: the daemon resolves it to ul0's address.
  const [a, b, c] = await Promise.all([host(t, u, 11), host(t, u, 12, 'ul0'), host(t, u, 13)]);

  const s1 = uniqueSubnet();
  let s2 = uniqueSubnet();
  while (s2.subnet === s1.subnet) s2 = uniqueSubnet();
  const net = `ov-${uid()}`;
  const other = `ov2-${uid()}`;
  const id = await ok(t, a, 'network', 'create', '-d', 'overlay', '--subnet', s1.subnet, net);
  t.regex(id, /^[0-9a-f]{64}$/);
  // The same name, or an overlapping subnet, from another host is refused by the cluster.
  const dup = await c.cli('network', 'create', '-d', 'overlay', '--subnet', s2.subnet, net);
  t.not(dup.code, 0);
  t.regex(dup.stderr, /already exists/);
  const overlap = await b.cli('network', 'create', '-d', 'overlay', '--subnet', s1.subnet, `x-${uid()}`);
  t.not(overlap.code, 0);
  t.regex(overlap.stderr, /overlaps|already used/);
  await ok(t, b, 'network', 'create', '-d', 'overlay', '--subnet', s2.subnet, other);

  // Every host shows both networks, with the same ids, scope global.
  for (const d of [a, b, c]) {
    await eventually(t, `${d.netns} lists the overlay networks`, async () => {
      const ls = await d.cli('network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}} {{.Scope}}');
      return ls.stdout.includes(`${net} global`) && ls.stdout.includes(`${other} global`);
    });
    const n = JSON.parse(await ok(t, d, 'network', 'inspect', net))[0];
    t.like(n, { Id: id, Name: net, Driver: 'overlay', Scope: 'global' });
    t.is(n.IPAM.Config[0].Subnet, s1.subnet);
  }

  const ca = `a-${uid()}`;
  const cb = `b-${uid()}`;
  const cc = `c-${uid()}`;
  const cx = `x-${uid()}`;
  await ok(t, a, 'run', '-d', '--name', ca, '--network', net, '--network-alias', 'web', a.image, 'sleep', '3600');
  await ok(t, c, 'run', '-d', '--name', cc, '--network', net, c.image, 'sleep', '3600');
  await ok(t, b, 'run', '-d', '--name', cb, '--network', net, b.image, 'sleep', '3600');
  await ok(t, b, 'run', '-d', '--name', cx, '--network', other, b.image, 'sleep', '3600');
  const ipOf = async (d: NetnsDaemon, name: string, n: string) =>
    ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${n}").IPAddress}}`, name);
  const ipA = await ipOf(a, ca, net);
  const ipB = await ipOf(b, cb, net);
  const ipC = await ipOf(c, cc, net);
  t.is(new Set([ipA, ipB, ipC]).size, 3, 'global IPAM: no address twice across hosts');
  for (const ip of [ipA, ipB, ipC]) t.true(ip.startsWith(`${s1.prefix}.`), ip);
  const mtu = await ok(t, a, 'exec', ca, 'cat', '/sys/class/net/eth0/mtu');
  t.is(mtu, '1450', 'MTU lowered by the VXLAN overhead');

  // A and C reach each other by address and by name (and alias) across hosts.
  await eventually(t, 'a reaches c by address', () => pingOk(a, ca, ipC));
  t.true(await pingOk(c, cc, ipA));
  await eventually(t, 'a resolves c by name', () => pingOk(a, ca, cc));
  await eventually(t, 'c resolves a by alias', () => pingOk(c, cc, 'web'));

  // A container of another overlay network reaches neither, nor resolves their names.
  t.false(await pingOk(b, cx, ipA));
  t.false(await pingOk(b, cx, ipC));
  t.false(await pingOk(b, cx, ca));

  // inspect on each host lists its own containers on the shared network.
  const containersOn = async (d: NetnsDaemon) =>
    Object.values(
      JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].Containers as Record<string, { Name: string }>,
    ).map((x) => x.Name);
  t.deepEqual(await containersOn(a), [ca]);
  t.deepEqual(await containersOn(c), [cc]);

  // B's skiffd dies: its endpoint leaves A and C within the lease TTL (4 s here).
  const macB = (
    await ok(t, b, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").MacAddress}}`, cb)
  ).toLowerCase();
  await eventually(t, 'A learned B', async () => (await fdbMacs(a)).includes(macB));
  await b.crash();
  await eventually(t, "B's endpoint removed from A", async () => !(await fdbMacs(a)).includes(macB));
  await eventually(t, "B's endpoint removed from C", async () => !(await fdbMacs(c)).includes(macB));
  // Removing a network refuses while another host has endpoints on it.
  const busy = await c.cli('network', 'rm', net);
  t.not(busy.code, 0);
  t.regex(busy.stderr, /active endpoints/);
  // B comes back: its running container is published again.
  await b.relaunch();
  await eventually(t, "B's endpoint back on A", async () => (await fdbMacs(a)).includes(macB));
  await eventually(t, 'a reaches b again', () => pingOk(a, ca, ipB));

  // etcd unreachable: overlay operations fail with a clear error; local networks keep working.
  await u.etcd.stop();
  const down = await a.cli('network', 'create', '-d', 'overlay', `ov3-${uid()}`);
  t.not(down.code, 0);
  t.regex(down.stderr, /cluster store .* is unreachable/);
  const local = `local-${uid()}`;
  await ok(t, a, 'network', 'create', local);
  const l1 = `l1-${uid()}`;
  await ok(t, a, 'run', '-d', '--name', l1, '--network', local, a.image, 'sleep', '600');
  t.is(
    await ok(t, a, 'run', '--rm', '--network', local, a.image, 'ping', '-c', '1', '-W', '2', l1).then(() => 'ok'),
    'ok',
  );
});
