import type { DatabaseSync } from 'node:sqlite';
import { ConflictError } from '../plugin-api/errors.js';
import { transaction } from '../store/database.js';
import type { ContainerRecord } from './container-types.js';

/** Container records in SQLite: one JSON document each, names unique. */
export class ContainerStore {
  constructor(private readonly db: DatabaseSync) {}

  /**
   * Inserts the record; `alsoWrite` (records that belong with it, e.g. its endpoints) commits in
   * the same transaction: one fsync on the event loop instead of several, and all or nothing.
   */
  insert(c: ContainerRecord, alsoWrite?: () => void): void {
    try {
      transaction(this.db, () => {
        this.db
          .prepare('INSERT INTO containers (id, name, driver, doc) VALUES (?, ?, ?, ?)')
          .run(c.Id, c.Name, c.Driver, JSON.stringify(c));
        alsoWrite?.();
      });
    } catch (err) {
      if (/UNIQUE constraint failed: containers.name/.test((err as Error).message)) {
        const other = this.byName(c.Name);
        throw new ConflictError(
          `Conflict. The container name "${c.Name}" is already in use by container "${other?.Id ?? ''}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      throw err;
    }
  }

  update(c: ContainerRecord): void {
    this.db.prepare('UPDATE containers SET name = ?, doc = ? WHERE id = ?').run(c.Name, JSON.stringify(c), c.Id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }

  get(id: string): ContainerRecord | undefined {
    return this.parse(this.db.prepare('SELECT doc FROM containers WHERE id = ?').get(id));
  }

  byName(name: string): ContainerRecord | undefined {
    return this.parse(this.db.prepare('SELECT doc FROM containers WHERE name = ?').get(name));
  }

  byIdPrefix(prefix: string): ContainerRecord[] {
    const rows = this.db.prepare('SELECT doc FROM containers WHERE substr(id, 1, ?) = ?').all(prefix.length, prefix);
    return rows.flatMap((r) => this.parse(r) ?? []);
  }

  /** Every readable record; a corrupt row is skipped, never fatal. */
  list(): ContainerRecord[] {
    return this.db
      .prepare('SELECT doc FROM containers')
      .all()
      .flatMap((r) => this.parse(r) ?? []);
  }

  /** The containers with legacy links (`HostConfig.Links`), found by SQLite without parsing the others. */
  withLinks(): ContainerRecord[] {
    return this.db
      .prepare("SELECT doc FROM containers WHERE json_array_length(doc, '$.HostConfig.Links') > 0")
      .all()
      .flatMap((r) => this.parse(r) ?? []);
  }

  private parse(row: unknown): ContainerRecord | undefined {
    if (!row) return undefined;
    try {
      return JSON.parse((row as { doc: string }).doc) as ContainerRecord;
    } catch {
      return undefined;
    }
  }
}
