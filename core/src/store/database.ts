import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** Ordered schema migrations; index + 1 is the schema version (PRAGMA user_version). */
const MIGRATIONS: string[] = [
  `CREATE TABLE images (
     id TEXT NOT NULL,
     driver TEXT NOT NULL,
     doc TEXT NOT NULL,
     created TEXT NOT NULL,
     PRIMARY KEY (driver, id)
   );
   CREATE TABLE image_refs (
     ref TEXT NOT NULL,
     driver TEXT NOT NULL,
     image_id TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
     PRIMARY KEY (driver, ref)
   );
   CREATE INDEX image_refs_by_image ON image_refs (driver, image_id);
   CREATE TABLE layers (
     chain_id TEXT NOT NULL,
     driver TEXT NOT NULL,
     diff_id TEXT NOT NULL,
     parent TEXT,
     size INTEGER NOT NULL,
     PRIMARY KEY (driver, chain_id)
   );
   CREATE TABLE containers (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     driver TEXT NOT NULL,
     doc TEXT NOT NULL
   );`,
  // Networks, the default IPAM's pools and addresses, and each container's network attachments.
  `CREATE TABLE networks (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     doc TEXT NOT NULL
   );
   CREATE TABLE ipam_pools (
     id TEXT PRIMARY KEY,
     subnet TEXT NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE TABLE ipam_addresses (
     pool_id TEXT NOT NULL REFERENCES ipam_pools (id) ON DELETE CASCADE,
     address TEXT NOT NULL,
     PRIMARY KEY (pool_id, address)
   );
   CREATE TABLE endpoints (
     container_id TEXT NOT NULL,
     network_id TEXT NOT NULL,
     doc TEXT NOT NULL,
     PRIMARY KEY (container_id, network_id)
   );
   CREATE INDEX endpoints_by_network ON endpoints (network_id);`,
  // Volumes, and the mount points of each container (volume_users says which containers use a volume).
  `CREATE TABLE volumes (
     name TEXT PRIMARY KEY,
     driver TEXT NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE TABLE container_mounts (
     container_id TEXT PRIMARY KEY,
     doc TEXT NOT NULL
   );
   CREATE TABLE volume_users (
     volume TEXT NOT NULL,
     container_id TEXT NOT NULL,
     PRIMARY KEY (volume, container_id)
   );`,
  // The classic builder's cache: (parent image, canonical instruction) → the image that step made.
  `CREATE TABLE build_cache (
     driver TEXT NOT NULL,
     key TEXT NOT NULL,
     image_id TEXT NOT NULL,
     created TEXT NOT NULL,
     PRIMARY KEY (driver, key)
   );`,
];

/** Opens (creating if needed) the metadata database: WAL, synchronous=FULL, migrated. */
export function openDatabase(file: string): DatabaseSync {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(file);
  db.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;',
  );
  const { user_version: current } = db.prepare('PRAGMA user_version').get() as { user_version: number };
  if (current > MIGRATIONS.length) {
    db.close();
    throw new Error(
      `metadata database ${file} has schema version ${current}, newer than this skiffd (${MIGRATIONS.length})`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN');
    try {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
  return db;
}

/** Runs `fn` in a transaction. */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}
