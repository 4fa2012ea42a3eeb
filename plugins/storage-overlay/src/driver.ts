import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { diskUsage, type SnapshotRecord, SnapshotStore } from '@skiff/core/host';
import {
  type GraphDriver,
  type GraphDriverCapabilities,
  InvalidParameterError,
  type Labels,
  type Mount,
  type SnapshotInfo,
  SnapshotLabels,
} from '@skiff/core/plugin-api';
import { MAX_LAYERS, overlayMounts, shortId } from './layout.js';

/** statfs(2) magic numbers of the filesystems overlay sits on, by dockerd's names. */
const FS_NAMES: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0x65735546: 'fuse',
};

/** Pin features that would make a committed upper depend on more than its own lower chain. */
function defaultOverlayOptions(): string[] {
  const opts: string[] = [];
  for (const feature of ['index', 'metacopy']) {
    if (existsSync(`/sys/module/overlay/parameters/${feature}`)) opts.push(`${feature}=off`);
  }
  return opts;
}

/** overlayfs learned the `volatile` mount option in Linux 5.10. */
const VOLATILE_SUPPORTED = (() => {
  const [major = 0, minor = 0] = release()
    .split('.')
    .map((n) => Number.parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 10);
})();

/**
 * overlayfs graph driver. Each snapshot is `s/<id>/{fs,work}`; a committed snapshot's `fs` is
 * the upper dir it was unpacked into, and becomes a lowerdir of its children. Lowerdirs are named
 * through short links `l/<id>` -> `../s/<id>/fs` (as moby's overlay2 does), so that once made
 * relative to `l/` each costs 11 bytes of the one-page option string. Metadata lives in `meta/`
 * (one atomic record per snapshot).
 *
 * Layers are written straight into their `fs` dir (`prepareDiff`), with deletions in overlay's own
 * form (0:0 character devices, `trusted.overlay.opaque`), so image layers need no mount at all.
 */
export class OverlayDriver implements GraphDriver {
  readonly name = 'overlay';
  private storeP: Promise<SnapshotStore> | undefined;
  private readonly extraOptions = defaultOverlayOptions();

  constructor(
    private readonly root: string,
    private readonly onCorrupt?: (file: string, err: unknown) => void,
  ) {}

  capabilities(): GraphDriverCapabilities {
    return { maxLayers: MAX_LAYERS, copyOnWrite: true, diffDirs: 'overlay' };
  }

  /** dockerd's overlay2 lines of `docker info`: diffs come from the upper dirs, no user xattrs (root). */
  async status(): Promise<Array<[string, string]>> {
    const { type } = await statfs(this.root);
    return [
      ['Backing Filesystem', FS_NAMES[type] ?? '<unknown>'],
      ['Supports d_type', 'true'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ];
  }

  private store(): Promise<SnapshotStore> {
    this.storeP ??= this.open();
    return this.storeP;
  }

  private async open(): Promise<SnapshotStore> {
    await mkdir(join(this.root, 's'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.root, 'l'), { recursive: true, mode: 0o700 });
    const store = await SnapshotStore.open(join(this.root, 'meta'), {
      newId: shortId,
      ...(this.onCorrupt ? { onCorrupt: this.onCorrupt } : {}),
    });
    const live = store.ids();
    for (const id of await readdir(join(this.root, 's'))) {
      if (!live.has(id)) await rm(this.dirOf(id), { recursive: true, force: true });
    }
    for (const id of await readdir(join(this.root, 'l'))) {
      if (!live.has(id)) await rm(this.linkOf(id), { force: true });
    }
    // A crash between making a snapshot's dirs and its link leaves the link missing.
    for (const rec of store.list()) {
      if (rec.kind !== 'view') this.link(rec.id);
    }
    return store;
  }

  private dirOf(id: string): string {
    return join(this.root, 's', id);
  }

  private linkOf(id: string): string {
    return join(this.root, 'l', id);
  }

  private link(id: string): void {
    try {
      symlinkSync(`../s/${id}/fs`, this.linkOf(id));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }

  private mountsFor(store: SnapshotStore, rec: SnapshotRecord): Mount[] {
    if (rec.kind === 'committed') {
      throw new InvalidParameterError(`snapshot ${rec.key} is committed; only active snapshots and views have mounts`);
    }
    const lowers = rec.parent === undefined ? [] : store.chain(rec.parent).map((r) => this.linkOf(r.id));
    const dir = this.dirOf(rec.id);
    // An unpack snapshot's upper is written once and committed, a `--rm` container's is thrown
    // away: `volatile` spares the unmount its syncfs of the upper's whole filesystem (about 50 ms per
    // 16 MiB layer here, tens of ms for an idle container while others write); dockerd never syncs
    // layers either.
    const labels = rec.labels;
    const volatile =
      rec.kind === 'active' &&
      VOLATILE_SUPPORTED &&
      (labels[SnapshotLabels.Unpack] === 'true' || labels[SnapshotLabels.Volatile] === 'true');
    return overlayMounts({
      lowers,
      extraOptions: volatile ? [...this.extraOptions, 'volatile'] : this.extraOptions,
      ...(rec.kind === 'active' ? { upper: { fs: join(dir, 'fs'), work: join(dir, 'work') } } : {}),
    });
  }

  async prepare(key: string, parent?: string, opts: { labels?: Labels } = {}): Promise<Mount[]> {
    const store = await this.store();
    return store.create(key, { kind: 'active', parent, labels: opts.labels }, async (rec) => {
      // Check the stack fits before touching the disk.
      const mounts = this.mountsFor(store, rec);
      this.makeDirs(rec.id);
      return mounts;
    });
  }

  async prepareDiff(key: string, opts: { labels?: Labels } = {}): Promise<string> {
    const store = await this.store();
    return store.create(key, { kind: 'active', labels: opts.labels }, async (rec) => {
      this.makeDirs(rec.id);
      return join(this.dirOf(rec.id), 'fs');
    });
  }

  /** Synchronously: four directory entries, on every container create's critical path. */
  private makeDirs(id: string): void {
    const dir = this.dirOf(id);
    try {
      mkdirSync(dir, { mode: 0o700 });
      mkdirSync(join(dir, 'fs'), { mode: 0o755 });
      mkdirSync(join(dir, 'work'), { mode: 0o700 });
      this.link(id);
    } catch (e) {
      rmSync(this.linkOf(id), { force: true });
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  async view(key: string, parent: string, opts: { labels?: Labels } = {}): Promise<Mount[]> {
    const store = await this.store();
    return store.create(key, { kind: 'view', parent, labels: opts.labels }, async (rec) => this.mountsFor(store, rec));
  }

  async mounts(key: string): Promise<Mount[]> {
    const store = await this.store();
    return this.mountsFor(store, store.require(key));
  }

  async commit(name: string, key: string, opts: { labels?: Labels; parent?: string } = {}): Promise<void> {
    const store = await this.store();
    // A layer the container's upper must still fit on: fail at unpack, not at the first start.
    if (opts.parent !== undefined && store.chain(opts.parent).length >= MAX_LAYERS) {
      throw new InvalidParameterError(`snapshot would stack more than ${MAX_LAYERS} layers`);
    }
    await store.commit(name, key, opts.labels, opts.parent);
  }

  async remove(key: string): Promise<void> {
    const store = await this.store();
    const rec = await store.remove(key);
    if (rec.kind !== 'view') {
      await rm(this.linkOf(rec.id), { force: true });
      await rm(this.dirOf(rec.id), { recursive: true, force: true });
    }
  }

  async stat(key: string): Promise<SnapshotInfo> {
    const store = await this.store();
    return SnapshotStore.info(store.require(key));
  }

  async list(): Promise<SnapshotInfo[]> {
    const store = await this.store();
    return store.list().map((r) => SnapshotStore.info(r));
  }

  async usage(key: string): Promise<{ size: number; inodes: number }> {
    const store = await this.store();
    const rec = store.require(key);
    if (rec.kind === 'view') return { size: 0, inodes: 0 };
    return diskUsage(join(this.dirOf(rec.id), 'fs'));
  }

  async close(): Promise<void> {
    await this.storeP?.catch(() => {});
  }
}
