import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig, parseCommandLine } from '../config/daemon-config.js';
import { ClusterConfigError, resolveAdvertise } from './cluster.js';

async function config(t: { teardown(fn: () => Promise<void>): void }, json: unknown, flags: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-cluster-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'daemon.json');
  await writeFile(f, JSON.stringify(json));
  return loadConfig(parseCommandLine(['--config-file', f, ...flags]));
}

test('cluster-store, cluster-advertise and cluster-store-opts: file keys and flags', async (t) => {
  const c = await config(t, {
    'cluster-store': 'etcd://10.0.0.1:2379,10.0.0.2:2379',
    'cluster-advertise': 'eth1',
    'cluster-store-opts': { 'kv.cacertfile': '/ca.pem' },
  });
  t.is(c.clusterStore, 'etcd://10.0.0.1:2379,10.0.0.2:2379');
  t.is(c.clusterAdvertise, 'eth1');
  t.deepEqual(c.clusterStoreOpts, { 'kv.cacertfile': '/ca.pem' });
  const f = await config(t, {}, ['--cluster-store', 'etcd://h:2379', '--cluster-advertise', '192.168.1.2']);
  t.is(f.clusterStore, 'etcd://h:2379');
  t.is(f.clusterAdvertise, '192.168.1.2');
  t.is((await config(t, {})).clusterStore, undefined);
});

test('bad cluster settings are refused with a clear error', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ 'cluster-store': 'consul://h:8500', 'cluster-advertise': 'eth0' }, /only etcd/],
    [{ 'cluster-store': 'etcd://h:2379' }, /needs cluster-advertise/],
    [{ 'cluster-advertise': 'eth0' }, /needs cluster-store/],
    [{ 'cluster-store': 42, 'cluster-advertise': 'eth0' }, /cluster-store must be/],
    [{ 'cluster-store': 'etcd://h:1', 'cluster-advertise': 'a b' }, /address or an interface/],
    [{ 'cluster-store': 'etcd://h:1', 'cluster-advertise': 'x', 'cluster-store-opts': { 'kv.path': '/' } }, /unknown/],
    [{ 'cluster-store': 'etcd://h:1', 'cluster-advertise': 'x', 'cluster-store-opts': [] }, /object of strings/],
  ];
  for (const [json, re] of bad) {
    const err = await t.throwsAsync(config(t, json), { instanceOf: ConfigError }, JSON.stringify(json));
    t.regex(err!.message, re);
  }
});

test('resolveAdvertise: addresses as given, interfaces to their first IPv4, unknown ones refused', (t) => {
  const ifs = {
    ul0: [
      { address: 'fe80::1', family: 'IPv6', netmask: '', mac: '', internal: false, cidr: null, scopeid: 0 },
      { address: '10.9.9.9', family: 'IPv4', netmask: '', mac: '', internal: false, cidr: null },
    ],
    v6only: [{ address: 'fe80::2', family: 'IPv6', netmask: '', mac: '', internal: false, cidr: null, scopeid: 0 }],
  } as unknown as Parameters<typeof resolveAdvertise>[1];
  t.is(resolveAdvertise('192.168.0.7', ifs), '192.168.0.7');
  t.is(resolveAdvertise('192.168.0.7:2376', ifs), '192.168.0.7');
  t.is(resolveAdvertise('ul0', ifs), '10.9.9.9');
  t.throws(() => resolveAdvertise('nope0', ifs), { instanceOf: ClusterConfigError, message: /no such/ });
  t.throws(() => resolveAdvertise('v6only', ifs), { instanceOf: ClusterConfigError, message: /no IPv4/ });
});
