import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { transaction } from '../store/database.js';
import type { MountPoint } from './mount-types.js';

/** What the core keeps about a volume beside its driver's own state. */
export interface VolumeRecord {
  name: string;
  driver: string;
  createdAt: string;
  /** null when the creator gave none (Docker shows `null` then). */
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  /** Created for a container (image VOLUME, `-v /path`), not by name. */
  anonymous: boolean;
}

/** Volume records and container mount points in SQLite. */
export class VolumeStore {
  private readonly q: Record<string, StatementSync>;

  constructor(private readonly db: DatabaseSync) {
    this.q = {
      get: db.prepare('SELECT doc FROM volumes WHERE name = ?'),
      list: db.prepare('SELECT doc FROM volumes ORDER BY name'),
      insert: db.prepare('INSERT INTO volumes (name, driver, doc) VALUES (?, ?, ?)'),
      del: db.prepare('DELETE FROM volumes WHERE name = ?'),
      users: db.prepare('SELECT container_id FROM volume_users WHERE volume = ? ORDER BY container_id'),
      allUsers: db.prepare('SELECT volume, COUNT(*) AS n FROM volume_users GROUP BY volume'),
      mounts: db.prepare('SELECT doc FROM container_mounts WHERE container_id = ?'),
      mountOwners: db.prepare('SELECT container_id FROM container_mounts'),
      putMounts: db.prepare('INSERT OR REPLACE INTO container_mounts (container_id, doc) VALUES (?, ?)'),
      delMounts: db.prepare('DELETE FROM container_mounts WHERE container_id = ?'),
      addUser: db.prepare('INSERT OR IGNORE INTO volume_users (volume, container_id) VALUES (?, ?)'),
      delUsers: db.prepare('DELETE FROM volume_users WHERE container_id = ?'),
    };
  }

  get(name: string): VolumeRecord | undefined {
    const row = this.q.get!.get(name) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as VolumeRecord) : undefined;
  }

  list(): VolumeRecord[] {
    return (this.q.list!.all() as Array<{ doc: string }>).map((r) => JSON.parse(r.doc) as VolumeRecord);
  }

  insert(v: VolumeRecord): void {
    this.q.insert!.run(v.name, v.driver, JSON.stringify(v));
  }

  delete(name: string): void {
    this.q.del!.run(name);
  }

  /** IDs of the containers whose mount points use `name`. */
  users(name: string): string[] {
    return (this.q.users!.all(name) as Array<{ container_id: string }>).map((r) => r.container_id);
  }

  /** Number of containers using each volume that has any. */
  userCounts(): Map<string, number> {
    const rows = this.q.allUsers!.all() as Array<{ volume: string; n: number }>;
    return new Map(rows.map((r) => [r.volume, Number(r.n)]));
  }

  mountsOf(containerId: string): MountPoint[] {
    const row = this.q.mounts!.get(containerId) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as MountPoint[]) : [];
  }

  containersWithMounts(): string[] {
    return (this.q.mountOwners!.all() as Array<{ container_id: string }>).map((r) => r.container_id);
  }

  setMounts(containerId: string, mounts: MountPoint[]): void {
    if (mounts.length === 0) return this.forgetMounts(containerId);
    transaction(this.db, () => {
      this.q.putMounts!.run(containerId, JSON.stringify(mounts));
      this.q.delUsers!.run(containerId);
      for (const m of mounts) if (m.Type === 'volume' && m.Name) this.q.addUser!.run(m.Name, containerId);
    });
  }

  forgetMounts(containerId: string): void {
    transaction(this.db, () => {
      this.q.delMounts!.run(containerId);
      this.q.delUsers!.run(containerId);
    });
  }
}
