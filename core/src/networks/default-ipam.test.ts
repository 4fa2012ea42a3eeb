import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ConflictError, ForbiddenError, InvalidParameterError } from '../plugin-api/errors.js';
import { openDatabase } from '../store/database.js';
import { parsePrefix, type Prefix } from './cidr.js';
import { AddressSpaceExhaustedError, DefaultIpam } from './default-ipam.js';

async function dbFile(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-ipam-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'skiff.db');
}

async function ipam(
  t: ExecutionContext,
  routes: Prefix[] = [],
  opts: ConstructorParameters<typeof DefaultIpam>[1] = {},
) {
  const file = await dbFile(t);
  const db = openDatabase(file);
  t.teardown(() => db.close());
  return { file, ipam: new DefaultIpam(db, { routes: async () => routes, ...opts }) };
}

test('default pools follow dockerd: 172.17/16 first, host routes and taken pools skipped, gateway first address', async (t) => {
  const { ipam: i } = await ipam(t, [parsePrefix('172.17.0.0/16'), parsePrefix('172.19.5.0/24')]);
  const a = await i.requestPool({ v6: false });
  t.like(a, { subnet: '172.18.0.0/16', gateway: '172.18.0.1' });
  const b = await i.requestPool({ v6: false });
  t.is(b.subnet, '172.20.0.0/16', 'overlaps with a host route are skipped');
  t.is(await i.requestAddress(a.poolId), '172.18.0.2/16');
});

test('user subnets: overlap refused (403), gateway outside refused (400), ip-range honoured', async (t) => {
  const { ipam: i } = await ipam(t);
  const p = await i.requestPool({ pool: '10.1.0.0/24', range: '10.1.0.128/25', gateway: '10.1.0.254', v6: false });
  t.is(p.gateway, '10.1.0.254');
  t.is(await i.requestAddress(p.poolId), '10.1.0.128/24');
  await t.throwsAsync(() => i.requestPool({ pool: '10.1.0.0/16', v6: false }), { instanceOf: ForbiddenError });
  await t.throwsAsync(() => i.requestPool({ pool: '10.2.0.0/24', gateway: '10.3.0.1', v6: false }), {
    instanceOf: InvalidParameterError,
  });
  await t.throwsAsync(() => i.requestPool({ pool: '10.2.0.0/24', range: '10.4.0.0/25', v6: false }), {
    instanceOf: InvalidParameterError,
  });
  await t.throwsAsync(() => i.requestPool({ pool: '10.2.0.1/24', v6: false }), {
    message: /it should be 10.2.0.0\/24/,
  });
  await t.throwsAsync(() => i.requestPool({ pool: 'nonsense', v6: false }), { instanceOf: InvalidParameterError });
  // The refused requests took nothing: 10.2.0.0/24 is still free.
  t.is((await i.requestPool({ pool: '10.2.0.0/24', v6: false })).subnet, '10.2.0.0/24');
});

test('preferred addresses: honoured, 409 when taken, 400 outside the subnet; release makes them free again', async (t) => {
  const { ipam: i } = await ipam(t);
  const p = await i.requestPool({ pool: '10.9.0.0/24', v6: false });
  t.is(await i.requestAddress(p.poolId, { preferred: '10.9.0.50' }), '10.9.0.50/24');
  await t.throwsAsync(() => i.requestAddress(p.poolId, { preferred: '10.9.0.50' }), { instanceOf: ConflictError });
  await t.throwsAsync(() => i.requestAddress(p.poolId, { preferred: '10.9.0.1' }), { instanceOf: ConflictError });
  await t.throwsAsync(() => i.requestAddress(p.poolId, { preferred: '10.8.0.5' }), {
    instanceOf: InvalidParameterError,
  });
  await t.throwsAsync(() => i.requestAddress(p.poolId, { preferred: '10.9.0.255' }), {
    instanceOf: InvalidParameterError,
  });
  await i.releaseAddress(p.poolId, '10.9.0.50/24');
  t.is(await i.requestAddress(p.poolId, { preferred: '10.9.0.50' }), '10.9.0.50/24');
});

test('exhaustion is a typed error, for addresses and for pools', async (t) => {
  const { ipam: i } = await ipam(t, [], { defaultPools: [{ base: '10.20.0.0/23', size: 24 }] });
  const p = await i.requestPool({ pool: '10.9.0.0/30', v6: false });
  t.is(await i.requestAddress(p.poolId), '10.9.0.2/30');
  await t.throwsAsync(() => i.requestAddress(p.poolId), { instanceOf: AddressSpaceExhaustedError });
  await i.requestPool({ v6: false });
  await i.requestPool({ v6: false });
  await t.throwsAsync(() => i.requestPool({ v6: false }), {
    instanceOf: AddressSpaceExhaustedError,
    message: /non-overlapping/,
  });
});

test('concurrent requests never share a subnet or an address', async (t) => {
  const { ipam: i } = await ipam(t);
  const pools = await Promise.all(Array.from({ length: 8 }, () => i.requestPool({ v6: false })));
  t.is(new Set(pools.map((p) => p.subnet)).size, 8);
  const addrs = await Promise.all(Array.from({ length: 50 }, () => i.requestAddress(pools[0]!.poolId)));
  t.is(new Set(addrs).size, 50);
});

test('pools and addresses persist across a reopen; releasePool frees the subnet', async (t) => {
  const { file, ipam: i } = await ipam(t);
  const p = await i.requestPool({ pool: '10.30.0.0/24', v6: false });
  const a = await i.requestAddress(p.poolId);
  const db2 = openDatabase(file);
  t.teardown(() => db2.close());
  const again = new DefaultIpam(db2, { routes: async () => [] });
  await t.throwsAsync(() => again.requestPool({ pool: '10.30.0.0/24', v6: false }), { instanceOf: ForbiddenError });
  t.not(await again.requestAddress(p.poolId), a);
  await again.releasePool(p.poolId);
  t.is((await again.requestPool({ pool: '10.30.0.0/24', v6: false })).subnet, '10.30.0.0/24');
});

test('IPv6 pools', async (t) => {
  const { ipam: i } = await ipam(t);
  const p = await i.requestPool({ pool: 'fd00:1::/64', v6: true });
  t.is(p.gateway, 'fd00:1::1');
  t.is(await i.requestAddress(p.poolId), 'fd00:1::2/64');
  await t.throwsAsync(() => i.requestPool({ pool: 'fd00:1::/48', v6: true }), { instanceOf: ForbiddenError });
});
