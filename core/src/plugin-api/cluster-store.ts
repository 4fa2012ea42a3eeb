import { SkiffError } from './errors.js';

/**
 * The `clusterstore` kind: a small consistent key-value store shared by skiff hosts (etcd, as
 * libnetwork used libkv). Keys are plain strings; values are UTF-8 strings (callers store JSON).
 */
export interface KvEntry {
  key: string;
  value: string;
  /** Store revision of the last change of this key: the token for compare-and-swap. */
  revision: number;
}

export type KvEvent = { type: 'put'; key: string; value: string; revision: number } | { type: 'delete'; key: string };

/** A lease: keys put under it disappear when it is revoked or is not kept alive for `ttl` seconds. */
export interface KvLease {
  readonly id: string;
  readonly ttl: number;
  /** Called once when the store reports the lease lost (keepalive failed after expiry). */
  onLost(cb: (err: Error) => void): void;
  revoke(): Promise<void>;
}

export interface KvWatch {
  close(): Promise<void>;
}

export interface ClusterStore {
  readonly name: string;
  get(key: string): Promise<KvEntry | undefined>;
  /** Unconditional write. */
  put(key: string, value: string, opts?: { lease?: KvLease }): Promise<void>;
  /**
   * Compare-and-swap: writes only if the key's revision is still `prevRevision` (`0` = the key must
   * not exist). Returns false when another writer won; never throws for a lost race.
   */
  cas(key: string, value: string, prevRevision: number, opts?: { lease?: KvLease }): Promise<boolean>;
  /** Deletes a key; with `prevRevision`, only if unchanged since (returns whether it deleted). */
  delete(key: string, prevRevision?: number): Promise<boolean>;
  list(prefix: string): Promise<KvEntry[]>;
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Watches a prefix: `onEvent` gets every change after `fromRevision` (or from now). `onReset`
   * runs when the watch had to be re-established and events may have been missed: re-list.
   */
  watch(prefix: string, onEvent: (ev: KvEvent) => void, opts?: { onReset?: () => void }): Promise<KvWatch>;
  /** A lease kept alive by this store until revoked or the store is closed. */
  lease(ttlSeconds: number): Promise<KvLease>;
  close(): Promise<void>;
}

/** The cluster store cannot be reached (every member down, timeout): operations fail, local work goes on. */
export class ClusterStoreUnavailableError extends SkiffError {
  override readonly status = 503;
}

/** What a daemon that is part of a cluster knows: the store and the address peers reach it on. */
export interface Cluster {
  store: ClusterStore;
  /** `cluster-advertise` resolved to an IP address of this host. */
  advertise: string;
}

/** A network of a global-scope driver as every host must show it (`docker network ls` anywhere). */
export interface GlobalNetwork {
  id: string;
  name: string;
  driver: string;
  /** RFC 3339. */
  created: string;
  internal: boolean;
  ipv6: boolean;
  attachable: boolean;
  options: Record<string, string>;
  labels: Record<string, string>;
  ipamConfig: { Subnet?: string; Gateway?: string; IPRange?: string }[];
  state: Record<string, string>;
}
