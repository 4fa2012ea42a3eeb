import { randomBytes } from 'node:crypto';
import { EtcdStore } from '@skiff/clusterstore-etcd/store';
import { type EtcdServer, startEtcd } from '@skiff/clusterstore-etcd/testing';
import { ConflictError, InvalidParameterError } from '@skiff/core/plugin-api';
import test from 'ava';
import { ClusterState, FIRST_VNI } from './cluster-state.js';

let etcd: EtcdServer | undefined;
const stores: EtcdStore[] = [];
test.before(async () => {
  etcd = await startEtcd();
});
test.after.always(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await etcd?.stop();
});

/** Two "hosts": separate clients on one cluster prefix. */
function hosts(): [ClusterState, ClusterState] {
  const prefix = `/cs-${randomBytes(4).toString('hex')}/`;
  const a = new EtcdStore({ url: etcd!.url });
  const b = new EtcdStore({ url: etcd!.url });
  stores.push(a, b);
  return [new ClusterState(a, prefix), new ClusterState(b, prefix)];
}

const net = (name: string, subnet?: string) => ({
  id: randomBytes(32).toString('hex'),
  name,
  created: new Date().toISOString(),
  internal: false,
  attachable: true,
  options: {},
  labels: {},
  userSubnet: !!subnet,
  ...(subnet ? { subnet } : {}),
});

test('names, subnets and VNIs are unique across hosts, even when created at once', async (t) => {
  const [a, b] = hosts();
  const results = await Promise.allSettled([a.createNetwork(net('same')), b.createNetwork(net('same'))]);
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1);
  const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  t.true(lost.reason instanceof ConflictError);
  const made = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).createNetwork(net(`n${i}`))));
  const all = [...made, ...(await a.networks()).filter((n) => n.name === 'same')];
  t.is(new Set(all.map((n) => n.vni)).size, all.length, 'no VNI twice');
  t.is(new Set(all.map((n) => n.subnet)).size, all.length, 'no subnet twice');
  t.true(all.every((n) => n.vni >= FIRST_VNI));
  await t.throwsAsync(a.createNetwork(net('over', '10.0.0.0/16')), {
    instanceOf: ConflictError,
    message: /overlaps/,
  });
  // A failed create leaves nothing behind: the name is free again.
  t.is((await a.networks()).filter((n) => n.name === 'over').length, 0);
  await a.createNetwork(net('over', '10.250.0.0/24'));
});

test('bad subnets and gateways are refused', async (t) => {
  const [a] = hosts();
  for (const s of ['10.0.0.1/24', '10.0.0.0/33', 'x/24', '10.0.0.0/31', 'fd00::/64'])
    await t.throwsAsync(a.createNetwork(net(`bad-${randomBytes(2).toString('hex')}`, s)), {
      instanceOf: InvalidParameterError,
    });
  await t.throwsAsync(a.createNetwork({ ...net('gw', '10.251.0.0/24'), gateway: '10.9.0.1' }), {
    instanceOf: InvalidParameterError,
    message: /not a host address/,
  });
  t.deepEqual(await a.networks(), []);
});

test('addresses: never the same one on two hosts, the gateway never, released ones reused', async (t) => {
  const [a, b] = hosts();
  const doc = await a.createNetwork(net('ips', '10.252.0.0/28'));
  const claims = await Promise.all(
    // A /28: 16 addresses less the network, broadcast and gateway ones.
    Array.from({ length: 13 }, (_, i) => (i % 2 ? a : b).claimAddress(doc, `ep${i}`, i % 2 ? 'A' : 'B')),
  );
  t.is(new Set(claims).size, 13);
  t.false(claims.includes(doc.gateway));
  t.false(claims.includes('10.252.0.0') || claims.includes('10.252.0.15'));
  await t.throwsAsync(a.claimAddress(doc, 'ep-full', 'A'), { instanceOf: ConflictError, message: /no free address/ });
  await a.releaseAddress(doc.id, claims[0]!, 'someone-else');
  await t.throwsAsync(a.claimAddress(doc, 'ep-full', 'A'), { instanceOf: ConflictError });
  await b.releaseAddress(doc.id, claims[0]!, 'ep0');
  t.is(await a.claimAddress(doc, 'ep-new', 'A'), claims[0]);
  await t.throwsAsync(a.claimAddress(doc, 'ep-x', 'A', claims[1]), {
    instanceOf: ConflictError,
    message: /in use .*by an endpoint on host A/,
  });
  await t.throwsAsync(a.claimAddress(doc, 'ep-x', 'A', doc.gateway), { instanceOf: ConflictError, message: /gateway/ });
  for (const bad of ['10.252.0.0', '10.252.0.15', '10.253.0.3'])
    await t.throwsAsync(a.claimAddress(doc, 'ep-x', 'A', bad), { instanceOf: InvalidParameterError }, bad);
  t.is(await a.claimAddress(doc, 'ep1', 'A', claims[1]), claims[1], 'an endpoint re-claims its own address');
  t.true((await a.addressesOf('A')).every((x) => x.networkId === doc.id));
  await a.deleteNetwork(doc);
  t.deepEqual(await b.addressesOf('B'), []);
  await b.createNetwork(net('ips', '10.252.0.0/28'));
});
