import { EtcdStore } from '@skiff/clusterstore-etcd/store';
import { InvalidParameterError, Tokens } from '@skiff/core/plugin-api';
import { providedNetworkDriver } from '@skiff/core/testkit';
import test from 'ava';
import manifest from './plugin.js';

test('without a cluster store the driver refuses to start, saying what to configure', async (t) => {
  const err = await t.throwsAsync(providedNetworkDriver(manifest), { instanceOf: InvalidParameterError });
  t.regex(err!.message, /cluster-store/);
});

test('bad settings and a bad advertise address are refused', async (t) => {
  for (const leaseTtl of [0, 1, 'x', 1.5, 99999])
    await t.throwsAsync(providedNetworkDriver(manifest, { settings: { leaseTtl } }), {
      instanceOf: InvalidParameterError,
      message: /leaseTtl/,
    });
  // Never contacted: creating the driver does not talk to the store.
  const store = new EtcdStore({ url: 'etcd://127.0.0.1:1' });
  t.teardown(() => store.close());
  await t.throwsAsync(
    providedNetworkDriver(manifest, { services: new Map([[Tokens.Cluster, { store, advertise: 'eth0' }]]) }),
    { instanceOf: InvalidParameterError, message: /not an IPv4 address/ },
  );
  const d = await providedNetworkDriver(manifest, {
    services: new Map([[Tokens.Cluster, { store, advertise: '10.1.2.3' }]]),
    settings: { leaseTtl: 5 },
  });
  t.like(d.capabilities(), { scope: 'global', needsIpam: false, endpoints: true });
});

test('overlay operations fail with a clear error while the store is unreachable', async (t) => {
  const store = new EtcdStore({ url: 'etcd://127.0.0.1:1', timeoutMs: 1000 });
  t.teardown(() => store.close());
  const d = await providedNetworkDriver(manifest, {
    services: new Map([[Tokens.Cluster, { store, advertise: '10.1.2.3' }]]),
  });
  const spec = {
    id: 'a'.repeat(64),
    name: 'ov',
    driver: 'overlay',
    internal: false,
    ipv6: false,
    options: {},
    labels: {},
  };
  const err = await t.throwsAsync(d.createNetwork(spec, []));
  t.regex(err!.message, /cluster store etcd:\/\/127\.0\.0\.1:1 is unreachable/);
  t.is((err as { status?: number }).status, 503);
  await t.throwsAsync(d.deleteNetwork(spec), { message: /unreachable/ });
});
