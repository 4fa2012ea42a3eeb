import { randomBytes } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { IpamDriver } from '../plugin-api/ipam.js';
import type { IpamPool } from '../plugin-api/network-driver.js';
import { transaction } from '../store/database.js';
import { contains, formatIp, formatPrefix, last, overlaps, parseIp, parsePrefix, type Prefix, size } from './cidr.js';
import { hostRoutes } from './host-routes.js';

/** No pool or no address left: a typed error so callers (and tests) can tell it from a conflict. */
export class AddressSpaceExhaustedError extends ConflictError {}

/** dockerd's `default-address-pools` entry: carve `size`-bit subnets out of `base`. */
export interface AddressPoolSpec {
  base: string;
  size: number;
}

/** dockerd's defaults: 172.17–31.0.0/16, then /20 slices of 192.168.0.0/16. */
export const DEFAULT_ADDRESS_POOLS: AddressPoolSpec[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];

interface PoolDoc {
  subnet: string;
  range?: string;
  gateway?: string;
  v6: boolean;
}

/**
 * The default IPAM driver: pools and addresses in SQLite. Every allocation is one synchronous
 * transaction, so concurrent requests in this process can never hand out the same subnet or address.
 */
export class DefaultIpam implements IpamDriver {
  readonly name = 'default';
  private readonly defaults: AddressPoolSpec[];

  constructor(
    private readonly db: DatabaseSync,
    opts: { defaultPools?: AddressPoolSpec[]; routes?: () => Promise<Prefix[]> } = {},
  ) {
    this.defaults = opts.defaultPools?.length ? opts.defaultPools : DEFAULT_ADDRESS_POOLS;
    for (const p of this.defaults) {
      const base = parsePrefix(p.base, 'default address pool');
      if (!Number.isInteger(p.size) || p.size < base.bits || p.size > (base.v6 ? 128 : 32))
        throw new InvalidParameterError(`invalid default address pool ${p.base}: size ${p.size}`);
    }
    if (opts.routes) this.routes = opts.routes;
  }

  private routes: () => Promise<Prefix[]> = hostRoutes;

  private pools(): { id: string; doc: PoolDoc }[] {
    return (this.db.prepare('SELECT id, doc FROM ipam_pools').all() as { id: string; doc: string }[]).map((r) => ({
      id: r.id,
      doc: JSON.parse(r.doc) as PoolDoc,
    }));
  }

  private pool(poolId: string): PoolDoc {
    const row = this.db.prepare('SELECT doc FROM ipam_pools WHERE id = ?').get(poolId) as { doc: string } | undefined;
    if (!row) throw new NotFoundError(`address pool ${poolId} not found`);
    return JSON.parse(row.doc) as PoolDoc;
  }

  async requestPool(req: {
    pool?: string;
    range?: string;
    gateway?: string;
    v6: boolean;
    exclude?: string[];
  }): Promise<IpamPool> {
    const wanted = req.pool ? parsePrefix(req.pool) : undefined;
    if (wanted && wanted.v6 !== req.v6)
      throw new InvalidParameterError(`subnet ${req.pool} is not an IPv${req.v6 ? 6 : 4} subnet`);
    const range = req.range ? parsePrefix(req.range, 'ip-range') : undefined;
    if (range && !wanted) throw new InvalidParameterError('an ip-range needs a subnet');
    if (range && wanted && !(contains(wanted, range.v6, range.base) && contains(wanted, range.v6, last(range))))
      throw new InvalidParameterError(`ip-range ${req.range} is not inside subnet ${req.pool}`);
    const gw = req.gateway ? parseIp(req.gateway) : undefined;
    if (req.gateway && !gw) throw new InvalidParameterError(`invalid gateway address ${req.gateway}`);
    if (gw && !wanted) throw new InvalidParameterError('a gateway needs a subnet');
    if (gw && wanted && (!contains(wanted, gw.v6, gw.value) || isReserved(wanted, gw.value)))
      throw new InvalidParameterError(`gateway ${req.gateway} is not a usable address of subnet ${req.pool}`);
    const exclude = (req.exclude ?? []).map((e) => parsePrefix(e, 'excluded subnet', true));
    // Host routes only matter when the subnet is ours to choose (dockerd's rule).
    const avoid = wanted ? [] : [...(await this.routes()), ...exclude];

    return transaction(this.db, () => {
      const taken = this.pools().map((p) => parsePrefix(p.doc.subnet));
      let subnet: Prefix;
      if (wanted) {
        if (taken.some((t) => overlaps(t, wanted)))
          throw new ForbiddenError('Pool overlaps with other one on this address space');
        subnet = wanted;
      } else {
        const found = this.pickDefault(req.v6, [...taken, ...avoid]);
        if (!found)
          throw new AddressSpaceExhaustedError(
            `could not find an available, non-overlapping IPv${req.v6 ? 6 : 4} address pool among the defaults to assign to the network`,
          );
        subnet = found;
      }
      const gateway = gw?.value ?? firstUsable(subnet);
      const doc: PoolDoc = {
        subnet: formatPrefix(subnet),
        ...(range ? { range: formatPrefix(range) } : {}),
        gateway: formatIp(subnet.v6, gateway),
        v6: subnet.v6,
      };
      const id = randomBytes(16).toString('hex');
      this.db
        .prepare('INSERT INTO ipam_pools (id, subnet, doc) VALUES (?, ?, ?)')
        .run(id, doc.subnet, JSON.stringify(doc));
      this.db.prepare('INSERT INTO ipam_addresses (pool_id, address) VALUES (?, ?)').run(id, doc.gateway!);
      return { poolId: id, subnet: doc.subnet, gateway: doc.gateway };
    });
  }

  private pickDefault(v6: boolean, avoid: Prefix[]): Prefix | undefined {
    for (const spec of this.defaults) {
      const base = parsePrefix(spec.base);
      if (base.v6 !== v6) continue;
      const step = 1n << BigInt((v6 ? 128 : 32) - spec.size);
      for (let at = base.base; at <= last(base); at += step) {
        const cand: Prefix = { v6, base: at, bits: spec.size };
        if (!avoid.some((a) => overlaps(a, cand))) return cand;
      }
    }
    return undefined;
  }

  async releasePool(poolId: string): Promise<void> {
    this.db.prepare('DELETE FROM ipam_pools WHERE id = ?').run(poolId);
  }

  /** The pool's subnet, ip-range and gateway (for network inspect). */
  describe(poolId: string): { subnet: string; range?: string; gateway?: string } {
    const p = this.pool(poolId);
    return { subnet: p.subnet, range: p.range, gateway: p.gateway };
  }

  async requestAddress(poolId: string, opts: { preferred?: string } = {}): Promise<string> {
    return transaction(this.db, () => {
      const p = this.pool(poolId);
      const subnet = parsePrefix(p.subnet);
      const used = new Set(
        (
          this.db.prepare('SELECT address FROM ipam_addresses WHERE pool_id = ?').all(poolId) as { address: string }[]
        ).map((r) => r.address),
      );
      let pick: string | undefined;
      if (opts.preferred) {
        const ip = parseIp(opts.preferred);
        if (!ip || !contains(subnet, ip.v6, ip.value) || isReserved(subnet, ip.value))
          throw new InvalidParameterError(`Address ${opts.preferred} is not in subnet ${p.subnet}`);
        pick = formatIp(ip.v6, ip.value);
        if (used.has(pick)) throw new ConflictError(`Address already in use: ${pick}`);
      } else {
        const range = p.range ? parsePrefix(p.range) : subnet;
        const end = last(range);
        for (let v = range.base; v <= end && size(range) > 0n; v++) {
          if (isReserved(subnet, v)) continue;
          const s = formatIp(subnet.v6, v);
          if (!used.has(s)) {
            pick = s;
            break;
          }
        }
        if (!pick)
          throw new AddressSpaceExhaustedError(`no available IPv${subnet.v6 ? 6 : 4} addresses on pool ${p.subnet}`);
      }
      this.db.prepare('INSERT INTO ipam_addresses (pool_id, address) VALUES (?, ?)').run(poolId, pick);
      return `${pick}/${subnet.bits}`;
    });
  }

  async releaseAddress(poolId: string, address: string): Promise<void> {
    const ip = address.split('/')[0]!;
    const p = this.db.prepare('SELECT doc FROM ipam_pools WHERE id = ?').get(poolId) as { doc: string } | undefined;
    // The gateway stays reserved for the pool's lifetime.
    if (p && (JSON.parse(p.doc) as PoolDoc).gateway === ip) return;
    this.db.prepare('DELETE FROM ipam_addresses WHERE pool_id = ? AND address = ?').run(poolId, ip);
  }
}

/** The network and broadcast addresses of an IPv4 subnet wider than /31 (v6: the subnet-router anycast). */
function isReserved(p: Prefix, v: bigint): boolean {
  if (p.v6) return v === p.base && p.bits < 127;
  return p.bits < 31 && (v === p.base || v === last(p));
}

function firstUsable(p: Prefix): bigint {
  return isReserved(p, p.base) ? p.base + 1n : p.base;
}
