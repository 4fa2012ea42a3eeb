import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConflictError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import { atomicWriteFile } from './fs.js';
import { SnapshotStore } from './snapshot-store.js';

async function dir(t: import('ava').ExecutionContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'skiff-store-'));
  t.teardown(() => rm(d, { recursive: true, force: true }));
  return d;
}

test('a failed build records nothing and frees the key', async (t) => {
  const d = await dir(t);
  const s = await SnapshotStore.open(d);
  await t.throwsAsync(
    s.create('k', { kind: 'active' }, async () => {
      throw new Error('disk full');
    }),
    { message: 'disk full' },
  );
  t.is(s.get('k'), undefined);
  t.deepEqual(await readdir(d), []);
  await s.create('k', { kind: 'active' }, async () => {});
  t.is(s.get('k')?.kind, 'active');
});

test('in-flight children block removing their parent', async (t) => {
  const d = await dir(t);
  const s = await SnapshotStore.open(d);
  await s.create('p', { kind: 'active' }, async () => {});
  await s.commit('parent', 'p');
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const child = s.create('c', { kind: 'active', parent: 'parent' }, () => gate);
  await t.throwsAsync(s.remove('parent'), { instanceOf: ConflictError });
  await t.throwsAsync(
    s.create('c', { kind: 'active' }, async () => {}),
    { instanceOf: ConflictError },
  );
  release();
  await child;
  t.deepEqual(
    s.chain('c').map((r) => r.key),
    ['c', 'parent'],
  );
  await t.throwsAsync(s.commit('x', 'parent'), { instanceOf: InvalidParameterError });
  await t.throwsAsync(s.remove('zzz'), { instanceOf: NotFoundError });
});

test('open skips corrupt records and repairs a half-done commit', async (t) => {
  const d = await dir(t);
  const s = await SnapshotStore.open(d);
  await s.create('a', { kind: 'active' }, async () => {});
  const rec = s.require('a');
  // Simulate a crash after writing the committed record but before deleting the active one.
  await atomicWriteFile(join(d, SnapshotStore.fileName('c')), JSON.stringify({ ...rec, key: 'c', kind: 'committed' }));
  await writeFile(join(d, SnapshotStore.fileName('junk')), '{not json');
  await writeFile(join(d, '.x.json.abc.tmp'), 'partial');
  const corrupt: string[] = [];
  const s2 = await SnapshotStore.open(d, { onCorrupt: (f) => corrupt.push(f) });
  t.deepEqual(
    s2.list().map((r) => [r.key, r.kind]),
    [['c', 'committed']],
  );
  t.is(corrupt.length, 1);
  const files = await readdir(d);
  t.false(files.some((f) => f.endsWith('.tmp')));
  t.true(files.some((f) => f.endsWith('.corrupt')));
});
