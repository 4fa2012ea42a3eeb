import type { PortMapping } from './network-driver.js';

/** A network as the firewall sees it: a host-side interface and the subnets behind it. */
export interface FirewallNetwork {
  /** Network id (stable across restarts). */
  id: string;
  /** Host-side interface the network's traffic enters and leaves by (a bridge). */
  iface: string;
  subnets: string[];
  /** No route out: traffic may not leave the network, not even to the host's other interfaces. */
  internal: boolean;
  /** Source-NAT traffic that leaves through another interface (`com.docker.network.bridge.enable_ip_masquerade`). */
  masquerade: boolean;
  /** Drop traffic between this network and every other isolated network (Docker's default for bridges). */
  isolate: boolean;
  /**
   * Services the host offers this network's containers on its own addresses (the embedded DNS on
   * the gateway): published ports never capture them, so `-p 53:53/udp` cannot hijack name lookups.
   */
  hostServices?: Array<{ address: string; protocol: 'tcp' | 'udp'; port: number }>;
}

/** Published ports of one endpoint. */
export interface FirewallPublication {
  endpointId: string;
  networkId: string;
  /** The container's address the ports forward to (no prefix length). */
  address: string;
  /**
   * The container's IPv6 address on the network, when it has one besides `address`: mappings on an
   * IPv6 host address (`::`) forward there rather than to `address`.
   */
  address6?: string;
  ports: PortMapping[];
}

/**
 * The firewall seam: masquerade, isolation and port publishing for networks, kept out of network
 * drivers (DESIGN §2.3). One implementation owns its kernel state (e.g. one nftables table) and can
 * rebuild it from what the core hands to `sync()`.
 */
export interface Firewall {
  readonly name: string;
  /** Idempotent. */
  addNetwork(net: FirewallNetwork): Promise<void>;
  /** Idempotent; also removes the network's publications. */
  removeNetwork(id: string): Promise<void>;
  /** Idempotent per endpoint; fails with ConflictError when a host port is already taken. */
  publish(pub: FirewallPublication): Promise<void>;
  /** Idempotent. */
  unpublish(endpointId: string): Promise<void>;
  /** Replaces all state with exactly this (daemon start: stale rules from a crash disappear). */
  sync(state: { networks: FirewallNetwork[]; publications: FirewallPublication[] }): Promise<void>;
  /** Removes everything this firewall ever installed. */
  teardown(): Promise<void>;
}
