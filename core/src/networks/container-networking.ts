import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { type ContainerRecord, type HostConfig, ZERO_TIME } from '../containers/container-types.js';
import { writeNetworkEtcFiles } from '../containers/etc-files.js';
import { ConflictError, ForbiddenError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { Logger } from '../plugin-api/logger.js';
import type { Runtime } from '../plugin-api/runtime.js';
import { goMap, inGoOrder } from '../util/go-json.js';
import type { AttachRequest, NetworkDriver, PortMapping } from '../plugin-api/network-driver.js';
import { setDefaultRoutes } from '../host/netlink.js';
import { splitCidr } from './cidr.js';
import { parseEndpointSettings, parseLink, type NetworkingRequest } from './create-options.js';
import { defaultRoutesOf, gatewayEndpoint } from './gateway.js';
import { LegacyLinks } from './legacy-links.js';
import type { NetworkService } from './network-service.js';
import { KeyedLock, specOf } from './network-spec.js';
import type { EndpointConfig, EndpointRow, NetworkRecord, NetworkStore } from './network-store.js';
import { HostPortAllocator } from './host-port-allocator.js';
import { type HeldPorts, portsView, type Proto, resolvePorts, wantedPorts } from './ports.js';

/** What the networking side needs to know about containers. */
export interface ContainerLookup {
  get(ref: string): ContainerRecord;
  list(): ContainerRecord[];
  /** The containers with legacy links (few, if any: the start of a container asks). */
  linking(): ContainerRecord[];
  runtimeOf(c: ContainerRecord): Promise<Runtime>;
}

/** How a container's task gets its network namespace. */
export interface StartNetwork {
  namespace: { mode: 'new' } | { mode: 'host' } | { mode: 'path'; path: string };
  hostNetwork: boolean;
  /** `--network container:<x>`: x's /etc files are used. */
  etcFiles?: { hosts: string; resolvConf: string; hostname: string };
  /** The environment of its legacy links (default bridge). */
  linkEnv: string[];
}

export interface NetworkPlan {
  /** HostConfig.NetworkMode to store (`container:<full id>` for a shared namespace). */
  mode: string;
  hostNetwork: boolean;
  endpoints: { networkId: string; config: EndpointConfig }[];
}

/**
 * The container side of networking: which networks a container is on, attaching its endpoints
 * between the runtime's create and start (to /proc/<pid>/ns/net), detaching them when the task
 * ends, connect/disconnect, and the start-up reconciliation after a crash.
 */
export class ContainerNetworking {
  private readonly lock = new KeyedLock();
  private readonly hostPorts = new HostPortAllocator();
  private readonly links: LegacyLinks;
  private containers?: ContainerLookup;

  constructor(
    private readonly networks: NetworkService,
    private readonly store: NetworkStore,
    private readonly log: Logger,
    /** daemon.json `default-network`; unset = bridge when it exists, else none. */
    private readonly defaultNetwork?: string,
  ) {
    networks.reapEndpoints = (id) => this.reap(id);
    this.links = new LegacyLinks({
      container: (ref) => this.findContainer(ref),
      onDefaultBridge: (mode) => mode === 'bridge' || (mode === 'default' && this.defaultNetworkName() === 'bridge'),
      bridgeAddress: (id) => {
        const bridge = this.store.byName('bridge');
        const row = bridge && this.store.endpoint(id, bridge.Id);
        const ip = row?.live && addressesOf(row.live).find((a) => !a.includes(':'));
        return ip ? splitCidr(ip).ip : undefined;
      },
    });
  }

  private async reap(networkId: string): Promise<void> {
    for (const row of this.store.endpointsOn(networkId)) {
      if (!row.live || this.findContainer(row.containerId)?.State.Running) continue;
      await this.lock.run(row.containerId, async () => {
        const fresh = this.store.endpoint(row.containerId, row.networkId);
        if (fresh?.live) await this.detachWithDriver(fresh);
      });
    }
  }

  /** Endpoint data is shown only while the container runs (its teardown may lag behind the exit). */
  private shown(c: ContainerRecord | undefined, row: EndpointRow): EndpointRow {
    return c?.State.Running ? row : { ...row, live: undefined };
  }

  bindContainers(lookup: ContainerLookup): void {
    this.containers = lookup;
  }

  private lookup(): ContainerLookup {
    if (!this.containers) throw new Error('container lookup not bound');
    return this.containers;
  }

  private findContainer(id: string): ContainerRecord | undefined {
    try {
      return this.lookup().get(id);
    } catch {
      return undefined;
    }
  }

  defaultNetworkName(): string {
    if (this.defaultNetwork) return this.defaultNetwork;
    const bridge = this.store.byName('bridge');
    return bridge && this.networks.hasDriver(bridge) ? 'bridge' : 'none';
  }

  /** Validates a create request's networking; nothing is stored yet. */
  async plan(hc: HostConfig, req: NetworkingRequest, cfg: { Hostname: string }): Promise<NetworkPlan> {
    const mode = hc.NetworkMode || 'default';
    if (mode.startsWith('container:')) {
      const ref = mode.slice('container:'.length);
      if (!ref) throw new InvalidParameterError('invalid network mode: container: needs a container name or id');
      const bindings = hc.PortBindings as Record<string, unknown> | null | undefined;
      if ((bindings && Object.keys(bindings).length) || hc.PublishAllPorts)
        throw new InvalidParameterError('conflicting options: port publishing and the container type network mode');
      if (cfg.Hostname) throw new InvalidParameterError('conflicting options: hostname and the network mode');
      if (req.mac) throw new InvalidParameterError('conflicting options: mac-address and the network mode');
      if ((hc.Dns as unknown[] | undefined)?.length || (hc.ExtraHosts as unknown[] | undefined)?.length)
        throw new InvalidParameterError('conflicting options: dns and the network mode');
      // Like dockerd, a container that does not exist (yet) is an error of start, not of create.
      const other = this.findContainer(ref);
      if (other?.HostConfig.NetworkMode.startsWith('container:'))
        throw new InvalidParameterError('cannot join the network of a container that shares another one');
      return { mode: other ? `container:${other.Id}` : mode, hostNetwork: false, endpoints: [] };
    }
    // An unknown network, too, fails the start (404 at create would make the CLI pull the image).
    const primary = this.networks.find(mode === 'default' ? this.defaultNetworkName() : mode);
    if (!primary || !this.networks.hasDriver(primary)) return { mode, hostNetwork: false, endpoints: [] };
    const caps = (await this.networks.driverOf(primary)).capabilities();
    const keyOf = (n: NetworkRecord) =>
      [mode, n.Name, n.Id].find((k) => k in req.endpoints) ??
      Object.keys(req.endpoints).find((k) => n.Id.startsWith(k) && /^[0-9a-f]+$/.test(k));
    const used = new Set<string>();
    const primaryKey = keyOf(primary);
    if (primaryKey) used.add(primaryKey);
    const first = primaryKey ? req.endpoints[primaryKey]! : parseEndpointSettings(undefined, '');
    if (req.mac && !first.mac) first.mac = req.mac;
    const endpoints = [{ networkId: primary.Id, config: first }];
    for (const [key, config] of Object.entries(req.endpoints)) {
      if (used.has(key)) continue;
      const n = this.networks.find(key);
      if (!n || !this.networks.hasDriver(n) || endpoints.some((e) => e.networkId === n.Id)) continue;
      endpoints.push({ networkId: n.Id, config });
    }
    for (const e of endpoints) {
      const n = this.store.get(e.networkId)!;
      const c = (await this.networks.driverOf(n)).capabilities();
      if (endpoints.length > 1 && !c.endpoints)
        throw new InvalidParameterError(
          `container cannot be connected to multiple networks with one of the networks in ${c.namespace === 'host' ? 'host' : 'private (none)'} mode`,
        );
      this.checkStaticIp(n, e.config);
    }
    if (caps.namespace === 'host' && cfg.Hostname === '' && req.mac)
      throw new InvalidParameterError('conflicting options: mac-address and the network mode');
    return { mode, hostNetwork: caps.namespace === 'host', endpoints };
  }

  /** dockerd's rules for fixed addresses and aliases. */
  private checkStaticIp(n: NetworkRecord, config: EndpointConfig): void {
    if ((config.ipv4 || config.ipv6) && n.builtin)
      throw new InvalidParameterError('user specified IP address is supported on user defined networks only');
    if ((config.ipv4 || config.ipv6) && n.pools.length && !n.userSubnets)
      throw new InvalidParameterError(
        'user specified IP address is supported only when connecting to networks with user configured subnets',
      );
    if (config.aliases.length && n.builtin)
      throw new InvalidParameterError('network-scoped alias is supported only for containers in user defined networks');
  }

  /** Stores a new container's network attachments (after its record exists). */
  record(containerId: string, plan: NetworkPlan): void {
    plan.endpoints.forEach((e, seq) =>
      this.store.putEndpoint({ containerId, networkId: e.networkId, seq, config: e.config }),
    );
  }

  /**
   * Legacy links at create (see LegacyLinks.atCreate); on a user-defined network they become the
   * primary endpoint's links (the CLI copies them there, an API client may not).
   */
  legacyLinks(hc: HostConfig, name: string, plan: NetworkPlan): string[] | null {
    const links = this.links.atCreate(hc.Links as string[] | null | undefined, name, plan.mode);
    const primary = plan.endpoints[0]?.config;
    if (links.forEndpoint.length && primary && !primary.links?.length) primary.links = links.forEndpoint;
    return links.hostConfig;
  }

  /** A running container's links changed (`docker rm --link`): its /etc/hosts follows. */
  linksChanged(c: ContainerRecord): Promise<void> {
    return this.writeEtc(c);
  }

  /** The link variables of a running container's next exec (dockerd recomputes them each time). */
  linkEnvNow(c: ContainerRecord): string[] {
    return this.links.env(this.links.now(c));
  }

  /** Before the runtime creates the task: which namespace, and (shared) whose /etc files. */
  async prepareStart(c: ContainerRecord): Promise<StartNetwork> {
    const mode = c.HostConfig.NetworkMode;
    if (mode.startsWith('container:')) {
      const id = mode.slice('container:'.length);
      const other = this.findContainer(id);
      if (!other) throw new NotFoundError(`No such container: ${id}`);
      if (!other.State.Running || !other.State.Pid)
        throw new ConflictError(`cannot join network of a non running container: ${id}`);
      return {
        namespace: { mode: 'path', path: `/proc/${other.State.Pid}/ns/net` },
        hostNetwork: false,
        etcFiles: { hosts: other.HostsPath, resolvConf: other.ResolvConfPath, hostname: other.HostnamePath },
        linkEnv: [],
      };
    }
    let rows = this.store.endpointsOf(c.Id);
    if (rows.length === 0) {
      // A container created before networks were stored: attach it to its NetworkMode network.
      const n = this.networks.resolve(mode === 'default' ? this.defaultNetworkName() : mode);
      this.record(c.Id, {
        mode,
        hostNetwork: false,
        endpoints: [{ networkId: n.Id, config: parseEndpointSettings(undefined, '') }],
      });
      rows = this.store.endpointsOf(c.Id);
    }
    const primary = this.store.get(rows[0]!.networkId);
    if (!primary) throw new NotFoundError(`network ${mode === 'default' ? this.defaultNetworkName() : mode} not found`);
    for (const r of rows.slice(1))
      if (!this.store.get(r.networkId)) throw new NotFoundError(`network ${r.networkId} not found`);
    const caps = (await this.networks.driverOf(primary)).capabilities();
    return {
      namespace: caps.namespace === 'host' ? { mode: 'host' } : { mode: 'new' },
      hostNetwork: caps.namespace === 'host',
      linkEnv: this.links.env(this.links.atStart(c)),
    };
  }

  /**
   * Between runtime create and start: attaches every endpoint to /proc/<pid>/ns/net and writes the
   * /etc files; on failure whatever was attached is detached again.
   */
  async attachAll(c: ContainerRecord, pid: number): Promise<void> {
    if (c.HostConfig.NetworkMode.startsWith('container:')) return;
    await this.lock.run(c.Id, async () => {
      const rows = this.store.endpointsOf(c.Id);
      const done: EndpointRow[] = [];
      let ports: PortMapping[] | undefined;
      try {
        for (const row of rows) {
          const n = this.store.get(row.networkId);
          if (!n) throw new NotFoundError(`network ${row.networkId} not found`);
          const driver = await this.networks.driverOf(n);
          const caps = driver.capabilities();
          if (!caps.endpoints) continue;
          if (row.live) await this.detachRow(row, n, driver);
          let mine: PortMapping[] = [];
          if (ports === undefined && caps.portMapping && !n.Internal) {
            const hostIp = n.Options?.['com.docker.network.bridge.host_binding_ipv4'];
            ports = await resolvePorts(
              wantedPorts(
                c.HostConfig.PortBindings,
                c.Config.ExposedPorts,
                c.HostConfig.PublishAllPorts === true,
                hostIp && isIP(hostIp) ? hostIp : undefined,
              ),
              this.hostPorts,
              this.heldPorts(),
            );
            mine = ports;
          }
          await this.attachRow(c, row, n, driver, pid, mine);
          done.push(row);
        }
        await this.settleGateway(c.Id, pid, false);
        if (done.length) await this.writeEtc(c);
        // Containers linking to this one learn its (new) address, as libnetwork's updateParentHosts does.
        for (const parent of this.links.parentsOf(c, () => this.lookup().linking()))
          await this.writeEtc(parent).catch((err) =>
            this.log.warn('cannot rewrite /etc/hosts', { id: parent.Id, error: err as Error }),
          );
      } catch (err) {
        for (const row of done.reverse()) {
          const n = this.store.get(row.networkId)!;
          await this.detachRow(row, n, await this.networks.driverOf(n)).catch(() => {});
        }
        throw err;
      } finally {
        // Recorded with the endpoints now (or given up): the store tells from here on.
        if (ports) this.hostPorts.settle(ports);
      }
    });
  }

  /** The host ports of every live endpoint's publications. */
  private heldPorts(): HeldPorts {
    const held = new Map<Proto, Set<number>>();
    for (const row of this.store.allEndpoints())
      for (const m of row.live?.request.ports ?? []) {
        const set = held.get(m.protocol) ?? new Set<number>();
        held.set(m.protocol, set.add(m.hostPort));
      }
    return held;
  }

  private async attachRow(
    c: ContainerRecord,
    row: EndpointRow,
    n: NetworkRecord,
    driver: NetworkDriver,
    pid: number,
    ports: PortMapping[],
  ): Promise<void> {
    const caps = driver.capabilities();
    const leases: { poolId: string; address: string }[] = [];
    const ipam = caps.needsIpam ? await this.networks.ipamOf(n) : undefined;
    try {
      if (ipam) {
        for (const pool of n.pools) {
          const v6 = pool.subnet.includes(':');
          if (v6 && !n.EnableIPv6) continue;
          const preferred = v6 ? row.config.ipv6 : row.config.ipv4;
          const address = await ipam.requestAddress(pool.poolId, preferred ? { preferred } : {});
          leases.push({ poolId: pool.poolId, address });
        }
      }
      const v4 = leases.find((l) => !l.address.includes(':'));
      const gateway = n.pools.find((p) => !p.subnet.includes(':'))?.gateway;
      const req: AttachRequest = {
        endpointId: randomBytes(32).toString('hex'),
        containerId: c.Id,
        dnsNames: n.builtin ? [] : dnsNamesOf(c, row),
        network: specOf(n),
        netnsPath: `/proc/${pid}/ns/net`,
        ifName: this.freeIfName(c.Id),
        addresses: leases.map((l) => l.address),
        ...(!caps.needsIpam && (row.config.ipv4 || row.config.ipv6)
          ? { fixedAddresses: [row.config.ipv4, row.config.ipv6].filter((a): a is string => !!a) }
          : {}),
        ...(gateway && leases.length ? { gateway } : {}),
        ...(row.config.mac ? { mac: row.config.mac } : v4 ? { mac: macOf(splitCidr(v4.address).ip) } : {}),
        ports,
        aliases: row.config.aliases,
        ...(row.config.links?.length && !n.builtin
          ? { links: Object.fromEntries(row.config.links.map(parseLink).map((l) => [l.alias, l.target])) }
          : {}),
        options: { ...row.config.driverOpts },
        ...((c.HostConfig.Dns as string[] | null | undefined)?.length
          ? { dnsUpstreams: c.HostConfig.Dns as string[] }
          : {}),
      };
      const result = await driver.attach(req);
      row.live = { request: req, result, leases };
      this.store.putEndpoint(row);
      this.networks.publish(n, 'connect', { container: c.Id });
    } catch (err) {
      for (const l of leases) await ipam?.releaseAddress(l.poolId, l.address).catch(() => {});
      throw err;
    }
  }

  /** A renamed container's live endpoints answer to its new name (user-defined networks only, as in Docker). */
  async renamed(c: ContainerRecord): Promise<void> {
    for (const row of this.store.endpointsOf(c.Id)) {
      const n = row.live && this.store.get(row.networkId);
      if (!row.live || !n || n.builtin) continue;
      const req = { ...row.live.request, dnsNames: dnsNamesOf(c, row) };
      row.live = { ...row.live, request: req };
      this.store.putEndpoint(row);
      await (await this.networks.driverOf(n)).updateNames?.(req);
    }
  }

  private freeIfName(containerId: string): string {
    const used = new Set(this.store.endpointsOf(containerId).flatMap((r) => (r.live ? [r.live.request.ifName] : [])));
    for (let i = 0; ; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
  }

  private async detachRow(
    row: EndpointRow,
    n: NetworkRecord | undefined,
    driver: NetworkDriver | undefined,
  ): Promise<void> {
    const live = row.live;
    if (!live) return;
    await driver
      ?.detach(live.request, live.result)
      .catch((err) => this.log.warn('network detach failed', { container: row.containerId, error: err as Error }));
    if (live.leases.length) {
      // A network that is gone took its pools (and their addresses) with it.
      const ipam = n
        ? await this.networks.ipamOf(n).catch((err: Error) => {
            this.log.warn('cannot release addresses', { network: n.Name, error: err });
            return undefined;
          })
        : undefined;
      for (const l of live.leases) {
        await ipam
          ?.releaseAddress(l.poolId, l.address)
          .catch((err) => this.log.warn('cannot release address', { address: l.address, error: err as Error }));
      }
    }
    row.live = undefined;
    if (this.store.endpoint(row.containerId, row.networkId)) this.store.putEndpoint(row);
    if (n) this.networks.publish(n, 'disconnect', { container: row.containerId });
  }

  private async detachWithDriver(row: EndpointRow): Promise<void> {
    const n = this.store.get(row.networkId);
    const driver = n ? await this.networks.driverOf(n).catch(() => undefined) : undefined;
    await this.detachRow(row, n, driver);
  }

  /** The task ended (or its start failed): every endpoint is detached, addresses go back to IPAM. */
  async detachAll(c: ContainerRecord): Promise<void> {
    await this.lock.run(c.Id, async () => {
      for (const row of this.store.endpointsOf(c.Id).reverse()) if (row.live) await this.detachWithDriver(row);
    });
  }

  /** The container is removed. */
  async forget(containerId: string): Promise<void> {
    await this.lock.run(containerId, async () => {
      for (const row of this.store.endpointsOf(containerId)) {
        if (row.live) await this.detachWithDriver(row);
        this.store.deleteEndpoint(containerId, row.networkId);
      }
    });
  }

  /** `POST /networks/{id}/connect` (running or created containers). */
  async connect(netRef: string, body: unknown): Promise<void> {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.Container !== 'string' || !b.Container) throw new InvalidParameterError('Container is required');
    const n = this.networks.resolve(netRef);
    const c0 = this.lookup().get(b.Container);
    const config = parseEndpointSettings(b.EndpointConfig, 'EndpointConfig');
    const driver = await this.networks.driverOf(n);
    const caps = driver.capabilities();
    if (c0.HostConfig.NetworkMode.startsWith('container:'))
      throw new ForbiddenError(
        'container sharing network namespace with another container or host cannot be connected to any other network',
      );
    if (caps.namespace === 'host')
      throw new InvalidParameterError(
        'container cannot be disconnected from host network or connected to host network',
      );
    if (!caps.endpoints)
      throw new InvalidParameterError(
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
      );
    this.checkStaticIp(n, config);
    await this.lock.run(c0.Id, async () => {
      const c = this.lookup().get(c0.Id);
      const rows = this.store.endpointsOf(c.Id);
      if (rows.some((r) => r.networkId === n.Id))
        throw new ForbiddenError(`endpoint with name ${c.Name.slice(1)} already exists in network ${n.Name}`);
      if (rows.length && (await this.lookup().runtimeOf(c)).capabilities().singleNetwork)
        throw new ConflictError(
          `container ${c.Name.slice(1)} runs on runtime ${c.RuntimeName}, which connects a container to one network: disconnect it from ${rows.map((r) => this.store.get(r.networkId)?.Name ?? r.networkId).join(', ')} first`,
        );
      for (const r of rows) {
        const other = this.store.get(r.networkId);
        if (!other) continue;
        const oc = (await this.networks.driverOf(other)).capabilities();
        if (oc.namespace === 'host')
          throw new ForbiddenError(
            'container sharing network namespace with another container or host cannot be connected to any other network',
          );
        if (!oc.endpoints)
          throw new InvalidParameterError(
            'container cannot be connected to multiple networks with one of the networks in private (none) mode',
          );
      }
      const row: EndpointRow = {
        containerId: c.Id,
        networkId: n.Id,
        seq: Math.max(-1, ...rows.map((r) => r.seq)) + 1,
        config,
      };
      this.store.putEndpoint(row);
      if (!c.State.Running || !c.State.Pid) return;
      try {
        await this.attachRow(c, row, n, driver, c.State.Pid, []);
      } catch (err) {
        this.store.deleteEndpoint(c.Id, n.Id);
        throw err;
      }
      try {
        await this.settleGateway(c.Id, c.State.Pid, false);
        await this.writeEtc(c).catch((err) =>
          this.log.warn('cannot rewrite /etc/hosts', { id: c.Id, error: err as Error }),
        );
        await (await this.lookup().runtimeOf(c)).networkChanged?.(c.Id);
      } catch (err) {
        const live = this.store.endpoint(c.Id, n.Id);
        if (live?.live) await this.detachWithDriver(live).catch(() => {});
        this.store.deleteEndpoint(c.Id, n.Id);
        await this.settleGateway(c.Id, c.State.Pid, true).catch(() => {});
        await this.writeEtc(c).catch(() => {});
        throw err;
      }
    });
  }

  /** `POST /networks/{id}/disconnect`. */
  async disconnect(netRef: string, body: unknown): Promise<void> {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.Container !== 'string' || !b.Container) throw new InvalidParameterError('Container is required');
    const n = this.networks.resolve(netRef);
    const c0 = this.findContainer(b.Container);
    if (!c0) {
      if (b.Force === true) return;
      throw new NotFoundError(`No such container: ${b.Container}`);
    }
    const caps = (await this.networks.driverOf(n)).capabilities();
    if (caps.namespace === 'host')
      throw new InvalidParameterError(
        'container cannot be disconnected from host network or connected to host network',
      );
    await this.lock.run(c0.Id, async () => {
      const row = this.store.endpoint(c0.Id, n.Id);
      if (!row) throw new ConflictError(`container ${c0.Id} is not connected to network ${n.Name}`);
      const wasLive = !!row.live;
      if (row.live) await this.detachWithDriver(row);
      else this.networks.publish(n, 'disconnect', { container: c0.Id });
      this.store.deleteEndpoint(c0.Id, n.Id);
      const c = this.lookup().get(c0.Id);
      if (!c.State.Running) return;
      if (wasLive && c.State.Pid)
        await this.settleGateway(c.Id, c.State.Pid, true).catch((err) =>
          this.log.warn('cannot move the default route', { id: c.Id, error: err as Error }),
        );
      await this.writeEtc(c).catch(() => {});
      await (
        await this.lookup().runtimeOf(c)
      )
        .networkChanged?.(c.Id)
        .catch((err) => this.log.warn('the runtime did not follow a disconnect', { id: c.Id, error: err as Error }));
    });
  }

  /**
   * A container on several networks has one default route per family, its gateway endpoint's (see
   * gatewayEndpoint), as under dockerd; each driver installed its own (ranked by metric), so the
   * others go. After a disconnect the remaining endpoints are settled again: the gone one may have
   * been the gateway. A container with one network keeps its driver's routes untouched.
   */
  private async settleGateway(containerId: string, pid: number, disconnected: boolean): Promise<void> {
    const live = this.store.endpointsOf(containerId).flatMap((r) => {
      const n = r.live && this.store.get(r.networkId);
      return n && r.live ? [{ network: n.Name, ifName: r.live.request.ifName, result: r.live.result }] : [];
    });
    const routed = live.filter((e) => Object.keys(defaultRoutesOf(e)).length);
    if (routed.length === 0 || (routed.length === 1 && !disconnected)) return;
    const ipv6 = routed.some((e) => defaultRoutesOf(e).v6);
    await setDefaultRoutes(`/proc/${pid}/ns/net`, defaultRoutesOf(gatewayEndpoint(routed)!), ipv6);
  }

  /** /etc/hosts and /etc/resolv.conf of a container with its current endpoints. */
  private async writeEtc(c: ContainerRecord): Promise<void> {
    const live = this.store.endpointsOf(c.Id).flatMap((r) => (r.live ? [r.live] : []));
    const addresses = live.flatMap((l) => addressesOf(l).map((a) => splitCidr(a).ip));
    const resolver = live.find((l) => l.result.dns?.nameservers.length)?.result.dns;
    const gateway = live.map((l) => l.request.gateway).find(Boolean);
    const hc = c.HostConfig;
    const extra = ((hc.ExtraHosts as string[] | null | undefined) ?? []).map((e) =>
      e.endsWith(':host-gateway') && gateway ? `${e.slice(0, -'host-gateway'.length)}${gateway}` : e,
    );
    extra.push(...this.links.hostEntries(this.links.now(c)));
    writeNetworkEtcFiles(
      { hosts: c.HostsPath, resolvConf: c.ResolvConfPath },
      {
        hostname: c.Config.Hostname,
        domainname: c.Config.Domainname,
        addresses,
        resolver,
        extraHosts: extra,
        dns: (hc.Dns as string[] | null | undefined) ?? [],
        dnsSearch: (hc.DnsSearch as string[] | null | undefined) ?? [],
        dnsOptions: (hc.DnsOptions as string[] | null | undefined) ?? [],
      },
    );
  }

  /**
   * Daemon start, after the containers were reconciled: endpoints of containers that no longer
   * run are detached with their recorded results; each driver gets its networks and the rest.
   */
  async restore(): Promise<void> {
    for (const row of this.store.allEndpoints()) {
      if (!row.live) continue;
      const c = this.findContainer(row.containerId);
      if (c?.State.Running) continue;
      await this.lock.run(row.containerId, () => this.detachWithDriver(row)).catch(() => {});
      if (!c) this.store.deleteEndpoint(row.containerId, row.networkId);
    }
    const byDriver = new Map<string, NetworkRecord[]>();
    for (const n of this.networks.list()) byDriver.set(n.Driver, [...(byDriver.get(n.Driver) ?? []), n]);
    for (const [name, nets] of byDriver) {
      const driver = await this.networks.driverOf(nets[0]!).catch(() => undefined);
      if (!driver?.restore) continue;
      const ids = new Set(nets.map((n) => n.Id));
      const endpoints = this.store
        .allEndpoints()
        .filter((r) => r.live && ids.has(r.networkId))
        .map((r) => ({ req: r.live!.request, result: r.live!.result }));
      await driver
        .restore(
          nets.map((n) => ({ spec: specOf(n), pools: n.pools, state: n.state })),
          endpoints,
        )
        .catch((err) =>
          this.log.error(`network driver ${name} could not restore its networks`, { error: err as Error }),
        );
    }
  }

  // ---- views -------------------------------------------------------------------------------

  /** `NetworkSettings` of container inspect, in Docker's shape. */
  settings(c: ContainerRecord) {
    const rows = this.store.endpointsOf(c.Id);
    const networks: Record<string, ReturnType<ContainerNetworking['endpointView']>> = {};
    let legacy = endpointFields(undefined);
    let ports: PortMapping[] = [];
    for (const r of rows) {
      const row = this.shown(c, r);
      const n = this.store.get(row.networkId);
      if (!n) continue;
      networks[n.Name] = this.endpointView(c, row, n, false);
      if (row.live && n.builtin && n.Name === 'bridge') legacy = endpointFields(row);
      if (row.live && row.live.request.ports.length && !ports.length) ports = row.live.request.ports;
    }
    const running = c.State.Running && c.State.Pid > 0;
    const privateNs = running && !c.HostConfig.NetworkMode.startsWith('container:');
    return {
      Bridge: '',
      SandboxID: privateNs ? runId(c, 'sandbox') : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: goMap(running ? portsView(ports, c.Config.ExposedPorts) : {}),
      SandboxKey: privateNs ? `/proc/${c.State.Pid}/ns/net` : '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      // The bridge endpoint's fields in moby's DefaultNetworkSettings order (not EndpointSettings').
      ...inGoOrder(legacy, DEFAULT_NETWORK_SETTINGS_ORDER),
      Networks: goMap(networks),
    };
  }

  /** `ps`: the Ports list and NetworkSettings.Networks. */
  summary(c: ContainerRecord) {
    const networks: Record<string, ReturnType<ContainerNetworking['endpointView']>> = {};
    const list: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
    let mappings: PortMapping[] = [];
    for (const r of this.store.endpointsOf(c.Id)) {
      const row = this.shown(c, r);
      const n = this.store.get(row.networkId);
      if (!n) continue;
      networks[n.Name] = this.endpointView(c, row, n, true);
      if (row.live?.request.ports.length && !mappings.length) mappings = row.live.request.ports;
    }
    if (c.State.Running) {
      for (const m of mappings)
        list.push({ IP: m.hostIp, PrivatePort: m.containerPort, PublicPort: m.hostPort, Type: m.protocol });
      for (const key of Object.keys(c.Config.ExposedPorts ?? {})) {
        const [p, proto = 'tcp'] = key.split('/');
        if (!mappings.some((m) => m.containerPort === Number(p) && m.protocol === proto))
          list.push({ PrivatePort: Number(p), Type: proto });
      }
    }
    return { Ports: list, Networks: goMap(networks) };
  }

  private endpointView(c: ContainerRecord, row: EndpointRow, n: NetworkRecord, forList: boolean) {
    // dockerd fills in the short ID and hostname when the endpoint first joins at start.
    const joined = c.State.Running || c.State.FinishedAt !== ZERO_TIME;
    const aliases = n.builtin || !joined ? row.config.aliases : joinedAliases(c, row);
    const fields = endpointFields(row);
    // Drivers without endpoints (none, host) still have one per run in dockerd: an ID, no addresses.
    if (c.State.Running && !row.live && this.networks.knownCapabilities(n)?.endpoints === false)
      fields.EndpointID = runId(c, n.Id);
    return {
      IPAMConfig: row.config.ipamConfig,
      Links: row.config.links,
      Aliases: forList || (!aliases.length && !row.config.ipamConfig) ? null : aliases,
      // dockerd fills it in when the endpoint first joins at start, and keeps it after the run.
      NetworkID: joined ? n.Id : '',
      ...fields,
      // As the client sent it: connect's `{}` stays `{}`, as in dockerd.
      DriverOpts: row.config.driverOpts,
    };
  }

  /** `Containers` of network inspect: live endpoints on the network. */
  containersOn(n: NetworkRecord): Record<string, NetworkContainerView> {
    const out: Record<string, NetworkContainerView> = {};
    const noEndpoints = this.networks.knownCapabilities(n)?.endpoints === false;
    for (const row of this.store.endpointsOn(n.Id)) {
      const c = this.findContainer(row.containerId);
      if (!c?.State.Running) continue;
      if (!row.live) {
        // none and host: dockerd still lists the container, with an endpoint and no addresses.
        if (noEndpoints)
          out[row.containerId] = {
            Name: c.Name.slice(1),
            EndpointID: runId(c, n.Id),
            MacAddress: '',
            IPv4Address: '',
            IPv6Address: '',
          };
        continue;
      }
      const addrs = addressesOf(row.live);
      out[row.containerId] = {
        Name: c.Name.slice(1),
        EndpointID: row.live.request.endpointId,
        MacAddress: macOfLive(row.live),
        IPv4Address: addrs.find((a) => !a.includes(':')) ?? '',
        IPv6Address: addrs.find((a) => a.includes(':')) ?? '',
      };
    }
    return out;
  }
}

/** One entry of network inspect's `Containers`. */
export interface NetworkContainerView {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

function addressesOf(l: NonNullable<EndpointRow['live']>): string[] {
  return l.request.addresses.length ? l.request.addresses : l.result.ips.map((i) => i.address);
}

function macOfLive(l: NonNullable<EndpointRow['live']>): string {
  return l.result.interfaces.find((i) => i.sandbox && i.mac)?.mac ?? l.request.mac ?? '';
}

/** Where moby's DefaultNetworkSettings (the top-level legacy fields of inspect) has them. */
const DEFAULT_NETWORK_SETTINGS_ORDER = [
  'EndpointID',
  'Gateway',
  'GlobalIPv6Address',
  'GlobalIPv6PrefixLen',
  'IPAddress',
  'IPPrefixLen',
  'IPv6Gateway',
  'MacAddress',
];

/** The per-endpoint address fields of Docker's EndpointSettings (empty when not attached). */
function endpointFields(row: EndpointRow | undefined) {
  const live = row?.live;
  const addrs = live ? addressesOf(live) : [];
  const v4 = addrs.find((a) => !a.includes(':'));
  const v6 = addrs.find((a) => a.includes(':'));
  const gw4 = live?.result.ips.find((i) => !i.address.includes(':'))?.gateway ?? live?.request.gateway ?? '';
  const gw6 = live?.result.ips.find((i) => i.address.includes(':'))?.gateway ?? '';
  return {
    EndpointID: live?.request.endpointId ?? '',
    Gateway: v4 ? gw4 : '',
    IPAddress: v4 ? splitCidr(v4).ip : '',
    IPPrefixLen: v4 ? splitCidr(v4).bits : 0,
    IPv6Gateway: gw6,
    GlobalIPv6Address: v6 ? splitCidr(v6).ip : '',
    GlobalIPv6PrefixLen: v6 ? splitCidr(v6).bits : 0,
    MacAddress: live ? macOfLive(live) : '',
  };
}

/** A stable 64-hex ID for one run of a container (pseudo endpoint and sandbox IDs). */
function runId(c: ContainerRecord, what: string): string {
  return createHash('sha256').update(`${c.Id}/${c.State.StartedAt}/${what}`).digest('hex');
}

/** dockerd's MAC for an IPv4 endpoint: 02:42 and the four address bytes. */
export function macOf(ipv4: string): string {
  return ['02', '42', ...ipv4.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
}

/**
 * An endpoint's aliases on a user-defined network once it joined, as dockerd 20.10 has them: the
 * user's, the short ID, the hostname (so `--hostname` names resolve on the network too).
 */
function joinedAliases(c: ContainerRecord, row: EndpointRow): string[] {
  return [...new Set([...row.config.aliases, c.Id.slice(0, 12), c.Config.Hostname].filter((a) => !!a))];
}

/** The names an endpoint on a user-defined network answers to on its DNS. */
function dnsNamesOf(c: ContainerRecord, row: EndpointRow): string[] {
  return [...new Set([c.Name.replace(/^\//, ''), ...joinedAliases(c, row)])];
}
