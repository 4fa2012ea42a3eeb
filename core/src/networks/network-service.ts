import { randomBytes } from 'node:crypto';
import type { Labels } from '../plugin-api/graph-driver.js';
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import { checkFilterKeys, matchLabel, pruneCutoff, pruneLabelsMatch } from '../util/filter-values.js';
import type { EventBus } from '../plugin-api/events.js';
import type { IpamDriver } from '../plugin-api/ipam.js';
import type { Logger } from '../plugin-api/logger.js';
import type { NetworkDriver, NetworkDriverCapabilities } from '../plugin-api/network-driver.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';
import { formatPrefix, parseIp, parsePrefix } from './cidr.js';
import { KeyedLock, specOf } from './network-spec.js';
import type { IpamConfigEntry, NetworkRecord, NetworkStore } from './network-store.js';
import { compareStrings } from '../util/compare.js';

type Json = Record<string, unknown>;

const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Settings of the builtin networks (daemon.json: bridge, bip, fixed-cidr, mtu) and of new ones. */
export interface BuiltinSettings {
  /** Linux bridge of the default `bridge` network; `none` = no default bridge network. */
  bridgeName: string;
  bip?: string;
  fixedCidr?: string;
  mtu?: number;
  /** Drivers of new networks that name none (daemon.json default-network-driver, default-ipam-driver). */
  defaultDriver?: string;
  defaultIpamDriver?: string;
}

/** skiffd's own IPAM driver's name (the IpamDriver the service is built with). */
const OWN_IPAM = 'default';

/** The builtin networks: name = driver name, like dockerd's bridge, host and none. */
const BUILTINS = ['bridge', 'host', 'none'] as const;

function isObj(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function strMap(v: unknown, what: string): Labels {
  if (v === undefined || v === null) return {};
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string'))
    throw new InvalidParameterError(`${what} must be an object of strings`);
  return { ...(v as Labels) };
}

function optStr(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new InvalidParameterError(`${what} must be a string`);
  return v;
}

/** Networks: create, list, inspect, remove, prune; the builtin ones exist from the first start. */
export class NetworkService {
  private readonly lock = new KeyedLock();
  private readonly caps = new Map<string, NetworkDriverCapabilities>();
  /** Detaches endpoints whose container no longer runs (its teardown may still be on its way). */
  reapEndpoints: (networkId: string) => Promise<void> = async () => {};
  /** Names being created (the async part of create runs outside the database transaction). */
  private readonly creating = new Set<string>();

  constructor(
    readonly store: NetworkStore,
    private readonly ipam: IpamDriver,
    private readonly drivers: DriverRegistry,
    private readonly events: EventBus,
    private readonly builtin: BuiltinSettings,
    private readonly log: Logger,
  ) {}

  hasDriver(n: NetworkRecord): boolean {
    return this.drivers.has('network', n.Driver);
  }

  async driverOf(n: NetworkRecord): Promise<NetworkDriver> {
    if (!this.drivers.has('network', n.Driver))
      throw new NotFoundError(`network ${n.Name} needs the "${n.Driver}" network driver, which is not loaded`);
    const d = await this.drivers.get('network', n.Driver);
    if (!this.caps.has(n.Driver)) this.caps.set(n.Driver, d.capabilities());
    return d;
  }

  /** The IPAM driver of a network: skiffd's own, or the `ipam` plugin it was created with. */
  async ipamOf(n: Pick<NetworkRecord, 'Name' | 'IPAM'>): Promise<IpamDriver> {
    const name = n.IPAM.Driver || OWN_IPAM;
    if (name === OWN_IPAM) return this.ipam;
    if (!this.drivers.has('ipam', name))
      throw new NotFoundError(`network ${n.Name} needs the "${name}" IPAM driver, which is not loaded`);
    return this.drivers.get('ipam', name);
  }

  /** Capabilities of a driver already in use (for views, which are synchronous). */
  knownCapabilities(n: NetworkRecord): NetworkDriverCapabilities | undefined {
    return this.caps.get(n.Driver);
  }

  /** Exact name, full ID, then a unique ID prefix (dockerd's order). */
  resolve(ref: string): NetworkRecord {
    const n =
      this.store.byName(ref) ??
      this.store.get(ref) ??
      (() => {
        if (!/^[0-9a-f]+$/.test(ref)) return undefined;
        const found = this.store.byIdPrefix(ref);
        if (found.length > 1)
          throw new InvalidParameterError(
            `network ${ref} is ambiguous (${found.length} matches found based on ID prefix)`,
          );
        return found[0];
      })();
    if (!n) throw new NotFoundError(`network ${ref} not found`);
    return n;
  }

  find(ref: string): NetworkRecord | undefined {
    try {
      return this.resolve(ref);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  list(): NetworkRecord[] {
    return this.store.list().sort((a, b) => compareStrings(a.Created, b.Created));
  }

  /** Creates the builtin networks whose drivers are loaded (once; later starts find them stored). */
  async init(): Promise<void> {
    for (const name of BUILTINS) {
      if (this.store.byName(name) || !this.drivers.has('network', name)) continue;
      if (name === 'bridge' && this.builtin.bridgeName === 'none') continue;
      try {
        await this.createBuiltin(name);
      } catch (err) {
        this.log.error(`cannot create the builtin network ${name}`, { error: err as Error });
      }
    }
  }

  private async createBuiltin(name: (typeof BUILTINS)[number]): Promise<void> {
    const options: Labels = {};
    const config: IpamConfigEntry[] = [];
    if (name === 'bridge') {
      Object.assign(options, {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        'com.docker.network.bridge.name': this.builtin.bridgeName,
        'com.docker.network.driver.mtu': String(this.builtin.mtu ?? 1500),
      });
      if (this.builtin.bip) {
        // bip is the bridge's own address with the prefix: 172.26.0.1/16.
        const [ip, bits] = this.builtin.bip.split('/');
        const p = parseIp(ip ?? '');
        if (!p || !bits) throw new InvalidParameterError(`invalid bip ${this.builtin.bip}`);
        const subnet = formatPrefix(parsePrefix(this.builtin.bip, 'bip', true));
        config.push({
          Subnet: subnet,
          Gateway: ip,
          ...(this.builtin.fixedCidr ? { IPRange: this.builtin.fixedCidr } : {}),
        });
      } else if (this.builtin.fixedCidr) {
        throw new InvalidParameterError('fixed-cidr needs bip');
      }
    }
    await this.createNetwork({
      name,
      driver: name,
      options,
      labels: {},
      config,
      internal: false,
      attachable: false,
      ipv6: false,
      builtin: true,
    });
  }

  /** `POST /networks/create`. */
  async create(body: unknown): Promise<{ Id: string; Warning: string }> {
    if (!isObj(body)) throw new InvalidParameterError('network create needs a JSON body');
    const name = optStr(body.Name, 'Name') ?? '';
    if (!NETWORK_NAME.test(name)) throw new InvalidParameterError(`invalid name: ${name}`);
    if ((BUILTINS as readonly string[]).includes(name) && this.store.byName(name)?.builtin)
      throw new ForbiddenError(`operation is not permitted on predefined ${name} network `);
    const driver = optStr(body.Driver, 'Driver') || this.builtin.defaultDriver || 'bridge';
    const ipam = isObj(body.IPAM) ? body.IPAM : {};
    if (body.IPAM !== undefined && body.IPAM !== null && !isObj(body.IPAM))
      throw new InvalidParameterError('IPAM must be an object');
    const ipamDriver = optStr(ipam.Driver, 'IPAM.Driver') || this.builtin.defaultIpamDriver || OWN_IPAM;
    if (ipamDriver !== OWN_IPAM && !this.drivers.has('ipam', ipamDriver))
      throw new NotFoundError(`plugin "${ipamDriver}" not found`);
    const rawConfig = ipam.Config ?? [];
    if (!Array.isArray(rawConfig)) throw new InvalidParameterError('IPAM.Config must be a list');
    const config: IpamConfigEntry[] = rawConfig.map((c, i) => {
      if (!isObj(c)) throw new InvalidParameterError(`IPAM.Config[${i}] must be an object`);
      const e: IpamConfigEntry = {};
      const subnet = optStr(c.Subnet, 'Subnet');
      const range = optStr(c.IPRange, 'IPRange');
      const gateway = optStr(c.Gateway, 'Gateway');
      if (subnet) e.Subnet = subnet;
      if (range) e.IPRange = range;
      if (gateway) e.Gateway = gateway;
      const aux = strMap(c.AuxiliaryAddresses, 'AuxiliaryAddresses');
      if (Object.keys(aux).length) e.AuxiliaryAddresses = aux;
      if (!subnet && (range || gateway || e.AuxiliaryAddresses))
        throw new InvalidParameterError('an ip-range, a gateway or auxiliary addresses need a subnet');
      return e;
    });
    const bool = (k: string) => {
      const v = body[k];
      if (v !== undefined && v !== null && typeof v !== 'boolean')
        throw new InvalidParameterError(`${k} must be a boolean`);
      return v === true;
    };
    const id = await this.createNetwork({
      name,
      driver,
      ipamDriver,
      options: strMap(body.Options, 'Options'),
      labels: strMap(body.Labels, 'Labels'),
      config,
      internal: bool('Internal'),
      attachable: bool('Attachable'),
      ipv6: bool('EnableIPv6'),
      builtin: false,
    });
    return { Id: id, Warning: '' };
  }

  private async createNetwork(o: {
    name: string;
    driver: string;
    /** Builtin networks: skiffd's own. */
    ipamDriver?: string;
    options: Labels;
    labels: Labels;
    config: IpamConfigEntry[];
    internal: boolean;
    attachable: boolean;
    ipv6: boolean;
    builtin: boolean;
  }): Promise<string> {
    if (this.store.byName(o.name) || this.creating.has(o.name))
      throw new ConflictError(`network with name ${o.name} already exists`);
    if (!this.drivers.has('network', o.driver)) throw new NotFoundError(`plugin "${o.driver}" not found`);
    this.creating.add(o.name);
    try {
      const driver = await this.drivers.get('network', o.driver);
      const caps = driver.capabilities();
      if (!caps.endpoints && this.store.list().some((n) => n.Driver === o.driver))
        throw new ForbiddenError(`only one instance of "${o.driver}" network is allowed`);
      const rec: NetworkRecord = {
        Id: randomBytes(32).toString('hex'),
        Name: o.name,
        Created: new Date().toISOString(),
        Driver: o.driver,
        Scope: caps.scope,
        EnableIPv6: o.ipv6,
        Internal: o.internal,
        Attachable: o.attachable,
        Options: o.options,
        Labels: o.labels,
        IPAM: { Driver: o.ipamDriver ?? OWN_IPAM, Options: o.builtin ? null : {}, Config: [] },
        pools: [],
        state: {},
        builtin: o.builtin,
      };
      try {
        if (caps.needsIpam) await this.allocatePools(rec, o.config);
        else rec.IPAM.Config = o.config;
        // A driver with its own IPAM (overlay: global) still gets the subnet the user asked for.
        const asked = o.config.flatMap((c) => (c.Subnet ? [{ poolId: '', subnet: c.Subnet, gateway: c.Gateway }] : []));
        rec.state = await driver.createNetwork(specOf(rec), caps.needsIpam ? rec.pools : asked);
        // The subnet such a driver picked shows in inspect as dockerd shows an allocated one.
        if (!caps.needsIpam && !rec.IPAM.Config.length && rec.state.subnet)
          rec.IPAM.Config = [
            { Subnet: rec.state.subnet, ...(rec.state.gateway ? { Gateway: rec.state.gateway } : {}) },
          ];
      } catch (err) {
        await this.releasePools(rec);
        throw err;
      }
      try {
        this.store.insert(rec);
      } catch (err) {
        await driver.deleteNetwork(specOf(rec)).catch(() => {});
        await this.releasePools(rec);
        throw err;
      }
      this.publish(rec, 'create');
      return rec.Id;
    } finally {
      this.creating.delete(o.name);
    }
  }

  /** One pool per IPAM.Config entry, a default IPv4 pool when none is given; all or nothing. */
  private async allocatePools(rec: NetworkRecord, config: IpamConfigEntry[]): Promise<void> {
    const entries = [...config];
    const isV6 = (e: IpamConfigEntry) => (e.Subnet ?? '').includes(':');
    if (entries.filter(isV6).length && !rec.EnableIPv6)
      throw new InvalidParameterError('an IPv6 subnet needs EnableIPv6');
    if (rec.EnableIPv6 && !entries.some(isV6))
      throw new InvalidParameterError('EnableIPv6 needs an IPv6 subnet (IPAM.Config)');
    if (!entries.some((e) => !isV6(e))) entries.unshift({});
    const ipam = await this.ipamOf(rec);
    for (const e of entries) {
      const pool = await ipam.requestPool({
        pool: e.Subnet,
        range: e.IPRange,
        gateway: e.Gateway,
        v6: isV6(e),
      });
      rec.pools.push(pool);
      // --aux-address: addresses the driver must never hand to a container.
      for (const ip of Object.values(e.AuxiliaryAddresses ?? {}))
        await ipam.requestAddress(pool.poolId, { preferred: ip });
      if (e.Subnet && !rec.builtin) rec.userSubnets = true;
      // dockerd shows the config as given, with the gateway it picked when it picked the subnet.
      rec.IPAM.Config.push(e.Subnet ? e : { Subnet: pool.subnet, Gateway: pool.gateway });
      if (rec.builtin && !e.Gateway && pool.gateway) rec.IPAM.Config.at(-1)!.Gateway = pool.gateway;
    }
  }

  private async releasePools(n: NetworkRecord): Promise<void> {
    if (!n.pools.length) return;
    const ipam = await this.ipamOf(n).catch((err: Error) => {
      this.log.warn('cannot release address pools', { network: n.Name, error: err });
      return undefined;
    });
    if (!ipam) return;
    for (const p of n.pools) {
      await ipam
        .releasePool(p.poolId)
        .catch((err) => this.log.warn('cannot release address pool', { pool: p.subnet, error: err as Error }));
    }
  }

  /** `DELETE /networks/{id}`. */
  async remove(ref: string): Promise<void> {
    const n0 = this.resolve(ref);
    await this.lock.run(`net:${n0.Id}`, async () => {
      const n = this.resolve(n0.Id);
      if (n.builtin) throw new ForbiddenError(`${n.Name} is a pre-defined network and cannot be removed`);
      await this.reapEndpoints(n.Id);
      if (this.store.endpointsOn(n.Id).some((e) => e.live))
        throw new ConflictError(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
      const driver = await this.driverOf(n).catch(() => undefined);
      await driver?.deleteNetwork(specOf(n));
      this.store.delete(n.Id);
      await this.releasePools(n);
      this.publish(n, 'destroy');
    });
  }

  /** `POST /networks/prune`: user networks no container is connected to. */
  async prune(filters: Map<string, string[]>): Promise<string[]> {
    checkFilterKeys(filters, ['until', 'label', 'label!']);
    const cutoff = pruneCutoff(filters);
    const gone: string[] = [];
    for (const n of this.list()) {
      if (n.builtin || this.store.endpointsOn(n.Id).length > 0) continue;
      if (cutoff !== undefined && Date.parse(n.Created) >= cutoff) continue;
      if (!pruneLabelsMatch(n.Labels, filters)) continue;
      await this.remove(n.Id).then(
        () => gone.push(n.Name),
        (err) => this.log.warn('prune could not remove a network', { network: n.Name, error: err as Error }),
      );
    }
    return gone;
  }

  /** `GET /networks` filters: driver, id, label, name, scope, type, dangling. */
  filter(filters: Map<string, string[]>): NetworkRecord[] {
    const known = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'];
    for (const [k, vals] of filters) {
      if (!known.includes(k)) throw new InvalidParameterError(`Invalid filter '${k}'`);
      if (k === 'type' && vals.some((v) => v !== 'custom' && v !== 'builtin'))
        throw new InvalidParameterError(`invalid filter: 'type'='${vals.join(',')}'`);
      if (k === 'dangling' && vals.some((v) => !['true', 'false', '1', '0'].includes(v)))
        throw new InvalidParameterError(`invalid filter 'dangling=${vals.join(',')}'`);
    }
    return this.list().filter((n) => {
      for (const [k, vals] of filters) {
        if (vals.length === 0) continue;
        const ok = (() => {
          switch (k) {
            case 'driver':
              return vals.includes(n.Driver);
            case 'id':
              return vals.some((v) => n.Id.includes(v));
            case 'name':
              return vals.some((v) => n.Name.includes(v));
            case 'scope':
              return vals.includes(n.Scope);
            case 'type':
              return vals.includes(n.builtin ? 'builtin' : 'custom');
            case 'label':
              return vals.every((v) => matchLabel(n.Labels, v));
            case 'dangling': {
              const dangling = !n.builtin && this.store.endpointsOn(n.Id).length === 0;
              return vals.some((v) => (v === 'true' || v === '1') === dangling);
            }
            default:
              return true;
          }
        })();
        if (!ok) return false;
      }
      return true;
    });
  }

  publish(n: NetworkRecord, action: string, extra: Record<string, string> = {}): void {
    this.events.publish({
      Type: 'network',
      Action: action,
      Actor: { ID: n.Id, Attributes: { ...extra, name: n.Name, type: n.Driver } },
    });
  }
}
