import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import {
  configureNetns,
  IpNetlink,
  ipBatch,
  macFromIPv4,
  type Netlink,
  nsCommand,
  openNetlink,
  run,
  sameCidr,
  validIfName,
} from '@skiff/core/host';
import {
  type AttachRequest,
  type AttachResult,
  ConflictError,
  type Firewall,
  type FirewallNetwork,
  type FirewallPublication,
  InvalidParameterError,
  type IpamPool,
  type Labels,
  type Logger,
  type NetworkDriver,
  type NetworkDriverCapabilities,
  type NetworkSpec,
  NotFoundError,
} from '@skiff/core/plugin-api';
import { DnsServer, parseUpstream, resolvConfUpstreams, type Upstream } from './dns/server.js';

export const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
export const OPT_MTU = 'com.docker.network.driver.mtu';
export const OPT_MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
export const OPT_DEFAULT_BRIDGE = 'com.docker.network.bridge.default_bridge';
export const OPT_ICC = 'com.docker.network.bridge.enable_icc';
/** Bridges this driver names itself start with this (15 characters at most in all). */
export const BRIDGE_PREFIX = 'skiff-';

export interface BridgeDriverOptions {
  firewall: Firewall;
  /** The host namespace to work in when it is not the daemon's own (tests). Disables DNS. */
  netns?: string;
  netlink?: Netlink;
  /** Upstream resolvers for names the network does not know; default: /etc/resolv.conf's. */
  dnsUpstreams?: Upstream[];
  /** Port of the embedded DNS server (53; tests may pick another). */
  dnsPort?: number;
  /** Turn the embedded DNS off entirely. */
  dns?: boolean;
  /**
   * Who owns the bridges this driver makes (one daemon: a hash of its data root). Bridges are
   * tagged with it (interface alias `skiff:<owner>`), and only bridges with this daemon's tag are
   * collected as stale on restore: never another daemon's in the same namespace.
   */
  owner?: string;
  log?: Logger;
}

interface NetState {
  spec: NetworkSpec;
  bridge: string;
  /** We made the bridge (a pre-existing one named by option is left alone on delete). */
  created: boolean;
  /** Gateway addresses with prefix length (on the bridge). */
  gateways: string[];
  subnets: string[];
  mtu?: number;
  dns?: DnsServer;
}

export function bridgeName(spec: NetworkSpec): string {
  const name = spec.options[OPT_BRIDGE_NAME] ?? `${BRIDGE_PREFIX}${spec.id.slice(0, 15 - BRIDGE_PREFIX.length)}`;
  if (!validIfName(name)) throw new InvalidParameterError(`invalid bridge name ${JSON.stringify(name)}`);
  return name;
}

export function parseMtu(spec: NetworkSpec): number | undefined {
  const text = spec.options[OPT_MTU];
  if (text === undefined || text === '') return undefined;
  const mtu = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535)
    throw new InvalidParameterError(`invalid MTU ${JSON.stringify(text)} (${OPT_MTU}): must be between 68 and 65535`);
  return mtu;
}

const addrOf = (cidr: string) => cidr.split('/')[0]!;
const isV6 = (s: string) => s.includes(':');

/**
 * Docker's bridge driver on Linux: one bridge per network, a veth pair per endpoint, masquerade,
 * isolation and published ports through the Firewall seam, and an embedded DNS server per
 * user-defined network.
 */
export class BridgeDriver implements NetworkDriver {
  readonly name = 'bridge';
  private readonly nl: Netlink;
  /** Deletes through `ip` (see detach). */
  private readonly deleter: Netlink;
  private readonly fw: Firewall;
  private readonly nets = new Map<string, NetState>();
  private readonly dnsEnabled: boolean;
  private upstreams: Upstream[];
  private forwardingOn = false;
  /** Host-side veths of exited containers that the kernel is removing (see detach). */
  private readonly later = new Set<string>();
  private laterTimer: NodeJS.Timeout | undefined;
  private readonly tag: string;

  constructor(private readonly opts: BridgeDriverOptions) {
    this.fw = opts.firewall;
    this.nl = opts.netlink ?? openNetlink({ netns: opts.netns });
    this.deleter = opts.netlink ?? new IpNetlink(opts.netns);
    this.dnsEnabled = (opts.dns ?? true) && !opts.netns;
    this.tag = `skiff:${opts.owner ?? 'default'}`;
    this.upstreams = opts.dnsUpstreams ?? [];
    void this.refreshUpstreams();
  }

  /** The host's resolvers, re-read when networks are made (resolv.conf may have changed). */
  private async refreshUpstreams(): Promise<void> {
    if (!this.opts.dnsUpstreams && this.dnsEnabled) this.upstreams = await resolvConfUpstreams();
  }

  capabilities(): NetworkDriverCapabilities {
    return {
      namespace: 'private',
      endpoints: true,
      needsIpam: true,
      portMapping: true,
      dns: this.dnsEnabled,
      scope: 'local',
    };
  }

  private async sysctl(key: string, value: string): Promise<void> {
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    if (!this.opts.netns) return writeFile(path, value);
    const [cmd, args] = nsCommand(this.opts.netns, 'sysctl', ['-qw', `${key}=${value}`]);
    await run(cmd, args);
  }

  private firewallNetwork(s: NetState): FirewallNetwork {
    return {
      id: s.spec.id,
      iface: s.bridge,
      subnets: s.subnets,
      internal: s.spec.internal,
      masquerade: s.spec.options[OPT_MASQUERADE] !== 'false',
      isolate: true,
      hostServices: this.servesDns(s)
        ? s.gateways
            .map(addrOf)
            .flatMap((address) =>
              (['udp', 'tcp'] as const).map((protocol) => ({ address, protocol, port: this.opts.dnsPort ?? 53 })),
            )
        : [],
    };
  }

  private servesDns(s: NetState): boolean {
    return this.dnsEnabled && s.spec.options[OPT_DEFAULT_BRIDGE] !== 'true';
  }

  /** Bridge up with its gateway addresses and the sysctls published ports on 127.0.0.1 need. */
  private async ensureBridge(s: NetState, mayExist: boolean): Promise<boolean> {
    const existed = (await this.nl.getLink(s.bridge)) !== undefined;
    if (existed && !mayExist) throw new ConflictError(`bridge ${s.bridge} already exists`);
    if (existed) {
      await this.nl.setLink(s.bridge, { up: true, mtu: s.mtu });
    } else {
      await this.nl.createBridge(s.bridge, { mtu: s.mtu });
    }
    if (!existed || s.created) await this.nl.setLink(s.bridge, { alias: this.tag });
    try {
      if (existed) {
        // Like dockerd with docker0: a bridge we reuse carries exactly this network's gateways.
        for (const a of await this.nl.listAddresses(s.bridge))
          if (!s.gateways.some((g) => sameCidr(g, a))) await this.nl.deleteAddress(s.bridge, a);
      }
      for (const g of s.gateways) await this.nl.addAddress(s.bridge, g);
      if (!this.forwardingOn) {
        await this.sysctl('net.ipv4.ip_forward', '1');
        this.forwardingOn = true;
      }
      // Lets DNAT from 127.0.0.1 on the host route out through the bridge (published ports).
      await this.sysctl(`net.ipv4.conf.${s.bridge}.route_localnet`, '1');
    } catch (e) {
      if (!existed) await this.nl.deleteLink(s.bridge).catch(() => {});
      throw e;
    }
    return !existed;
  }

  private async startDns(s: NetState): Promise<void> {
    if (!this.servesDns(s)) return;
    await this.refreshUpstreams();
    const addresses = s.gateways.map(addrOf);
    if (addresses.length === 0) return;
    const dns = new DnsServer({
      network: s.spec.name,
      addresses,
      subnets: s.subnets,
      forward: !s.spec.internal,
      port: this.opts.dnsPort,
      upstreams: () => this.upstreams,
      peers: () => [...this.nets.values()].flatMap((n) => (n.dns ? [n.dns] : [])),
      log: this.opts.log,
    });
    try {
      await dns.start();
      s.dns = dns;
    } catch (e) {
      // Name resolution is a convenience of the network, not a reason to refuse it.
      this.opts.log?.warn(`bridge ${s.bridge}: embedded DNS unavailable: ${(e as Error).message}`);
    }
  }

  private newState(spec: NetworkSpec, pools: IpamPool[]): NetState {
    const mtu = parseMtu(spec);
    const gateways: string[] = [];
    for (const p of pools) {
      if (!p.gateway) continue;
      const len = p.subnet.split('/')[1];
      if (!len) throw new InvalidParameterError(`invalid subnet ${p.subnet}`);
      gateways.push(`${addrOf(p.gateway)}/${len}`);
    }
    return { spec, bridge: bridgeName(spec), created: false, gateways, subnets: pools.map((p) => p.subnet), mtu };
  }

  async createNetwork(spec: NetworkSpec, pools: IpamPool[]): Promise<Labels> {
    const s = this.newState(spec, pools);
    for (const other of this.nets.values())
      if (other.bridge === s.bridge && other.spec.id !== spec.id)
        throw new ConflictError(`bridge ${s.bridge} is already used by network ${other.spec.name}`);
    // A bridge named by the user may exist already (Docker reuses it); a generated name may not.
    s.created = await this.ensureBridge(s, spec.options[OPT_BRIDGE_NAME] !== undefined);
    try {
      await this.fw.addNetwork(this.firewallNetwork(s));
    } catch (e) {
      if (s.created) await this.nl.deleteLink(s.bridge).catch(() => {});
      throw e;
    }
    await this.startDns(s);
    this.nets.set(spec.id, s);
    return { bridge: s.bridge, created: String(s.created) };
  }

  async deleteNetwork(spec: NetworkSpec): Promise<void> {
    await this.settled();
    const s = this.nets.get(spec.id);
    this.nets.delete(spec.id);
    await s?.dns?.stop();
    await this.fw.removeNetwork(spec.id);
    const name = s?.bridge ?? bridgeName(spec);
    if (s ? s.created : name.startsWith(BRIDGE_PREFIX)) await this.nl.deleteLink(name);
  }

  async updateNames(req: AttachRequest): Promise<void> {
    this.nets.get(req.network.id)?.dns?.setEndpoint(...dnsEndpoint(req));
  }

  private state(spec: NetworkSpec): NetState {
    const s = this.nets.get(spec.id);
    if (s) return s;
    // Not created through this instance (no restore yet): what the spec alone tells.
    return { spec, bridge: bridgeName(spec), created: false, gateways: [], subnets: [], mtu: parseMtu(spec) };
  }

  async attach(req: AttachRequest): Promise<AttachResult> {
    const s = this.state(req.network);
    if (!validIfName(req.ifName)) throw new InvalidParameterError(`invalid interface name ${req.ifName}`);
    const v4 = req.addresses.find((a) => !isV6(a));
    const mac = req.mac || (v4 ? macFromIPv4(v4) : randomMac());
    const hostIf = `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
    const routes: AttachResult['routes'] = [];
    if (!req.network.internal) {
      const gw4 = req.gateway && !isV6(req.gateway) ? req.gateway : s.gateways.map(addrOf).find((g) => !isV6(g));
      if (gw4 && v4) routes.push({ dst: 'default', gw: gw4 });
      const gw6 = s.gateways.map(addrOf).find(isV6) ?? (req.gateway && isV6(req.gateway) ? req.gateway : undefined);
      if (gw6 && req.addresses.some(isV6)) routes.push({ dst: '::/0', gw: gw6 });
    }

    let vethMade = false;
    let published = false;
    try {
      await this.nl.createVeth({
        name: hostIf,
        master: s.bridge,
        mtu: s.mtu,
        peer: { name: req.ifName, netnsPath: req.netnsPath, mac, mtu: s.mtu },
      });
      vethMade = true;
      // enable_icc=false: the bridge forwards nothing between isolated ports, only to the gateway.
      if (req.network.options[OPT_ICC] === 'false')
        await ipBatch([`link set dev ${hostIf} type bridge_slave isolated on`], { netns: this.opts.netns });
      await configureNetns(req.netnsPath, { ifName: req.ifName, addresses: req.addresses, routes });
      if (req.ports.length) {
        const pub = publicationOf(req);
        if (!pub) throw new InvalidParameterError('published ports need an address on the network');
        published = true;
        await this.fw.publish(pub);
      }
    } catch (e) {
      if (published) await this.fw.unpublish(req.endpointId).catch(() => {});
      if (vethMade) await this.nl.deleteLink(hostIf).catch(() => {});
      if (e instanceof NotFoundError && /network interface/.test(e.message) && !(await this.nl.getLink(s.bridge)))
        throw new NotFoundError(`bridge ${s.bridge} of network ${req.network.name} does not exist`, { cause: e });
      throw e;
    }
    s.dns?.setEndpoint(...dnsEndpoint(req));
    return {
      interfaces: [
        { name: hostIf },
        { name: req.ifName, mac, ...(s.mtu ? { mtu: s.mtu } : {}), sandbox: req.netnsPath },
      ],
      ips: req.addresses.map((address) => {
        const gw = s.gateways.map(addrOf).find((g) => isV6(g) === isV6(address)) ?? req.gateway;
        return { address, ...(gw ? { gateway: gw } : {}), interface: 1 };
      }),
      routes,
      ...(s.dns ? { dns: { nameservers: s.dns.addresses.filter((a) => !isV6(a)) } } : {}),
    };
  }

  private deleteLater(name: string): void {
    this.later.add(name);
    this.laterTimer ??= setTimeout(() => void this.settled(), 500).unref();
  }

  /** Makes sure the veths left to the kernel by detach are gone (deletes any that are not). */
  async settled(): Promise<void> {
    clearTimeout(this.laterTimer);
    this.laterTimer = undefined;
    const names = [...this.later];
    this.later.clear();
    for (const name of names) {
      try {
        if (await this.nl.getLink(name)) await this.deleter.deleteLink(name);
      } catch (e) {
        this.opts.log?.warn(`bridge: cannot delete ${name}: ${(e as Error).message}`);
      }
    }
  }

  async detach(req: AttachRequest, prev: AttachResult | null): Promise<void> {
    this.nets.get(req.network.id)?.dns?.removeEndpoint(req.endpointId);
    await this.fw.unpublish(req.endpointId);
    const hostIf = prev?.interfaces[0]?.name;
    if (hostIf && validIfName(hostIf)) {
      // Unregistering a veth takes the kernel ~20 ms (RCU grace periods) inside the deleting
      // syscall: through our rtnetlink socket that would stall the daemon's event loop, so the
      // delete runs in an `ip` child. When the container is gone its namespace is too, and the
      // kernel is already removing the pair: check a little later that it did (deleteNetwork and
      // close check at once).
      if (req.netnsPath && !existsSync(req.netnsPath)) this.deleteLater(hostIf);
      else await this.deleter.deleteLink(hostIf);
    } else if (req.netnsPath && existsSync(req.netnsPath)) {
      // No record of the host side: deleting the container side takes its peer with it.
      await ipBatch([`link del ${req.ifName}`], { netns: req.netnsPath }).catch(() => {});
    }
  }

  async restore(
    networks: { spec: NetworkSpec; pools: IpamPool[]; state: Labels }[],
    endpoints: { req: AttachRequest; result: AttachResult }[],
  ): Promise<void> {
    for (const n of networks) {
      const s = this.newState(n.spec, n.pools);
      s.created = n.state.created !== 'false';
      try {
        await this.ensureBridge(s, true);
      } catch (e) {
        this.opts.log?.warn(`bridge ${s.bridge}: cannot restore: ${(e as Error).message}`);
      }
      await this.startDns(s);
      this.nets.set(n.spec.id, s);
    }
    const pubs: FirewallPublication[] = [];
    const live = new Set<string>();
    for (const { req, result } of endpoints) {
      const s = this.nets.get(req.network.id);
      s?.dns?.setEndpoint(...dnsEndpoint(req));
      const hostIf = result.interfaces[0]?.name;
      if (hostIf) live.add(hostIf);
      const pub = req.ports.length ? publicationOf(req) : undefined;
      if (pub) pubs.push(pub);
    }
    await this.fw.sync({ networks: [...this.nets.values()].map((s) => this.firewallNetwork(s)), publications: pubs });
    await this.collectStale(live);
  }

  /** Veths left on our bridges by endpoints that are gone, and our bridges of networks that are gone. */
  private async collectStale(live: Set<string>): Promise<void> {
    const links = await this.nl.listLinks();
    const ours = new Set([...this.nets.values()].map((s) => s.bridge));
    const ourIndexes = new Set(links.filter((l) => ours.has(l.name)).map((l) => l.index));
    for (const l of links) {
      const staleVeth = l.kind === 'veth' && l.master !== undefined && ourIndexes.has(l.master) && !live.has(l.name);
      const staleBridge = l.kind === 'bridge' && l.alias === this.tag && !ours.has(l.name);
      if (staleVeth || staleBridge) {
        this.opts.log?.info(`bridge: removing stale ${l.kind} ${l.name}`);
        await this.nl.deleteLink(l.name).catch(() => {});
      }
    }
  }

  /** Stops the DNS servers (daemon shutdown); kernel state stays for the next start. */
  async close(): Promise<void> {
    await this.settled();
    await Promise.all([...this.nets.values()].map((s) => s.dns?.stop()));
    this.nl.close();
  }
}

function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02; // unicast, locally administered
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The endpoint's `--dns` servers as upstreams (port 53); names that are not addresses are dropped. */
/** An endpoint as its network's DNS server knows it (setEndpoint's arguments). */
function dnsEndpoint(req: AttachRequest): Parameters<DnsServer['setEndpoint']> {
  return [
    req.endpointId,
    [...req.dnsNames, ...req.aliases],
    req.addresses,
    {
      upstreams: (req.dnsUpstreams ?? []).flatMap((s) => parseUpstream(s) ?? []),
      container: req.containerId,
      ...(req.links ? { links: req.links } : {}),
    },
  ];
}

/** The endpoint's published ports for the firewall: to its IPv4 address, IPv6 ones to its IPv6 address. */
function publicationOf(req: AttachRequest): FirewallPublication | undefined {
  const address = req.addresses.find((a) => !isV6(a)) ?? req.addresses[0];
  if (!address) return undefined;
  const v6 = req.addresses.find(isV6);
  return {
    endpointId: req.endpointId,
    networkId: req.network.id,
    address: addrOf(address),
    ...(v6 ? { address6: addrOf(v6) } : {}),
    ports: req.ports,
  };
}
