import { createHash } from 'node:crypto';
import { EtcdStore } from '@skiff/clusterstore-etcd/store';
import { type EtcdServer, startEtcd } from '@skiff/clusterstore-etcd/testing';
import { networkDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import { OverlayDriver } from './overlay-driver.js';

let etcd: EtcdServer | undefined;
const stores: EtcdStore[] = [];
const drivers: OverlayDriver[] = [];
test.before(async () => {
  etcd = await startEtcd();
});
test.after.always(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await Promise.all(stores.map((s) => s.close()));
  await etcd?.stop();
});

// Host-side work in the suite's host namespace; the cluster state under a prefix of its own per
// state directory, so a second driver on the same directory is the same host restarted.
networkDriverSuite(test, 'overlay', async ({ hostNetns, stateDir }) => {
  const store = new EtcdStore({ url: etcd!.url });
  stores.push(store);
  const prefix = `/conformance/${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}/`;
  const d = new OverlayDriver({ cluster: { store, advertise: '127.0.0.1' }, netns: hostNetns, prefix, leaseTtl: 5 });
  drivers.push(d);
  return d;
});
