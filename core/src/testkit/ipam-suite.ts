import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import { ConflictError, SkiffError } from '../plugin-api/errors.js';
import type { IpamDriver } from '../plugin-api/ipam.js';

/** What the suite hands an IPAM driver factory; the same dir again stands for a restarted daemon. */
export interface IpamSuiteContext {
  state: string;
}

async function context(t: ExecutionContext): Promise<IpamSuiteContext> {
  const state = await mkdtemp(join(tmpdir(), 'skiff-ipam-suite-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  return { state };
}

/** `10.231.7.9/24` → [10.231.7.9, 24]. */
function split(cidr: string): [string, number] {
  const [ip, bits] = cidr.split('/');
  return [ip ?? '', Number(bits)];
}

/**
 * Conformance of an IPAM driver: a requested subnet is honoured, its addresses are unique, never
 * the gateway, and come back once released; a preferred address is given or refused with
 * ConflictError; overlapping subnets are refused; pools without a subnet never overlap; all of it
 * outlives a restart of the driver. Subnets used: 10.231.7.0/24, 10.231.8.0/24, fd31:7::/64.
 */
export function ipamDriverSuite(
  test: TestFn,
  name: string,
  factory: (ctx: IpamSuiteContext) => Promise<IpamDriver>,
): void {
  test(`${name}: a requested subnet, its gateway and unique addresses in it`, async (t) => {
    const ipam = await factory(await context(t));
    const pool = await ipam.requestPool({ pool: '10.231.7.0/24', v6: false });
    t.is(pool.subnet, '10.231.7.0/24');
    t.truthy(pool.poolId);
    if (pool.gateway) t.regex(pool.gateway, /^10\.231\.7\.\d+$/);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const [ip, bits] = split(await ipam.requestAddress(pool.poolId));
      t.is(bits, 24);
      t.regex(ip, /^10\.231\.7\.\d+$/);
      t.not(ip, pool.gateway, 'never the gateway');
      t.false(seen.has(ip), `${ip} handed out twice`);
      seen.add(ip);
    }
    const v6 = await ipam.requestPool({ pool: 'fd31:7::/64', v6: true });
    const [ip6, bits6] = split(await ipam.requestAddress(v6.poolId));
    t.is(bits6, 64);
    t.true(ip6.startsWith('fd31:7:'), ip6);
  });

  test(`${name}: a preferred address is given once; released addresses come back`, async (t) => {
    const ipam = await factory(await context(t));
    const pool = await ipam.requestPool({ pool: '10.231.7.0/24', v6: false });
    t.is(await ipam.requestAddress(pool.poolId, { preferred: '10.231.7.50' }), '10.231.7.50/24');
    await t.throwsAsync(ipam.requestAddress(pool.poolId, { preferred: '10.231.7.50' }), { instanceOf: ConflictError });
    await ipam.releaseAddress(pool.poolId, '10.231.7.50/24');
    t.is(await ipam.requestAddress(pool.poolId, { preferred: '10.231.7.50' }), '10.231.7.50/24');
  });

  test(`${name}: overlapping subnets are refused; pools without a subnet never overlap`, async (t) => {
    const ipam = await factory(await context(t));
    const a = await ipam.requestPool({ pool: '10.231.7.0/24', v6: false });
    const err = await t.throwsAsync(ipam.requestPool({ pool: '10.231.7.128/25', v6: false }));
    t.true(err instanceof SkiffError, 'a typed error (its status reaches the client)');
    const auto1 = await ipam.requestPool({ v6: false });
    const auto2 = await ipam.requestPool({ v6: false });
    t.not(auto1.subnet, auto2.subnet);
    t.not(auto1.subnet, a.subnet);
    await ipam.releasePool(a.poolId);
    const again = await ipam.requestPool({ pool: '10.231.7.0/24', v6: false });
    t.is(again.subnet, '10.231.7.0/24', 'a released subnet can be had again');
  });

  test(`${name}: pools and addresses outlive a restart of the driver`, async (t) => {
    const ctx = await context(t);
    const first = await factory(ctx);
    const pool = await first.requestPool({ pool: '10.231.8.0/24', v6: false });
    const held = await first.requestAddress(pool.poolId, { preferred: '10.231.8.9' });
    const restarted = await factory(ctx);
    await t.throwsAsync(restarted.requestAddress(pool.poolId, { preferred: '10.231.8.9' }), {
      instanceOf: ConflictError,
    });
    await t.throwsAsync(restarted.requestPool({ pool: '10.231.8.0/24', v6: false }));
    await restarted.releaseAddress(pool.poolId, held);
    t.is(await restarted.requestAddress(pool.poolId, { preferred: '10.231.8.9' }), '10.231.8.9/24');
  });
}
