import type { DatabaseSync } from 'node:sqlite';
import { transaction } from '../store/database.js';
import type { ImageRecord } from './image-types.js';

export interface ImageRefRow {
  ref: string;
  imageId: string;
  kind: 'tag' | 'digest';
}

/** Image records and their names (tags and digests), for one storage driver. */
export class ImageStore {
  constructor(
    private readonly db: DatabaseSync,
    private readonly driver: string,
  ) {}

  get(id: string): ImageRecord | undefined {
    const row = this.db.prepare('SELECT doc FROM images WHERE driver = ? AND id = ?').get(this.driver, id) as
      { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as ImageRecord) : undefined;
  }

  /** Images whose ID starts with `hexPrefix` (without `sha256:`). */
  byIdPrefix(hexPrefix: string): ImageRecord[] {
    const rows = this.db
      .prepare('SELECT doc FROM images WHERE driver = ? AND substr(id, 8, ?) = ?')
      .all(this.driver, hexPrefix.length, hexPrefix) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as ImageRecord);
  }

  list(): ImageRecord[] {
    const rows = this.db.prepare('SELECT doc FROM images WHERE driver = ? ORDER BY created DESC').all(this.driver) as {
      doc: string;
    }[];
    return rows.map((r) => JSON.parse(r.doc) as ImageRecord);
  }

  /** IDs of the images whose parent is `id`. */
  children(id: string, all: readonly ImageRecord[] = this.list()): string[] {
    return all.filter((i) => i.parent === id).map((i) => i.id);
  }

  /** Stores the image and points `refs` at it (moving them from any other image). */
  put(image: ImageRecord, refs: { ref: string; kind: 'tag' | 'digest' }[]): void {
    transaction(this.db, () => {
      this.db
        .prepare('INSERT OR REPLACE INTO images (id, driver, doc, created) VALUES (?, ?, ?, ?)')
        .run(image.id, this.driver, JSON.stringify(image), image.created);
      const up = this.db.prepare('INSERT OR REPLACE INTO image_refs (ref, driver, image_id, kind) VALUES (?, ?, ?, ?)');
      for (const r of refs) up.run(r.ref, this.driver, image.id, r.kind);
    });
  }

  resolveRef(ref: string): string | undefined {
    const row = this.db
      .prepare('SELECT image_id FROM image_refs WHERE driver = ? AND ref = ?')
      .get(this.driver, ref) as { image_id: string } | undefined;
    return row?.image_id;
  }

  refsOf(imageId: string): ImageRefRow[] {
    const rows = this.db
      .prepare('SELECT ref, image_id, kind FROM image_refs WHERE driver = ? AND image_id = ? ORDER BY ref')
      .all(this.driver, imageId) as { ref: string; image_id: string; kind: 'tag' | 'digest' }[];
    return rows.map((r) => ({ ref: r.ref, imageId: r.image_id, kind: r.kind }));
  }

  /** Every name of every image. */
  allRefs(): ImageRefRow[] {
    const rows = this.db
      .prepare('SELECT ref, image_id, kind FROM image_refs WHERE driver = ? ORDER BY ref')
      .all(this.driver) as { ref: string; image_id: string; kind: 'tag' | 'digest' }[];
    return rows.map((r) => ({ ref: r.ref, imageId: r.image_id, kind: r.kind }));
  }

  /** Points `ref` at `imageId`, moving it from any other image. */
  putRef(ref: string, imageId: string, kind: 'tag' | 'digest'): void {
    this.db
      .prepare('INSERT OR REPLACE INTO image_refs (ref, driver, image_id, kind) VALUES (?, ?, ?, ?)')
      .run(ref, this.driver, imageId, kind);
  }

  removeRef(ref: string): void {
    this.db.prepare('DELETE FROM image_refs WHERE driver = ? AND ref = ?').run(this.driver, ref);
  }

  remove(imageId: string): void {
    transaction(this.db, () => {
      this.db.prepare('DELETE FROM image_refs WHERE driver = ? AND image_id = ?').run(this.driver, imageId);
      this.db.prepare('DELETE FROM images WHERE driver = ? AND id = ?').run(this.driver, imageId);
    });
  }

  hasLayer(chainId: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM layers WHERE driver = ? AND chain_id = ?').get(this.driver, chainId);
  }

  putLayer(chainId: string, diffId: string, parent: string | undefined, size: number): void {
    this.db
      .prepare('INSERT OR REPLACE INTO layers (chain_id, driver, diff_id, parent, size) VALUES (?, ?, ?, ?, ?)')
      .run(chainId, this.driver, diffId, parent ?? null, size);
  }

  removeLayer(chainId: string): void {
    this.db.prepare('DELETE FROM layers WHERE driver = ? AND chain_id = ?').run(this.driver, chainId);
  }

  layerSize(chainId: string): number | undefined {
    const row = this.db
      .prepare('SELECT size FROM layers WHERE driver = ? AND chain_id = ?')
      .get(this.driver, chainId) as { size: number } | undefined;
    return row?.size;
  }
}
