import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, startEtcdCluster } from '@skiff/clusterstore-etcd/testing';
import test, { type ExecutionContext } from 'ava';
import { sleep } from '../harness/index.js';
import { type NetnsDaemon, uid, uniqueSubnet } from '../harness/netns-daemon.js';
import { ipOn, overlayHost, pingOk, underlay, waitFor } from '../harness/overlay-hosts.js';
import { createTestCa } from '../harness/tls-certs.js';

/*
 * Overlay networks and their cluster store: etcd down then back, a three-member etcd losing a
 * member, fixed addresses held cluster-wide, and TLS to etcd. Each test has its own underlay
 * (switch namespace), etcd and two skiff hosts (see harness/overlay-hosts.ts).
 */

const LEASE_TTL = 4;

async function ok(t: ExecutionContext, d: NetnsDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args);
  if (r.code !== 0) t.fail(`docker ${args.join(' ')} on ${d.netns} failed: ${r.stderr}\n${d.output().slice(-3000)}`);
  return r.stdout.trim();
}

async function eventually(t: ExecutionContext, what: string, check: () => Promise<boolean>): Promise<void> {
  if (!(await waitFor(check))) t.fail(`never happened: ${what}`);
}

const sleeper = (d: NetnsDaemon, name: string, net: string, ...extra: string[]) => [
  'run',
  '-d',
  '--name',
  name,
  '--network',
  net,
  ...extra,
  d.image,
  'sleep',
  '3600',
];

async function ipamConfig(t: ExecutionContext, d: NetnsDaemon, net: string): Promise<unknown> {
  return JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].IPAM.Config;
}

test('etcd down then back: runs fail clearly meanwhile; afterwards distinct addresses and peers re-learned', async (t) => {
  const sw = await underlay(t);
  const etcd = await startEtcd({ host: sw.address, netns: sw.netns });
  t.teardown(() => etcd.stop());
  const [a, b] = await Promise.all(
    [11, 12].map((n) => overlayHost(t, sw, n, { store: etcd.url, leaseTtl: LEASE_TTL })),
  );
  const s = uniqueSubnet();
  const net = `ov-${uid()}`;
  await ok(t, a, 'network', 'create', '-d', 'overlay', '--subnet', s.subnet, net);
  await eventually(t, 'B lists the network', async () => (await b.cli('network', 'inspect', net)).code === 0);
  const [ca, cb] = [`a-${uid()}`, `b-${uid()}`];
  await ok(t, a, ...sleeper(a, ca, net));
  await ok(t, b, ...sleeper(b, cb, net));
  await eventually(t, 'a reaches b by name', () => pingOk(a, ca, cb));

  await etcd.kill();
  // Containers started on both hosts while the store is down fail, saying why.
  const [da, db] = [`da-${uid()}`, `db-${uid()}`];
  const failed = await Promise.all([a.cli(...sleeper(a, da, net)), b.cli(...sleeper(b, db, net))]);
  for (const r of failed) {
    t.not(r.code, 0);
    t.regex(r.stderr, /cluster store etcd:\/\/\S+ is unreachable/);
  }
  // The data plane does not need the store: the running pair still talk.
  t.true(await pingOk(a, ca, await ipOn(b, cb, net)));
  // Down longer than twice the lease TTL: every host's lease is lost and must be taken again.
  await sleep((2 * LEASE_TTL + 2) * 1000);
  await etcd.restart();

  // The failed containers start now, and new ones on both hosts, at once: every address distinct.
  const [ea, eb] = [`ea-${uid()}`, `eb-${uid()}`];
  await Promise.all([
    ok(t, a, 'start', da),
    ok(t, b, 'start', db),
    ok(t, a, ...sleeper(a, ea, net)),
    ok(t, b, ...sleeper(b, eb, net)),
  ]);
  const placed: [NetnsDaemon, string][] = [
    [a, ca],
    [a, da],
    [a, ea],
    [b, cb],
    [b, db],
    [b, eb],
  ];
  const ips = await Promise.all(placed.map(([d, c]) => ipOn(d, c, net)));
  t.is(new Set(ips).size, ips.length, `no address twice: ${ips.join(' ')}`);
  for (const ip of ips) t.true(ip.startsWith(`${s.prefix}.`), ip);

  // Peers are learned again, old and new, by name and address, both ways; past one more lease TTL
  // (the endpoints of the lost leases expire in etcd and are published again).
  for (const d of [a, b])
    await eventually(t, `${d.netns} took a new lease`, async () => /re-published [1-9]\d* endpoint/.test(d.output()));
  await sleep((LEASE_TTL + 1) * 1000);
  for (const [from, to] of [
    [ca, cb],
    [ea, eb],
    [da, db],
  ] as const) {
    await eventually(t, `${from} reaches ${to} by name`, () => pingOk(a, from, to));
    await eventually(t, `${to} reaches ${from} by name`, () => pingOk(b, to, from));
  }
  t.true(await pingOk(b, eb, await ipOn(a, ca, net)));
});

test('three-member etcd with one member stopped: create, run and names still work; --ip and IPAM.Config cluster-wide', async (t) => {
  const sw = await underlay(t);
  const cluster = await startEtcdCluster(3, { host: sw.address, netns: sw.netns, name: `s-${uid()}` });
  t.teardown(() => cluster.stop());
  const [a, b] = await Promise.all([11, 12].map((n) => overlayHost(t, sw, n, { store: cluster.url })));
  await cluster.members[0]!.kill();

  // No --subnet: the subnet the cluster picked shows in IPAM.Config, the same on both hosts.
  const auto = `auto-${uid()}`;
  const id = await ok(t, a, 'network', 'create', '-d', 'overlay', auto);
  await eventually(t, 'B lists the network', async () => (await b.cli('network', 'inspect', auto)).code === 0);
  const cfgA = (await ipamConfig(t, a, auto)) as { Subnet?: string; Gateway?: string }[];
  t.is(cfgA.length, 1);
  t.regex(cfgA[0]?.Subnet ?? '', /^10\.\d+\.\d+\.0\/24$/);
  t.regex(cfgA[0]?.Gateway ?? '', /^10\.\d+\.\d+\.1$/);
  t.deepEqual(await ipamConfig(t, b, auto), cfgA);
  t.is(await ok(t, b, 'network', 'inspect', '-f', '{{.Id}}', auto), id);

  const [ca, cb] = [`a-${uid()}`, `b-${uid()}`];
  await ok(t, a, ...sleeper(a, ca, auto, '--network-alias', 'api'));
  await ok(t, b, ...sleeper(b, cb, auto));
  t.true((await ipOn(b, cb, auto)).startsWith(cfgA[0]!.Subnet!.replace(/0\/24$/, '')));
  await eventually(t, 'b reaches a by name', () => pingOk(b, cb, ca));
  await eventually(t, 'a reaches b by name', () => pingOk(a, ca, cb));
  t.true(await pingOk(b, cb, 'api'), 'and by alias');
  // As dockerd: a fixed address needs a subnet the user chose.
  const noSubnet = await a.cli(...sleeper(a, `x-${uid()}`, auto, '--ip', cfgA[0]!.Subnet!.replace(/0\/24$/, '77')));
  t.not(noSubnet.code, 0);
  t.regex(noSubnet.stderr, /user configured subnets/);

  // --ip is claimed in the cluster: the same address on the other host is refused, naming its holder.
  const s = uniqueSubnet();
  const fixed = `fixed-${uid()}`;
  await ok(t, a, 'network', 'create', '-d', 'overlay', '--subnet', s.subnet, fixed);
  await eventually(t, 'B lists the second network', async () => (await b.cli('network', 'inspect', fixed)).code === 0);
  t.deepEqual(await ipamConfig(t, a, fixed), [{ Subnet: s.subnet }]);
  t.deepEqual(await ipamConfig(t, b, fixed), [{ Subnet: s.subnet }]);
  const [fa, fb, fb2] = [`fa-${uid()}`, `fb-${uid()}`, `fb2-${uid()}`];
  await ok(t, a, ...sleeper(a, fa, fixed, '--ip', `${s.prefix}.50`));
  t.is(await ipOn(a, fa, fixed), `${s.prefix}.50`);
  const taken = await b.cli(...sleeper(b, fb, fixed, '--ip', `${s.prefix}.50`));
  t.not(taken.code, 0);
  t.regex(taken.stderr, new RegExp(`address ${s.prefix}\\.50 is already in use .*host ${sw.prefix}\\.11`));
  const gateway = await b.cli(...sleeper(b, `g-${uid()}`, fixed, '--ip', `${s.prefix}.1`));
  t.regex(gateway.stderr, /already in use .*gateway/);
  await ok(t, b, ...sleeper(b, fb2, fixed, '--ip', `${s.prefix}.51`));
  t.is(await ipOn(b, fb2, fixed), `${s.prefix}.51`);
  await eventually(t, 'fixed addresses reach each other by name', () => pingOk(b, fb2, fa));
  // The refused container gets the address once its holder is gone.
  await ok(t, a, 'rm', '-f', fa);
  await ok(t, b, 'start', fb);
  t.is(await ipOn(b, fb, fixed), `${s.prefix}.50`);
});

test('TLS to etcd: etcds:// with kv.cacertfile, kv.certfile and kv.keyfile', async (t) => {
  const sw = await underlay(t);
  const dir = await mkdtemp(join(tmpdir(), 'skiff-etcd-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ca = await createTestCa(dir);
  const server = await ca.issue('etcd', { hosts: [sw.address] });
  const client = await ca.issue('skiffd', { client: true });
  const etcd = await startEtcd({
    host: sw.address,
    netns: sw.netns,
    tls: {
      ca: ca.certFile,
      cert: server.certFile,
      key: server.keyFile,
      clientCert: client.certFile,
      clientKey: client.keyFile,
    },
  });
  t.teardown(() => etcd.stop());
  t.regex(etcd.url, /^etcds:\/\//);
  const [a, b, c] = await Promise.all([
    overlayHost(t, sw, 11, {
      store: etcd.url,
      storeOpts: { 'kv.cacertfile': ca.certFile, 'kv.certfile': client.certFile, 'kv.keyfile': client.keyFile },
    }),
    overlayHost(t, sw, 12, {
      store: etcd.url,
      storeOpts: { 'kv.cacertfile': ca.certFile, 'kv.certfile': client.certFile, 'kv.keyfile': client.keyFile },
    }),
    // Trusts the server but has no client certificate: etcd turns it away.
    overlayHost(t, sw, 13, { store: etcd.url, storeOpts: { 'kv.cacertfile': ca.certFile } }),
  ]);
  const net = `tls-${uid()}`;
  await ok(t, a, 'network', 'create', '-d', 'overlay', '--subnet', uniqueSubnet().subnet, net);
  await eventually(t, 'B lists the network', async () => (await b.cli('network', 'inspect', net)).code === 0);
  const [ca1, cb1] = [`a-${uid()}`, `b-${uid()}`];
  await ok(t, a, ...sleeper(a, ca1, net));
  await ok(t, b, ...sleeper(b, cb1, net));
  await eventually(t, 'a reaches b by name over a store reached by TLS', () => pingOk(a, ca1, cb1));
  const refused = await c.cli('network', 'create', '-d', 'overlay', `n-${uid()}`);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /cluster store etcds:\/\/\S+ is unreachable.*bad certificate/s);
  t.false((await c.cli('network', 'ls', '--format', '{{.Name}}')).stdout.includes(net), 'C never saw the network');
});
