import { createHash } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';

/**
 * The classic builder's step cache: the image a step produced, keyed like dockerd's (parent image
 * ID + the step's canonical form, which for COPY/ADD holds the sources' content checksum). Kept in
 * SQLite so it survives restarts; a hit only counts while its image still exists.
 */
export class BuildCache {
  private readonly select: StatementSync;
  private readonly drop: StatementSync;
  private readonly insert: StatementSync;

  constructor(
    private readonly db: DatabaseSync,
    private readonly driver: string,
  ) {
    this.select = db.prepare('SELECT image_id FROM build_cache WHERE driver = ? AND key = ?');
    this.drop = db.prepare('DELETE FROM build_cache WHERE driver = ? AND key = ?');
    this.insert = db.prepare('INSERT OR REPLACE INTO build_cache (driver, key, image_id, created) VALUES (?, ?, ?, ?)');
  }

  static key(parentId: string, canonical: string): string {
    return createHash('sha256').update(`${parentId}\n${canonical}`).digest('hex');
  }

  /**
   * The cached image of `key`, as `load` gives it for the stored image ID; a row whose image is
   * gone (`load` gives undefined) is dropped.
   */
  lookup<T>(key: string, load: (imageId: string) => T | undefined): T | undefined {
    const row = this.select.get(this.driver, key) as { image_id: string } | undefined;
    if (!row) return undefined;
    const found = load(row.image_id);
    if (found === undefined) this.drop.run(this.driver, key);
    return found;
  }

  store(key: string, imageId: string): void {
    this.insert.run(this.driver, key, imageId, new Date().toISOString());
  }

  /** Forgets every entry; returns the image IDs they pointed at. */
  prune(): string[] {
    const rows = this.db.prepare('SELECT DISTINCT image_id FROM build_cache WHERE driver = ?').all(this.driver) as {
      image_id: string;
    }[];
    this.db.prepare('DELETE FROM build_cache WHERE driver = ?').run(this.driver);
    return rows.map((r) => r.image_id);
  }
}
