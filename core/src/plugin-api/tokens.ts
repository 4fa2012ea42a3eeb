import type { Cluster, ClusterStore } from './cluster-store.js';
import type { ContentStore } from './content.js';
import type { EventBus } from './events.js';
import type { Firewall } from './firewall.js';
import type { GraphDriver } from './graph-driver.js';
import type { IpamDriver } from './ipam.js';
import type { Logger } from './logger.js';
import type { NetworkDriver } from './network-driver.js';
import type { Runtime } from './runtime.js';
import type { VolumeDriver } from './volume.js';

/** A service identifier. `Symbol.for` keys survive duplicate copies of this package. */
export type Token<T> = symbol & { readonly __type?: T };

function token<T>(key: string): Token<T> {
  return Symbol.for(`skiff.${key}/1`) as Token<T>;
}

/** Services the host can hand to a plugin that lists them in its manifest's `requires`. */
export const Tokens = {
  Logger: token<Logger>('logger'),
  Events: token<EventBus>('events'),
  ContentStore: token<ContentStore>('content-store'),
  /** The graph driver chosen by `storage-driver`. */
  GraphDriver: token<GraphDriver>('graph-driver'),
  /** The runtime chosen by `default-runtime`. */
  Runtime: token<Runtime>('runtime'),
  IpamDriver: token<IpamDriver>('ipam-driver'),
  /** The firewall chosen by `firewall-driver`. */
  Firewall: token<Firewall>('firewall'),
  /** The cluster store chosen by `cluster-store` (absent when none is configured). */
  ClusterStore: token<ClusterStore>('cluster-store'),
  /** The cluster store with this host's advertise address (`cluster-advertise`). */
  Cluster: token<Cluster>('cluster'),
} as const;

/** What each plugin kind provides. */
export interface DriverKinds {
  storage: GraphDriver;
  network: NetworkDriver;
  ipam: IpamDriver;
  runtime: Runtime;
  volume: VolumeDriver;
  firewall: Firewall;
  clusterstore: ClusterStore;
}
export type PluginKind = keyof DriverKinds;
export const PLUGIN_KINDS: readonly PluginKind[] = [
  'storage',
  'network',
  'ipam',
  'runtime',
  'volume',
  'firewall',
  'clusterstore',
];
