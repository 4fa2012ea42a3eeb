import {
  type ClusterStore,
  ConflictError,
  InvalidParameterError,
  type KvLease,
  SystemError,
} from '@skiff/core/plugin-api';
import { contains, intToIp, ipToInt, overlaps, parseSubnet, size, type Subnet } from './ipv4.js';

/** An overlay network as every host reads it from the cluster store. */
export interface NetworkDoc {
  id: string;
  name: string;
  created: string;
  internal: boolean;
  attachable: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  subnet: string;
  gateway: string;
  ipRange?: string;
  /** The user gave the subnet (inspect shows the config as given). */
  userSubnet: boolean;
  /** The user gave the gateway too. */
  userGateway?: boolean;
  vni: number;
}

/** An endpoint published by the host it lives on, under that host's lease. */
export interface EndpointDoc {
  network: string;
  host: string;
  ip: string;
  mac: string;
  names: string[];
}

export const FIRST_VNI = 4096;
const MAX_VNI = 0xffffff;
/** Where overlay networks without --subnet get theirs (Docker's overlay default is 10.0.0.0/8 in /24s). */
const DEFAULT_POOL = parseSubnet('10.0.0.0/8');

/**
 * The overlay's cluster state (libnetwork's libkv layout, re-thought for etcd v3): every
 * allocation is a create-only compare-and-swap, so two hosts never get the same VNI, subnet or
 * address — the loser of a race just tries the next one.
 */
export class ClusterState {
  constructor(
    readonly store: ClusterStore,
    readonly prefix: string,
  ) {}

  key(...parts: string[]): string {
    return this.prefix + parts.join('/');
  }

  async networks(): Promise<NetworkDoc[]> {
    return (await this.store.list(this.key('networks', ''))).flatMap((e) => parseJson<NetworkDoc>(e.value) ?? []);
  }

  async network(id: string): Promise<NetworkDoc | undefined> {
    const e = await this.store.get(this.key('networks', id));
    return e ? parseJson<NetworkDoc>(e.value) : undefined;
  }

  async endpoints(networkId?: string): Promise<Map<string, EndpointDoc>> {
    const list = await this.store.list(this.key('endpoints', networkId ? `${networkId}/` : ''));
    return new Map(
      list.flatMap((e) => (parseJson<EndpointDoc>(e.value) ? [[e.key, parseJson<EndpointDoc>(e.value)!]] : [])),
    );
  }

  /** Takes the name, a VNI and the subnet, then writes the network; all or nothing. */
  async createNetwork(
    doc: Omit<NetworkDoc, 'vni' | 'subnet' | 'gateway'> & { subnet?: string; gateway?: string },
  ): Promise<NetworkDoc> {
    const undo: (() => Promise<unknown>)[] = [];
    try {
      if (!(await this.store.cas(this.key('names', doc.name), doc.id, 0)))
        throw new ConflictError(`network with name ${doc.name} already exists`);
      undo.push(() => this.store.delete(this.key('names', doc.name)));
      const subnet = doc.subnet
        ? await this.claimSubnet(parseSubnet(doc.subnet), doc.id)
        : await this.anySubnet(doc.id);
      undo.push(() => this.store.delete(this.key('subnets', subnetKey(subnet))));
      const gateway = doc.gateway ?? intToIp(subnet.base + 1);
      const gw = ipToInt(gateway);
      if (gw === undefined || !contains(subnet, gw) || gw === subnet.base || gw === subnet.base + size(subnet) - 1)
        throw new InvalidParameterError(`gateway ${gateway} is not a host address of ${subnet.cidr}`);
      const vni = await this.claimVni(doc.id);
      undo.push(() => this.store.delete(this.key('vni', String(vni))));
      const full: NetworkDoc = { ...doc, subnet: subnet.cidr, gateway, vni };
      // The gateway is every host's bridge address: no container may get it.
      await this.store.put(this.key('addrs', doc.id, gateway), JSON.stringify({ gateway: true }));
      if (!(await this.store.cas(this.key('networks', doc.id), JSON.stringify(full), 0)))
        throw new ConflictError(`network ${doc.id} already exists`);
      return full;
    } catch (err) {
      for (const u of undo.reverse()) await u().catch(() => {});
      await this.store.deletePrefix(this.key('addrs', doc.id, '')).catch(() => {});
      throw err;
    }
  }

  async deleteNetwork(doc: NetworkDoc): Promise<void> {
    await this.store.delete(this.key('networks', doc.id));
    const name = await this.store.get(this.key('names', doc.name));
    if (name?.value === doc.id) await this.store.delete(this.key('names', doc.name), name.revision);
    await this.store.delete(this.key('vni', String(doc.vni)));
    await this.store.delete(this.key('subnets', subnetKey(parseSubnet(doc.subnet))));
    await this.store.deletePrefix(this.key('addrs', doc.id, ''));
    await this.store.deletePrefix(this.key('endpoints', doc.id, ''));
  }

  private async claimSubnet(s: Subnet, owner: string): Promise<Subnet> {
    for (const e of await this.store.list(this.key('subnets', ''))) {
      const other = parseSubnet(e.key.slice(this.key('subnets', '').length).replace('_', '/'));
      if (overlaps(s, other)) throw new ConflictError(`subnet ${s.cidr} overlaps the overlay subnet ${other.cidr}`);
    }
    if (!(await this.store.cas(this.key('subnets', subnetKey(s)), owner, 0)))
      throw new ConflictError(`subnet ${s.cidr} is already used by another overlay network`);
    return s;
  }

  private async anySubnet(owner: string): Promise<Subnet> {
    const taken = (await this.store.list(this.key('subnets', ''))).map((e) =>
      parseSubnet(e.key.slice(this.key('subnets', '').length).replace('_', '/')),
    );
    for (let n = 0; n < size(DEFAULT_POOL) / 256; n++) {
      const s = parseSubnet(`${intToIp(DEFAULT_POOL.base + n * 256)}/24`);
      if (taken.some((o) => overlaps(o, s))) continue;
      if (await this.store.cas(this.key('subnets', subnetKey(s)), owner, 0)) return s;
    }
    throw new ConflictError('no free overlay subnet left in 10.0.0.0/8');
  }

  private async claimVni(owner: string): Promise<number> {
    const taken = new Set((await this.store.list(this.key('vni', ''))).map((e) => Number(e.key.split('/').pop())));
    for (let v = FIRST_VNI; v <= MAX_VNI; v++) {
      if (taken.has(v)) continue;
      if (await this.store.cas(this.key('vni', String(v)), owner, 0)) return v;
    }
    throw new ConflictError('no free VXLAN id left');
  }

  /** A free address of the network (a fixed one when `preferred`), recorded for `endpointId` on `host`. */
  async claimAddress(net: NetworkDoc, endpointId: string, host: string, preferred?: string): Promise<string> {
    const s = parseSubnet(net.subnet);
    const range = net.ipRange ? parseSubnet(net.ipRange) : s;
    const value = JSON.stringify({ endpoint: endpointId, host });
    const dir = this.key('addrs', net.id, '');
    if (preferred) {
      const p = ipToInt(preferred);
      if (p === undefined || !contains(s, p) || p === s.base || p === s.base + size(s) - 1)
        throw new InvalidParameterError(`${preferred} is not a host address of ${s.cidr}`);
      for (;;) {
        const cur = await this.store.get(dir + preferred);
        const holder = cur && parseJson<{ endpoint?: string; host?: string; gateway?: boolean }>(cur.value);
        if (holder?.endpoint === endpointId) return preferred;
        if (cur)
          throw new ConflictError(
            `address ${preferred} is already in use on network ${net.name}` +
              (holder?.gateway ? ' (its gateway)' : holder?.host ? ` (by an endpoint on host ${holder.host})` : ''),
          );
        // Lost a race: read the winner again for the message.
        if (await this.store.cas(dir + preferred, value, 0)) return preferred;
      }
    }
    for (let attempt = 0; attempt < 64; attempt++) {
      const taken = new Set((await this.store.list(dir)).map((e) => e.key.slice(dir.length)));
      let found: string | undefined;
      for (let i = 1; i < size(range) - 1; i++) {
        const ip = range.base + i;
        if (ip === s.base || ip === s.base + size(s) - 1) continue;
        const txt = intToIp(ip);
        if (!taken.has(txt)) {
          found = txt;
          break;
        }
      }
      if (!found) throw new ConflictError(`no free address left on network ${net.name}`);
      if (await this.store.cas(dir + found, value, 0)) return found;
    }
    throw new SystemError(`could not claim an address on network ${net.name}: too much contention`);
  }

  /** Gives an address back, only if it is still this endpoint's. */
  async releaseAddress(networkId: string, ip: string, endpointId: string): Promise<void> {
    const k = this.key('addrs', networkId, ip);
    const cur = await this.store.get(k);
    if (cur && parseJson<{ endpoint?: string }>(cur.value)?.endpoint === endpointId)
      await this.store.delete(k, cur.revision);
  }

  /** Addresses recorded for `host`: endpoint id by `networkId/ip`. */
  async addressesOf(host: string): Promise<{ networkId: string; ip: string; endpoint: string }[]> {
    const dir = this.key('addrs', '');
    return (await this.store.list(dir)).flatMap((e) => {
      const v = parseJson<{ endpoint?: string; host?: string }>(e.value);
      const [networkId, ip] = e.key.slice(dir.length).split('/');
      return v?.host === host && v.endpoint && networkId && ip ? [{ networkId, ip, endpoint: v.endpoint }] : [];
    });
  }

  async publishEndpoint(endpointId: string, doc: EndpointDoc, lease: KvLease): Promise<void> {
    await this.store.put(this.key('endpoints', doc.network, endpointId), JSON.stringify(doc), { lease });
  }

  async unpublishEndpoint(networkId: string, endpointId: string): Promise<void> {
    await this.store.delete(this.key('endpoints', networkId, endpointId));
  }
}

function subnetKey(s: Subnet): string {
  return s.cidr.replace('/', '_');
}

export function parseJson<T>(text: string): T | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}
