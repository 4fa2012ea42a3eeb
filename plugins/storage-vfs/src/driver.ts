import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { diskUsage, run, type SnapshotRecord, SnapshotStore } from '@skiff/core/host';
import {
  type GraphDriver,
  type GraphDriverCapabilities,
  InvalidParameterError,
  type Labels,
  type Mount,
  type SnapshotInfo,
} from '@skiff/core/plugin-api';

/**
 * Graph driver by plain copies: every active snapshot is a full copy of its parent's tree
 * (reflinked where the filesystem can), so it works on any filesystem and needs no mounts of
 * its own. Layout under `root`: `meta/` (one record per snapshot), `dir/<id>/` (the trees).
 */
export class VfsDriver implements GraphDriver {
  readonly name = 'vfs';
  private storeP: Promise<SnapshotStore> | undefined;

  constructor(
    private readonly root: string,
    private readonly onCorrupt?: (file: string, err: unknown) => void,
  ) {}

  capabilities(): GraphDriverCapabilities {
    // Copies have no stacking limit of their own; this only bounds pathological images.
    return { maxLayers: 1024, copyOnWrite: false };
  }

  private store(): Promise<SnapshotStore> {
    this.storeP ??= this.open();
    return this.storeP;
  }

  private async open(): Promise<SnapshotStore> {
    await mkdir(join(this.root, 'dir'), { recursive: true, mode: 0o700 });
    const store = await SnapshotStore.open(
      join(this.root, 'meta'),
      this.onCorrupt ? { onCorrupt: this.onCorrupt } : {},
    );
    // Trees whose record never got written (crash during prepare) or was already removed.
    const live = store.ids();
    for (const id of await readdir(join(this.root, 'dir'))) {
      if (!live.has(id)) await rm(this.dirOf(id), { recursive: true, force: true });
    }
    return store;
  }

  private dirOf(id: string): string {
    return join(this.root, 'dir', id);
  }

  private mountsFor(store: SnapshotStore, rec: SnapshotRecord): Mount[] {
    if (rec.kind === 'active') return [{ type: 'bind', source: this.dirOf(rec.id), options: ['rbind', 'rw'] }];
    if (rec.kind === 'view') {
      // A view never changes, so it can show the committed parent's tree itself, read-only.
      const parent = store.require(rec.parent as string);
      return [{ type: 'bind', source: this.dirOf(parent.id), options: ['rbind', 'ro'] }];
    }
    throw new InvalidParameterError(`snapshot ${rec.key} is committed; only active snapshots and views have mounts`);
  }

  async prepare(key: string, parent?: string, opts: { labels?: Labels } = {}): Promise<Mount[]> {
    const store = await this.store();
    return store.create(key, { kind: 'active', parent, labels: opts.labels }, async (rec) => {
      const dir = this.dirOf(rec.id);
      try {
        if (rec.parent === undefined) {
          await mkdir(dir, { mode: 0o755 });
        } else {
          const from = this.dirOf(store.require(rec.parent).id);
          await run('cp', ['-a', '--reflink=auto', '--', from, dir]);
        }
      } catch (e) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
      return this.mountsFor(store, rec);
    });
  }

  async view(key: string, parent: string, opts: { labels?: Labels } = {}): Promise<Mount[]> {
    const store = await this.store();
    return store.create(key, { kind: 'view', parent, labels: opts.labels }, async (rec) => this.mountsFor(store, rec));
  }

  async mounts(key: string): Promise<Mount[]> {
    const store = await this.store();
    return this.mountsFor(store, store.require(key));
  }

  async commit(name: string, key: string, opts: { labels?: Labels } = {}): Promise<void> {
    const store = await this.store();
    await store.commit(name, key, opts.labels);
  }

  async remove(key: string): Promise<void> {
    const store = await this.store();
    const rec = await store.remove(key);
    if (rec.kind !== 'view') await rm(this.dirOf(rec.id), { recursive: true, force: true });
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
    return diskUsage(this.dirOf(rec.id));
  }

  async close(): Promise<void> {
    await this.storeP?.catch(() => {});
  }
}
