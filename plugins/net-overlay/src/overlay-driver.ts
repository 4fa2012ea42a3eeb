import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import {
  configureNetns,
  IpNetlink,
  ipBatch,
  type Netlink,
  nsCommand,
  openNetlink,
  run,
  runWithInput,
  sameCidr,
  validIfName,
} from '@skiff/core/host';
import {
  type AttachRequest,
  type AttachResult,
  type Cluster,
  ConflictError,
  type Firewall,
  type FirewallNetwork,
  type GlobalNetwork,
  InvalidParameterError,
  type IpamPool,
  type KvEvent,
  type KvLease,
  type KvWatch,
  type Labels,
  type Logger,
  type NetworkDriver,
  type NetworkDriverCapabilities,
  type NetworkSpec,
  NotFoundError,
} from '@skiff/core/plugin-api';
import { DnsServer, resolvConfUpstreams, type Upstream } from '@skiff/net-bridge';
import { ClusterState, type EndpointDoc, type NetworkDoc, parseJson } from './cluster-state.js';
import { ipToInt, macOf, parseSubnet } from './ipv4.js';

/*
 * Per host, each overlay network is one VXLAN device enslaved to one Linux bridge, both in the
 * daemon's own (host) network namespace — not libnetwork's namespace per network. Why: the
 * bridge then carries the network's gateway like a bridge network does, so the embedded DNS
 * server (@skiff/net-bridge's), the firewall seam (isolation between networks, masquerade for the
 * way out) and `ip`/rtnetlink code are the same as for bridge networks; there is no extra netns to
 * create, reconcile and leak after a crash, and no veth hop into it. The price is libnetwork's
 * reason for the namespace: overlay subnets must not overlap each other on a host — and the global
 * IPAM guarantees exactly that. Peers are static: no multicast, no learning; FDB and neighbour
 * entries come from the cluster store (as libnetwork's peerdb did), and the VXLAN `proxy` flag
 * answers ARP from them locally, so broadcasts never cross hosts.
 */

export const VXLAN_PORT = 4789;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const VXLAN_OVERHEAD = 50;
export const OPT_MTU = 'com.docker.network.driver.mtu';
const DEFAULT_PREFIX = '/skiff/overlay/v1/';

export interface OverlayDriverOptions {
  cluster: Cluster;
  firewall?: Firewall;
  /** Do host-side work in this network namespace (tests); DNS is off then. */
  netns?: string;
  /** Key prefix in the cluster store. */
  prefix?: string;
  /** Seconds a dead host's endpoints stay visible to the others. */
  leaseTtl?: number;
  /** Underlay MTU the VXLAN overhead is taken from (default 1500). */
  underlayMtu?: number;
  dns?: boolean;
  dnsUpstreams?: Upstream[];
  log?: Logger;
}

interface LocalNet {
  doc: NetworkDoc;
  bridge: string;
  vxlan: string;
  mtu: number;
  dns?: DnsServer;
  /** Remote endpoints programmed into the VXLAN device, by store key. */
  programmed: Map<string, EndpointDoc>;
}

function addrOf(cidr: string): string {
  return cidr.split('/')[0]!;
}

export class OverlayDriver implements NetworkDriver {
  readonly name = 'overlay';
  private readonly state: ClusterState;
  private readonly nl: Netlink;
  private readonly deleter: Netlink;
  private readonly adv: string;
  private readonly ttl: number;
  private readonly dnsEnabled: boolean;
  private upstreams: Upstream[] = [];
  /** Every overlay network in the cluster, by id (from the watch). */
  private readonly nets = new Map<string, NetworkDoc>();
  /** Every published endpoint in the cluster, by store key. */
  private readonly endpoints = new Map<string, EndpointDoc>();
  /** Networks with devices on this host. */
  private readonly local = new Map<string, LocalNet>();
  /** Endpoints of this host, by endpoint id: re-published when the lease is renewed. */
  private readonly mine = new Map<string, EndpointDoc>();
  /** Networks being created here: hidden from watchNetworks until the core has stored them. */
  private readonly creating = new Set<string>();
  /** Networks being removed here: still listed until the core has dropped them (no double destroy). */
  private readonly removing = new Map<string, NetworkDoc>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private started: Promise<void> | undefined;
  private watches: KvWatch[] = [];
  /** Per resync in flight: the keys watch events changed while it read (its snapshot is older for them). */
  private readonly resyncs = new Set<Set<string>>();
  private leaseP: Promise<KvLease> | undefined;
  private republishTimer: NodeJS.Timeout | undefined;
  private listener: ((n: GlobalNetwork[]) => void) | undefined;
  private closed = false;

  constructor(private readonly opts: OverlayDriverOptions) {
    this.state = new ClusterState(opts.cluster.store, opts.prefix ?? DEFAULT_PREFIX);
    this.nl = openNetlink({ netns: opts.netns });
    this.deleter = new IpNetlink(opts.netns);
    if (ipToInt(opts.cluster.advertise) === undefined)
      throw new InvalidParameterError(`overlay: cluster-advertise ${opts.cluster.advertise} is not an IPv4 address`);
    this.adv = opts.cluster.advertise;
    this.ttl = opts.leaseTtl ?? 15;
    this.dnsEnabled = (opts.dns ?? true) && !opts.netns;
    this.upstreams = opts.dnsUpstreams ?? [];
  }

  capabilities(): NetworkDriverCapabilities {
    return {
      namespace: 'private',
      endpoints: true,
      needsIpam: false,
      portMapping: false,
      dns: this.dnsEnabled,
      scope: 'global',
    };
  }

  private log(level: 'info' | 'warn', msg: string): void {
    this.opts.log?.[level](`overlay: ${msg}`);
  }

  /** One operation at a time per network on this host. */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === next) this.locks.delete(key);
    }
  }

  /** Watches and first listing; retried by the next operation if the store was unreachable. */
  private ready(): Promise<void> {
    this.started ??= this.start().catch((err: unknown) => {
      this.started = undefined;
      throw err;
    });
    return this.started;
  }

  private async start(): Promise<void> {
    if (!this.opts.dnsUpstreams && this.dnsEnabled) this.upstreams = await resolvConfUpstreams();
    const onReset = () => void this.resync().catch((e: Error) => this.log('warn', `resync failed: ${e.message}`));
    // A unary call first: it fails with the store's own reason (refused, TLS); a watch only times out.
    await this.state.networks();
    const watches: KvWatch[] = [];
    try {
      watches.push(
        await this.opts.cluster.store.watch(this.state.key('networks', ''), (ev) => this.onNetwork(ev), { onReset }),
      );
      watches.push(
        await this.opts.cluster.store.watch(this.state.key('endpoints', ''), (ev) => this.onEndpoint(ev), { onReset }),
      );
      await this.resync();
    } catch (err) {
      await Promise.all(watches.map((w) => w.close()));
      throw err;
    }
    this.watches = watches;
  }

  /** Re-reads everything (first start, or a watch that may have missed events). */
  private async resync(): Promise<void> {
    const touched = new Set<string>();
    this.resyncs.add(touched);
    let nets: NetworkDoc[];
    let eps: Map<string, EndpointDoc>;
    try {
      [nets, eps] = await Promise.all([this.state.networks(), this.state.endpoints()]);
    } finally {
      this.resyncs.delete(touched);
    }
    // A key an event changed meanwhile is newer than the snapshot: the event stands (a network
    // created here while a reset watch re-read must not vanish).
    const netKey = (id: string) => this.state.key('networks', id);
    const ids = new Set(nets.map((n) => n.id));
    for (const id of [...this.nets.keys()])
      if (!ids.has(id) && !touched.has(netKey(id))) this.onNetwork({ type: 'delete', key: netKey(id) });
    for (const n of nets) if (!touched.has(netKey(n.id))) this.nets.set(n.id, n);
    for (const k of [...this.endpoints.keys()])
      if (!eps.has(k) && !touched.has(k)) this.onEndpoint({ type: 'delete', key: k });
    for (const [k, v] of eps)
      if (!touched.has(k)) this.onEndpoint({ type: 'put', key: k, value: JSON.stringify(v), revision: 0 });
    this.emitNetworks();
  }

  /** Notes a key a watch event changed, for the resyncs reading now. */
  private touch(key: string): void {
    for (const t of this.resyncs) t.add(key);
  }

  private onNetwork(ev: KvEvent): void {
    this.touch(ev.key);
    const id = ev.key.slice(this.state.key('networks', '').length);
    if (ev.type === 'put') {
      const doc = parseJson<NetworkDoc>(ev.value);
      if (doc) this.nets.set(id, doc);
    } else {
      this.nets.delete(id);
      void this.locked(id, () => this.teardownLocal(id)).catch((e: Error) =>
        this.log('warn', `cannot remove the devices of network ${id}: ${e.message}`),
      );
    }
    this.emitNetworks();
  }

  private onEndpoint(ev: KvEvent): void {
    this.touch(ev.key);
    const old = this.endpoints.get(ev.key);
    const doc = ev.type === 'put' ? parseJson<EndpointDoc>(ev.value) : undefined;
    if (doc) this.endpoints.set(ev.key, doc);
    else this.endpoints.delete(ev.key);
    const endpointId = ev.key.split('/').pop()!;
    const net = doc?.network ?? old?.network;
    if (!net) return;
    void this.locked(net, async () => {
      const l = this.local.get(net);
      if (!l) return;
      if (doc) await this.addPeer(l, ev.key, endpointId, doc);
      else if (!this.mine.has(endpointId)) await this.removePeer(l, ev.key, endpointId);
    }).catch((e: Error) => this.log('warn', `cannot program peer ${ev.key}: ${e.message}`));
  }

  private async addPeer(l: LocalNet, key: string, endpointId: string, ep: EndpointDoc): Promise<void> {
    l.dns?.setEndpoint(endpointId, ep.names, [ep.ip]);
    if (ep.host === this.adv) return;
    const prev = l.programmed.get(key);
    if (prev && prev.host === ep.host && prev.mac === ep.mac && prev.ip === ep.ip) return;
    if (prev) await this.unprogram(l, prev);
    await ipBatch([`neigh replace ${ep.ip} lladdr ${ep.mac} dev ${l.vxlan} nud permanent`], { netns: this.opts.netns });
    await this.bridgeBatch([`fdb replace ${ep.mac} dev ${l.vxlan} dst ${ep.host} self permanent`]);
    l.programmed.set(key, ep);
  }

  private async removePeer(l: LocalNet, key: string, endpointId: string): Promise<void> {
    l.dns?.removeEndpoint(endpointId);
    const prev = l.programmed.get(key);
    if (!prev) return;
    l.programmed.delete(key);
    await this.unprogram(l, prev);
  }

  private async unprogram(l: LocalNet, ep: EndpointDoc): Promise<void> {
    await ipBatch([`neigh del ${ep.ip} dev ${l.vxlan}`], { netns: this.opts.netns }).catch(() => {});
    await this.bridgeBatch([`fdb del ${ep.mac} dev ${l.vxlan} self`]).catch(() => {});
  }

  private async bridgeBatch(lines: string[]): Promise<void> {
    for (const line of lines) if (/[\n\r]/.test(line)) throw new InvalidParameterError('bad bridge batch line');
    const [cmd, args] = nsCommand(this.opts.netns, 'bridge', ['-batch', '-']);
    await runWithInput(cmd, args, lines.join('\n') + '\n');
  }

  private emitNetworks(): void {
    if (!this.listener) return;
    const all = new Map([...this.removing, ...this.nets]);
    this.listener(
      [...all.values()]
        .filter((n) => !this.creating.has(n.id))
        .map((n) => ({
          id: n.id,
          name: n.name,
          driver: this.name,
          created: n.created,
          internal: n.internal,
          ipv6: false,
          attachable: n.attachable,
          options: n.options,
          labels: n.labels,
          // As the creating host's inspect shows it: the config as given, or the subnet picked.
          ipamConfig: n.userSubnet
            ? [
                {
                  Subnet: n.subnet,
                  ...(n.userGateway ? { Gateway: n.gateway } : {}),
                  ...(n.ipRange ? { IPRange: n.ipRange } : {}),
                },
              ]
            : [{ Subnet: n.subnet, Gateway: n.gateway }],
          state: stateOf(n),
        })),
    );
  }

  async watchNetworks(onChange: (networks: GlobalNetwork[]) => void): Promise<void> {
    this.listener = onChange;
    await this.ready();
    this.emitNetworks();
  }

  async createNetwork(spec: NetworkSpec, pools: IpamPool[]): Promise<Labels> {
    if (spec.ipv6) throw new InvalidParameterError('overlay networks are IPv4 only here');
    if (pools.length > 1) throw new InvalidParameterError('an overlay network takes one IPv4 subnet');
    const pool = pools[0];
    if (pool?.subnet.includes(':')) throw new InvalidParameterError('overlay networks are IPv4 only here');
    this.mtuOf(spec);
    await this.ready();
    this.creating.add(spec.id);
    try {
      const doc = await this.state.createNetwork({
        id: spec.id,
        name: spec.name,
        created: new Date().toISOString(),
        internal: spec.internal,
        attachable: true,
        options: spec.options,
        labels: spec.labels,
        userSubnet: !!pool?.subnet,
        userGateway: !!pool?.gateway,
        ...(pool?.subnet ? { subnet: pool.subnet } : {}),
        ...(pool?.gateway ? { gateway: addrOf(pool.gateway) } : {}),
      });
      this.nets.set(doc.id, doc);
      return stateOf(doc);
    } finally {
      // The core stores the network right after this returns; later snapshots may list it.
      setImmediate(() => {
        this.creating.delete(spec.id);
        this.emitNetworks();
      });
    }
  }

  async deleteNetwork(spec: NetworkSpec): Promise<void> {
    await this.ready();
    await this.locked(spec.id, async () => {
      const doc = await this.state.network(spec.id);
      if (doc) {
        const elsewhere = [...(await this.state.endpoints(spec.id)).values()].filter((e) => e.host !== this.adv);
        if (elsewhere.length)
          throw new ConflictError(
            `error while removing network: network ${spec.name} id ${spec.id} has active endpoints on ${[...new Set(elsewhere.map((e) => e.host))].join(', ')}`,
          );
        this.removing.set(doc.id, doc);
        try {
          await this.state.deleteNetwork(doc);
        } catch (err) {
          this.removing.delete(doc.id);
          throw err;
        }
      }
      this.nets.delete(spec.id);
      await this.teardownLocal(spec.id);
    });
    // The core drops the network right after this returns; then nothing needs to list it.
    setImmediate(() => {
      if (this.removing.delete(spec.id)) this.emitNetworks();
    });
  }

  private mtuOf(spec: { options: Labels }): number {
    const o = spec.options[OPT_MTU];
    if (o === undefined || o === '' || o === '0') return (this.opts.underlayMtu ?? 1500) - VXLAN_OVERHEAD;
    const n = Number(o);
    if (!Number.isInteger(n) || n < 68 || n > 65535)
      throw new InvalidParameterError(`invalid MTU ${JSON.stringify(o)}`);
    return n;
  }

  private firewallNetwork(l: LocalNet): FirewallNetwork {
    return {
      id: l.doc.id,
      iface: l.bridge,
      subnets: [l.doc.subnet],
      internal: l.doc.internal,
      masquerade: !l.doc.internal,
      isolate: true,
      hostServices: l.dns
        ? (['udp', 'tcp'] as const).map((protocol) => ({ address: l.doc.gateway, protocol, port: 53 }))
        : [],
    };
  }

  private async sysctl(key: string, value: string): Promise<void> {
    if (!this.opts.netns) return writeFile(`/proc/sys/${key.replaceAll('.', '/')}`, value);
    const [cmd, args] = nsCommand(this.opts.netns, 'sysctl', ['-qw', `${key}=${value}`]);
    await run(cmd, args);
  }

  /** The network's bridge and VXLAN device on this host, with every remote endpoint programmed. */
  private async ensureLocal(doc: NetworkDoc): Promise<LocalNet> {
    const have = this.local.get(doc.id);
    if (have) return have;
    const s = parseSubnet(doc.subnet);
    const l: LocalNet = {
      doc,
      bridge: `ovbr${doc.vni}`,
      vxlan: `ovvx${doc.vni}`,
      mtu: this.mtuOf(doc),
      programmed: new Map(),
    };
    const gw = `${doc.gateway}/${s.bits}`;
    await this.nl.createBridge(l.bridge, { mtu: l.mtu, mayExist: true });
    try {
      await this.nl.setLink(l.bridge, { up: true, mtu: l.mtu });
      for (const a of await this.nl.listAddresses(l.bridge))
        if (!sameCidr(a, gw)) await this.nl.deleteAddress(l.bridge, a);
      if (!(await this.nl.listAddresses(l.bridge)).some((a) => sameCidr(a, gw))) await this.nl.addAddress(l.bridge, gw);
      if (await this.nl.getLink(l.vxlan)) await this.nl.deleteLink(l.vxlan);
      await ipBatch(
        [
          `link add ${l.vxlan} mtu ${l.mtu} type vxlan id ${doc.vni} local ${this.adv} dstport ${VXLAN_PORT} nolearning proxy`,
          `link set ${l.vxlan} master ${l.bridge} up`,
        ],
        { netns: this.opts.netns },
      );
      if (!doc.internal) await this.sysctl('net.ipv4.ip_forward', '1');
      if (this.dnsEnabled) {
        const dns = new DnsServer({
          network: doc.name,
          addresses: [doc.gateway],
          subnets: [doc.subnet],
          forward: !doc.internal,
          upstreams: () => this.upstreams,
          log: this.opts.log,
        });
        await dns.start().then(
          () => (l.dns = dns),
          (e: Error) => this.log('warn', `network ${doc.name}: embedded DNS unavailable: ${e.message}`),
        );
      }
      await this.opts.firewall?.addNetwork(this.firewallNetwork(l));
    } catch (e) {
      await l.dns?.stop();
      await this.nl.deleteLink(l.vxlan).catch(() => {});
      await this.nl.deleteLink(l.bridge).catch(() => {});
      throw e;
    }
    this.local.set(doc.id, l);
    for (const [key, ep] of this.endpoints)
      if (ep.network === doc.id) await this.addPeer(l, key, key.split('/').pop()!, ep);
    return l;
  }

  private async teardownLocal(id: string): Promise<void> {
    const l = this.local.get(id);
    if (!l) return;
    this.local.delete(id);
    await l.dns?.stop();
    await this.opts.firewall?.removeNetwork(id);
    await this.nl.deleteLink(l.vxlan).catch(() => {});
    await this.nl.deleteLink(l.bridge).catch(() => {});
  }

  private lease(): Promise<KvLease> {
    this.leaseP ??= this.opts.cluster.store.lease(this.ttl).then(
      (l) => {
        l.onLost((err) => {
          this.log('warn', `lease lost (${err.message}): re-publishing this host's endpoints`);
          this.leaseP = undefined;
          this.scheduleRepublish();
        });
        return l;
      },
      (err: unknown) => {
        this.leaseP = undefined;
        throw err;
      },
    );
    return this.leaseP;
  }

  /** After a lost lease (store unreachable past the TTL): a new lease, this host's endpoints again. */
  private scheduleRepublish(): void {
    if (this.closed || this.republishTimer) return;
    this.republishTimer = setTimeout(() => {
      this.republishTimer = undefined;
      void (async () => {
        const lease = await this.lease();
        let n = 0;
        for (const [endpointId, doc] of this.mine) {
          const net = this.nets.get(doc.network) ?? (await this.state.network(doc.network));
          if (!net) continue;
          try {
            await this.state.claimAddress(net, endpointId, this.adv, doc.ip);
          } catch (e) {
            // Never advertise an address another endpoint holds now (the store lost this one's claim).
            if (!(e instanceof ConflictError)) throw e;
            this.log('warn', `endpoint ${endpointId.slice(0, 12)} not re-published: ${e.message}`);
            continue;
          }
          await this.state.publishEndpoint(endpointId, doc, lease);
          n++;
        }
        this.log('info', `re-published ${n} endpoint(s) of this host under a new lease`);
      })().catch((e: Error) => {
        this.log('warn', `re-publishing endpoints failed: ${e.message}`);
        this.scheduleRepublish();
      });
    }, 2000).unref();
  }

  private async network(id: string): Promise<NetworkDoc> {
    const doc = this.nets.get(id) ?? (await this.state.network(id));
    if (!doc) throw new NotFoundError(`overlay network ${id} does not exist in the cluster store`);
    return doc;
  }

  async attach(req: AttachRequest): Promise<AttachResult> {
    if (!validIfName(req.ifName)) throw new InvalidParameterError(`invalid interface name ${req.ifName}`);
    await this.ready();
    const doc = await this.network(req.network.id);
    const bits = parseSubnet(doc.subnet).bits;
    const fixed = req.fixedAddresses ?? req.addresses.map(addrOf);
    if (fixed.some((a) => a.includes(':'))) throw new InvalidParameterError('overlay networks are IPv4 only here');
    const preferred = fixed[0];
    if (preferred && !doc.userSubnet)
      throw new InvalidParameterError(
        'user specified IP address is supported only when connecting to networks with user configured subnets',
      );
    return this.locked(doc.id, async () => {
      const ip = await this.state.claimAddress(doc, req.endpointId, this.adv, preferred);
      const mac = req.mac || macOf(ipToInt(ip)!);
      const hostIf = `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
      const names = [...new Set([...req.dnsNames, ...req.aliases])];
      const routes: AttachResult['routes'] = doc.internal ? [] : [{ dst: 'default', gw: doc.gateway }];
      let vethMade = false;
      let published = false;
      try {
        const l = await this.ensureLocal(doc);
        await this.nl.createVeth({
          name: hostIf,
          master: l.bridge,
          mtu: l.mtu,
          peer: { name: req.ifName, netnsPath: req.netnsPath, mac, mtu: l.mtu },
        });
        vethMade = true;
        await configureNetns(req.netnsPath, { ifName: req.ifName, addresses: [`${ip}/${bits}`], routes });
        const ep: EndpointDoc = { network: doc.id, host: this.adv, ip, mac, names };
        published = true;
        await this.state.publishEndpoint(req.endpointId, ep, await this.lease());
        this.mine.set(req.endpointId, ep);
        l.dns?.setEndpoint(req.endpointId, names, [ip], { links: req.links });
        return {
          interfaces: [{ name: hostIf }, { name: req.ifName, mac, mtu: l.mtu, sandbox: req.netnsPath }],
          ips: [{ address: `${ip}/${bits}`, gateway: doc.gateway, interface: 1 }],
          routes,
          ...(l.dns ? { dns: { nameservers: [doc.gateway] } } : {}),
        };
      } catch (e) {
        if (published) await this.state.unpublishEndpoint(doc.id, req.endpointId).catch(() => {});
        if (vethMade) await this.nl.deleteLink(hostIf).catch(() => {});
        await this.state.releaseAddress(doc.id, ip, req.endpointId).catch(() => {});
        throw e;
      }
    });
  }

  async detach(req: AttachRequest, prev: AttachResult | null): Promise<void> {
    const id = req.network.id;
    const ep = this.mine.get(req.endpointId);
    this.mine.delete(req.endpointId);
    this.local.get(id)?.dns?.removeEndpoint(req.endpointId);
    const ip = ep?.ip ?? (prev?.ips[0] ? addrOf(prev.ips[0].address) : undefined);
    // Best effort in the store: if it is unreachable, the lease and the next restore clean up.
    await this.state.unpublishEndpoint(id, req.endpointId).catch((e: Error) => this.log('warn', e.message));
    if (ip) await this.state.releaseAddress(id, ip, req.endpointId).catch((e: Error) => this.log('warn', e.message));
    const hostIf = prev?.interfaces[0]?.name;
    if (hostIf && validIfName(hostIf) && (await this.nl.getLink(hostIf)))
      await this.deleter.deleteLink(hostIf).catch(() => {});
    else if (req.netnsPath && existsSync(req.netnsPath))
      await ipBatch([`link del ${req.ifName}`], { netns: req.netnsPath }).catch(() => {});
  }

  async updateNames(req: AttachRequest): Promise<void> {
    const ep = this.mine.get(req.endpointId);
    if (!ep) return;
    const next = { ...ep, names: [...new Set([...req.dnsNames, ...req.aliases])] };
    this.mine.set(req.endpointId, next);
    this.local.get(req.network.id)?.dns?.setEndpoint(req.endpointId, next.names, [next.ip], { links: req.links });
    await this.state.publishEndpoint(req.endpointId, next, await this.lease());
  }

  async restore(
    _networks: { spec: NetworkSpec; pools: IpamPool[]; state: Labels }[],
    endpoints: { req: AttachRequest; result: AttachResult }[],
  ): Promise<void> {
    await this.ready();
    const live = new Set<string>();
    for (const { req, result } of endpoints) {
      const doc = this.nets.get(req.network.id);
      const address = result.ips[0]?.address;
      if (!doc || !address) {
        this.log(
          'warn',
          `endpoint ${req.endpointId.slice(0, 12)}: network ${req.network.name} is gone from the cluster`,
        );
        continue;
      }
      const ip = addrOf(address);
      live.add(`${doc.id}/${ip}`);
      await this.locked(doc.id, async () => {
        try {
          await this.state.claimAddress(doc, req.endpointId, this.adv, ip);
        } catch (e) {
          this.log(
            'warn',
            `endpoint ${req.endpointId.slice(0, 12)} keeps ${ip}, but the cluster says: ${(e as Error).message}`,
          );
        }
        const l = await this.ensureLocal(doc);
        const mac = result.interfaces[1]?.mac ?? macOf(ipToInt(ip)!);
        const ep: EndpointDoc = {
          network: doc.id,
          host: this.adv,
          ip,
          mac,
          names: [...new Set([...req.dnsNames, ...req.aliases])],
        };
        this.mine.set(req.endpointId, ep);
        l.dns?.setEndpoint(req.endpointId, ep.names, [ip], { links: req.links });
        await this.state.publishEndpoint(req.endpointId, ep, await this.lease());
      });
    }
    // Addresses this host held for endpoints that did not survive go back.
    for (const a of await this.state.addressesOf(this.adv))
      if (!live.has(`${a.networkId}/${a.ip}`)) await this.state.releaseAddress(a.networkId, a.ip, a.endpoint);
    for (const link of await this.nl.listLinks()) {
      const m = /^ov(br|vx)(\d+)$/.exec(link.name);
      if (m && ![...this.local.values()].some((l) => l.doc.vni === Number(m[2]))) {
        this.log('info', `removing stale ${link.name}`);
        await this.nl.deleteLink(link.name).catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.republishTimer);
    await Promise.all(this.watches.map((w) => w.close()));
    await Promise.all([...this.local.values()].map((l) => l.dns?.stop()));
  }
}

function stateOf(n: NetworkDoc): Labels {
  return { vni: String(n.vni), subnet: n.subnet, gateway: n.gateway };
}
