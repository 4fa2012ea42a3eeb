import type { GlobalNetwork } from './cluster-store.js';
import type { Labels } from './graph-driver.js';

export interface NetworkDriverCapabilities {
  /** `host`: containers share the host's network namespace; `private`: each gets its own. */
  namespace: 'host' | 'private';
  /**
   * attach() adds interfaces to a namespace the core created. When false the namespace only
   * has loopback and the runtime may create it itself (the fast path for `--network none`).
   */
  endpoints: boolean;
  needsIpam: boolean;
  portMapping: boolean;
  dns: boolean;
  scope: 'local' | 'global';
}

export interface NetworkSpec {
  id: string;
  name: string;
  driver: string;
  internal: boolean;
  ipv6: boolean;
  options: Labels;
  labels: Labels;
}

export interface IpamPool {
  poolId: string;
  subnet: string;
  gateway?: string;
}

export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface AttachRequest {
  /** Unique per (container, network) attachment; stable for its lifetime (Docker's EndpointID). */
  endpointId: string;
  containerId: string;
  /** Names this endpoint answers to on the network's DNS: container name, aliases, short id. */
  dnsNames: string[];
  network: NetworkSpec;
  /** Path of the container's network namespace (a bind-mounted nsfs file). */
  netnsPath: string;
  ifName: string;
  /** CIDRs from IPAM (empty when the driver does not need IPAM). */
  addresses: string[];
  /** Drivers with their own IPAM (`needsIpam: false`): the addresses the user fixed (`--ip`, `--ip6`). */
  fixedAddresses?: string[];
  gateway?: string;
  mac?: string;
  ports: PortMapping[];
  aliases: string[];
  /**
   * Legacy `--link target:alias` on this network (a driver that serves DNS): `alias` resolves, for
   * this endpoint only, as the name `target` does.
   */
  links?: Record<string, string>;
  options: Labels;
  /**
   * `--dns` servers: with a driver that serves DNS (`capabilities().dns`), where this endpoint's
   * queries for names the network does not know are forwarded (as Docker's embedded DNS does).
   */
  dnsUpstreams?: string[];
}

/** CNI 1.x-shaped result; persisted by the core and handed back to detach(). */
export interface AttachResult {
  interfaces: { name: string; mac?: string; mtu?: number; sandbox?: string }[];
  ips: { address: string; gateway?: string; interface?: number }[];
  routes: { dst: string; gw?: string }[];
  dns?: { nameservers: string[]; search?: string[]; options?: string[] };
}

export interface NetworkDriver {
  readonly name: string;
  capabilities(): NetworkDriverCapabilities;
  /**
   * Sets up a network; returns driver state the core stores with it. A driver with its own IPAM
   * reports the subnet and gateway it picked as `subnet` and `gateway` (inspect's IPAM.Config).
   */
  createNetwork(spec: NetworkSpec, pools: IpamPool[]): Promise<Labels>;
  /** Idempotent. */
  deleteNetwork(spec: NetworkSpec): Promise<void>;
  /** Rolls back whatever it did if it fails. */
  attach(req: AttachRequest): Promise<AttachResult>;
  /** Best-effort and repeatable; `prev` may be null after a crash. */
  detach(req: AttachRequest, prev: AttachResult | null): Promise<void>;
  /**
   * The names an attached endpoint answers to changed (its container was renamed): `req` is the
   * endpoint's attach request with the new `dnsNames`. Drivers without DNS need not implement it.
   */
  updateNames?(req: AttachRequest): Promise<void>;
  /**
   * Daemon start: the networks and the endpoints that survived (containers still running) as the
   * core recorded them. The driver re-creates what is missing from the host (a bridge, DNS
   * records, firewall rules) and forgets everything else. Endpoints of exited containers are
   * detached by the core before this call.
   */
  /**
   * Global-scope drivers: `onChange` gets the full list of this driver's networks (made on any
   * host) each time it changes; the core shows them like its own. Resolves once watching.
   */
  watchNetworks?(onChange: (networks: GlobalNetwork[]) => void): Promise<void>;
  restore?(
    networks: { spec: NetworkSpec; pools: IpamPool[]; state: Labels }[],
    endpoints: { req: AttachRequest; result: AttachResult }[],
  ): Promise<void>;
}
