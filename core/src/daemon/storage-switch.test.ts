import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../store/database.js';
import { chooseStorageDriver, StorageSwitchError, storageDriverData } from './storage-switch.js';

const base = { available: ['overlay', 'vfs'], preference: ['overlay', 'vfs'], allowSwitch: false };

test('without data: the configured driver, else the first available of the preference', (t) => {
  t.is(chooseStorageDriver({ ...base, configured: undefined, data: [] }), 'overlay');
  t.is(chooseStorageDriver({ ...base, configured: 'vfs', data: [] }), 'vfs');
  t.is(chooseStorageDriver({ ...base, configured: undefined, available: ['vfs'], data: [] }), 'vfs');
  t.is(chooseStorageDriver({ ...base, configured: undefined, available: [], data: [] }), undefined);
  // A driver whose rows are all gone holds nothing.
  t.is(
    chooseStorageDriver({ ...base, configured: 'vfs', data: [{ driver: 'overlay', images: 0, containers: 0 }] }),
    'vfs',
  );
});

test('unset: the driver that holds the data root is kept (dockerd picks the prior driver)', (t) => {
  const data = [{ driver: 'vfs', images: 2, containers: 0 }];
  t.is(chooseStorageDriver({ ...base, configured: undefined, data }), 'vfs');
  t.is(chooseStorageDriver({ ...base, configured: 'vfs', data }), 'vfs');
});

test('another driver than the holder is refused, saying how to go on, unless the switch is allowed', (t) => {
  const data = [{ driver: 'overlay', images: 3, containers: 1 }];
  const err = t.throws(() => chooseStorageDriver({ ...base, configured: 'vfs', data }), {
    instanceOf: StorageSwitchError,
  });
  t.regex(
    err.message,
    /^storage driver "vfs" cannot take over: this data root holds 3 images and 1 container of storage driver "overlay"\./,
  );
  t.regex(err.message, /"storage-driver": "overlay"/);
  t.regex(err.message, /"allow-storage-driver-switch": true/);
  t.is(chooseStorageDriver({ ...base, configured: 'vfs', data, allowSwitch: true }), 'vfs');
  // The holder's plugin is gone and nothing is configured: refused too, naming the holder.
  const gone = [{ driver: 'zfs', images: 1, containers: 0 }];
  t.throws(() => chooseStorageDriver({ ...base, configured: undefined, data: gone }), {
    message: /1 image of storage driver "zfs"/,
  });
});

test('storageDriverData counts images and containers per driver', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-switch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const db = openDatabase(join(dir, 'skiff.db'));
  t.teardown(() => db.close());
  t.deepEqual(storageDriverData(db), []);
  const img = db.prepare('INSERT INTO images (id, driver, doc, created) VALUES (?, ?, ?, ?)');
  img.run('sha256:a', 'overlay', '{}', '2026-01-01T00:00:00Z');
  img.run('sha256:b', 'overlay', '{}', '2026-01-01T00:00:00Z');
  img.run('sha256:a', 'vfs', '{}', '2026-01-01T00:00:00Z');
  db.prepare('INSERT INTO containers (id, name, driver, doc) VALUES (?, ?, ?, ?)').run('c1', '/c1', 'vfs', '{}');
  const byDriver = Object.fromEntries(storageDriverData(db).map((d) => [d.driver, d]));
  t.deepEqual(byDriver, {
    overlay: { driver: 'overlay', images: 2, containers: 0 },
    vfs: { driver: 'vfs', images: 1, containers: 1 },
  });
});
