import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ClusterStoreUnavailableError, InvalidParameterError, type KvEvent } from '@skiff/core/plugin-api';
import test from 'ava';
import { EtcdStore } from './etcd-store.js';
import { parseStoreUrl } from './store-url.js';
import { type EtcdServer, startEtcd, startEtcdCluster } from './testing/etcd-server.js';

let etcd: EtcdServer;
test.before(async () => {
  etcd = await startEtcd();
});
test.after.always(async () => {
  await etcd?.stop();
});

function store(t: { teardown(fn: () => Promise<void>): void }, timeoutMs = 5000): EtcdStore {
  const s = new EtcdStore({ url: etcd.url, timeoutMs });
  t.teardown(() => s.close());
  return s;
}
const prefix = () => `/t-${randomBytes(4).toString('hex')}/`;

test('parseStoreUrl: members, TLS scheme and bad input', (t) => {
  t.deepEqual(parseStoreUrl('etcd://10.0.0.1:2379,h2:2380'), {
    hosts: ['http://10.0.0.1:2379', 'http://h2:2380'],
    tls: false,
  });
  t.deepEqual(parseStoreUrl('etcds://h:2379').hosts, ['https://h:2379']);
  for (const bad of ['http://h:2379', 'etcd://', 'etcd://h', 'etcd://h:2379,', 'etcd://h:x', 'consul://h:1'])
    t.throws(() => parseStoreUrl(bad), { instanceOf: InvalidParameterError }, bad);
});

test('get/put/list/delete', async (t) => {
  const s = store(t);
  const p = prefix();
  t.is(await s.get(`${p}a`), undefined);
  await s.put(`${p}a`, '1');
  await s.put(`${p}b`, '2');
  await s.put(`${p.slice(0, -1)}x`, 'outside');
  t.is((await s.get(`${p}a`))?.value, '1');
  t.deepEqual(
    (await s.list(p)).map((e) => [e.key, e.value]),
    [
      [`${p}a`, '1'],
      [`${p}b`, '2'],
    ],
  );
  t.true(await s.delete(`${p}a`));
  t.false(await s.delete(`${p}a`));
  await s.deletePrefix(p);
  t.deepEqual(await s.list(p), []);
  t.is((await s.get(`${p.slice(0, -1)}x`))?.value, 'outside');
  await t.throwsAsync(s.deletePrefix(''), { instanceOf: InvalidParameterError });
});

test('compare-and-swap: create-only, update at a revision, only one of many racers wins', async (t) => {
  const s = store(t);
  const k = `${prefix()}k`;
  t.true(await s.cas(k, 'first', 0));
  t.false(await s.cas(k, 'second', 0));
  const e = (await s.get(k))!;
  t.true(await s.cas(k, 'third', e.revision));
  t.false(await s.cas(k, 'stale', e.revision));
  t.is((await s.get(k))?.value, 'third');
  const cur = (await s.get(k))!;
  t.false(await s.delete(k, e.revision));
  t.true(await s.delete(k, cur.revision));
  const race = `${prefix()}race`;
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.cas(race, String(i), 0)));
  t.is(results.filter(Boolean).length, 1);
});

test('watch reports puts and deletes under the prefix only', async (t) => {
  const s = store(t);
  const p = prefix();
  const seen: KvEvent[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const w = await s.watch(p, (ev) => {
    seen.push(ev);
    if (seen.length === 2) done();
  });
  t.teardown(() => w.close());
  await s.put(`${p.slice(0, -1)}-other`, 'x');
  await s.put(`${p}a`, 'v');
  await s.delete(`${p}a`);
  await all;
  t.like(seen[0], { type: 'put', key: `${p}a`, value: 'v' });
  t.deepEqual(seen[1], { type: 'delete', key: `${p}a` });
});

test('keys under a lease disappear when it is revoked, and when its keeper dies (TTL)', async (t) => {
  const s = store(t);
  const p = prefix();
  const l = await s.lease(5);
  await s.put(`${p}a`, '1', { lease: l });
  t.true(await s.cas(`${p}b`, '2', 0, { lease: l }));
  await l.revoke();
  t.deepEqual(await s.list(p), []);

  // A keeper process killed with SIGKILL: nobody revokes, the TTL runs out.
  const script = `import { EtcdStore } from ${JSON.stringify(new URL('./etcd-store.js', import.meta.url).href)};
    const s = new EtcdStore({ url: ${JSON.stringify(etcd.url)} });
    const l = await s.lease(2);
    await s.put(${JSON.stringify(`${p}c`)}, '3', { lease: l });
    process.stdout.write('ready');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`keeper exited with ${code}`)));
  });
  t.is((await s.get(`${p}c`))?.value, '3');
  child.kill('SIGKILL');
  let gone!: () => void;
  const deleted = new Promise<void>((resolve) => (gone = resolve));
  const w = await s.watch(p, (ev) => {
    if (ev.type === 'delete' && ev.key === `${p}c`) gone();
  });
  t.teardown(() => w.close());
  if (await s.get(`${p}c`)) await deleted;
  t.is(await s.get(`${p}c`), undefined);
  await t.throwsAsync(s.lease(0), { instanceOf: InvalidParameterError });
});

test('an unreachable store fails with ClusterStoreUnavailableError, not a hang', async (t) => {
  const s = new EtcdStore({ url: 'etcd://127.0.0.1:1', timeoutMs: 1500 });
  t.teardown(() => s.close());
  const err = await t.throwsAsync(s.get('/x'), { instanceOf: ClusterStoreUnavailableError });
  t.regex(err!.message, /etcd:\/\/127\.0\.0\.1:1 is unreachable/);
  t.is(err!.status, 503);
  await t.throwsAsync(s.put('/x', 'y'), { instanceOf: ClusterStoreUnavailableError });
  await t.throwsAsync(s.lease(5), { instanceOf: ClusterStoreUnavailableError });
});

test('a three-member cluster: losing any one member changes nothing for clients', async (t) => {
  const cluster = await startEtcdCluster(3);
  t.teardown(() => cluster.stop());
  const s = new EtcdStore({ url: cluster.url, timeoutMs: 3000 });
  t.teardown(() => s.close());
  const p = prefix();
  const lease = await s.lease(5);
  await s.put(`${p}leased`, 'x', { lease });
  t.true(await s.cas(`${p}k`, '0', 0));
  let sawLast!: () => void;
  const last = new Promise<void>((r) => (sawLast = r));
  const w = await s.watch(p, (ev) => {
    if (ev.type === 'put' && ev.value === '5') sawLast();
  });
  t.teardown(() => w.close());
  await cluster.members[0]!.stop();
  // Whichever member the client used, it carries on with another one.
  for (let i = 1; i <= 5; i++) {
    const cur = (await s.get(`${p}k`))!;
    t.true(await s.cas(`${p}k`, String(i), cur.revision));
  }
  t.is((await s.get(`${p}k`))?.value, '5');
  t.is((await s.get(`${p}leased`))?.value, 'x', 'the lease is still kept alive');
  t.is((await s.list(p)).length, 2);
  await last; // the watch moved to a live member too
});
