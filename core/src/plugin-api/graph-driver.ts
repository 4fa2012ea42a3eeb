import type { Mount } from './mount.js';

export type Labels = Record<string, string>;

/** Labels the core puts on snapshots; drivers may act on them. */
export const SnapshotLabels = {
  /**
   * The active snapshot only receives one layer from the image unpacker, then is committed or
   * removed; after a crash the core removes it (it never becomes a container's rootfs). A driver
   * may trade the durability of its writes for speed here, as dockerd's graph drivers do.
   */
  Unpack: 'skiff.snapshot/unpack',
  /**
   * The active snapshot is the rootfs of a container that is removed when it stops (`--rm`): its
   * writes need not survive a crash of the host, which the container would not survive either. A
   * driver may skip syncing them (podman mounts such containers' overlays `volatile` too).
   */
  Volatile: 'skiff.snapshot/volatile',
} as const;
export type SnapshotKind = 'active' | 'committed' | 'view';

export interface SnapshotInfo {
  key: string;
  kind: SnapshotKind;
  parent?: string;
  labels: Labels;
  created: Date;
}

export interface GraphDriverCapabilities {
  /** How many committed layers one snapshot may stack; the core refuses deeper images. */
  maxLayers: number;
  /** Snapshots share unchanged files with their parents (copy-on-write), so usage excludes parents. */
  copyOnWrite: boolean;
  /**
   * The driver stores each layer as a plain directory of its own changes and implements
   * `prepareDiff`: the core may then write a layer before its parent is committed (layers of one
   * pull unpack in parallel) and without mounting anything. The value names the on-disk form of
   * deletions the driver expects; `overlay`: a deleted name is a 0:0 character device, an opaque
   * directory carries the xattr `trusted.overlay.opaque=y`.
   */
  diffDirs?: 'overlay';
}

/**
 * A graph driver manages snapshots: a committed snapshot is an image layer, an active one is
 * writable (a layer being unpacked, or a container's rootfs). It returns mounts and never
 * mounts anything in the host's view of the world itself; the core or runtime performs them.
 * Diffs are applied by the core onto the mounted active snapshot, so whiteouts are made by the
 * kernel (overlay) or by plain deletes (vfs) — or, for drivers with `diffDirs`, written by the core
 * into the layer's own directory in the form the driver declares.
 */
export interface GraphDriver {
  readonly name: string;
  capabilities(): GraphDriverCapabilities;
  /** Creates an active snapshot `key` on top of committed `parent`. ConflictError if `key` exists. */
  prepare(key: string, parent?: string, opts?: { labels?: Labels }): Promise<Mount[]>;
  /** A read-only active snapshot of `parent`. */
  view(key: string, parent: string, opts?: { labels?: Labels }): Promise<Mount[]>;
  /** The mounts of an existing active or view snapshot. NotFoundError if absent. */
  mounts(key: string): Promise<Mount[]>;
  /**
   * Only with `capabilities().diffDirs`: an empty active snapshot that has no parent yet, as the
   * directory the core writes one layer's changes into (deletions in the declared form). It is
   * never mounted; `commit` with `parent` puts it on its parent.
   */
  prepareDiff?(key: string, opts?: { labels?: Labels }): Promise<string>;
  /**
   * Turns active snapshot `key` into committed snapshot `name`; `key` is gone afterwards. `parent`
   * (a committed snapshot) is only for snapshots made by `prepareDiff`.
   */
  commit(name: string, key: string, opts?: { labels?: Labels; parent?: string }): Promise<void>;
  /** Removes a snapshot. ConflictError while it has children; NotFoundError if absent. */
  remove(key: string): Promise<void>;
  stat(key: string): Promise<SnapshotInfo>;
  list(): Promise<SnapshotInfo[]>;
  /** Bytes and inodes this snapshot adds on top of its parent (or in all, if not copy-on-write). */
  usage(key: string): Promise<{ size: number; inodes: number }>;
  /** What `docker info` lists under the driver (`DriverStatus`), e.g. `["Backing Filesystem", "extfs"]`. */
  status?(): Promise<Array<[string, string]>>;
  close(): Promise<void>;
}
