import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import test from 'ava';
import { ConflictError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import { FileContentStore } from './content-store.js';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function newStore(t: { teardown(fn: () => Promise<void>): void }): Promise<FileContentStore> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-content-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return new FileContentStore(root);
}

async function ingestDirs(store: FileContentStore): Promise<string[]> {
  return readdir(join(store.root, 'ingest')).catch(() => []);
}

test('write, commit and read back a blob', async (t) => {
  const store = await newStore(t);
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const digest = sha(data);
  t.false(await store.has(digest));
  const w = await store.writer('layer-1', { digest, size: data.length });
  t.is(w.offset, 0);
  await w.write(data.subarray(0, 1000));
  await w.write(data.subarray(1000));
  t.is(w.offset, data.length);
  await w.commit(data.length, digest);

  t.true(await store.has(digest));
  t.deepEqual(await store.info(digest), { digest, size: data.length });
  t.true((await store.readBytes(digest)).equals(data));
  t.true((await buffer(await store.read(digest))).equals(data));
  t.is(store.path(digest), join(store.root, 'blobs', 'sha256', digest.slice(7)));
  t.is((await stat(store.path(digest))).mode & 0o777, 0o444);
  t.deepEqual(await store.list(), [{ digest, size: data.length }]);
  t.deepEqual(await ingestDirs(store), []);

  await store.delete(digest);
  t.false(await store.has(digest));
  t.deepEqual(await store.list(), []);
});

test('writes are serialised even when not awaited', async (t) => {
  const store = await newStore(t);
  const parts = Array.from({ length: 50 }, () => randomBytes(1000));
  const data = Buffer.concat(parts);
  const w = await store.writer('serial');
  await Promise.all(parts.map((p) => w.write(p)));
  await w.commit(data.length, sha(data));
  t.true((await store.readBytes(sha(data))).equals(data));
});

test('an ingest is resumed by ref with a consistent hash', async (t) => {
  const store = await newStore(t);
  const data = randomBytes(2 * 1024 * 1024 + 5);
  const digest = sha(data);
  const w1 = await store.writer('resume-me', { digest, size: data.length });
  await w1.write(data.subarray(0, 1_500_000));
  await w1.close();
  t.deepEqual(
    (await store.ingests()).map((i) => ({ ref: i.ref, offset: i.offset })),
    [{ ref: 'resume-me', offset: 1_500_000 }],
  );

  // A fresh store object on the same root, as after a daemon restart.
  const again = new FileContentStore(store.root);
  const w2 = await again.writer('resume-me', { digest, size: data.length });
  t.is(w2.offset, 1_500_000);
  await w2.write(data.subarray(w2.offset));
  await w2.commit(data.length, digest);
  t.true((await again.readBytes(digest)).equals(data));
  t.deepEqual(await again.ingests(), []);
});

test('an ingest longer than the expected size is restarted', async (t) => {
  const store = await newStore(t);
  const data = randomBytes(100);
  const w1 = await store.writer('too-long');
  await w1.write(randomBytes(150));
  await w1.close();
  const w2 = await store.writer('too-long', { digest: sha(data), size: data.length });
  t.is(w2.offset, 0);
  await w2.write(data);
  await w2.commit(100, sha(data));
  t.true(await store.has(sha(data)));
});

test('size mismatch at commit is rejected and the data deleted', async (t) => {
  const store = await newStore(t);
  const data = randomBytes(64);
  const w = await store.writer('short');
  await w.write(data);
  const err = await t.throwsAsync(w.commit(65, sha(data)), { instanceOf: InvalidParameterError });
  t.is(err?.message, 'unexpected commit size 64, expected 65');
  t.false(await store.has(sha(data)));
  t.deepEqual(await ingestDirs(store), []);
  const again = await store.writer('short');
  t.is(again.offset, 0);
  await again.abort();
});

test('digest mismatch at commit is rejected and the data deleted', async (t) => {
  const store = await newStore(t);
  const data = randomBytes(64);
  const claimed = sha(Buffer.from('something else'));
  const w = await store.writer('liar');
  await w.write(data);
  const err = await t.throwsAsync(w.commit(64, claimed), { instanceOf: InvalidParameterError });
  t.is(err?.message, `unexpected commit digest ${sha(data)}, expected ${claimed}`);
  t.false(await store.has(claimed));
  t.false(await store.has(sha(data)));
  t.deepEqual(await ingestDirs(store), []);
});

test('writing past the expected size is refused before it reaches the disk', async (t) => {
  const store = await newStore(t);
  const w = await store.writer('bounded', { digest: sha(Buffer.alloc(10)), size: 10 });
  await w.write(Buffer.alloc(8));
  await t.throwsAsync(w.write(Buffer.alloc(3)), {
    instanceOf: InvalidParameterError,
    message: /exceed the expected size 10/,
  });
  t.is(w.offset, 8);
  await w.write(Buffer.alloc(2));
  await w.commit(10, sha(Buffer.alloc(10)));
});

test('a ref is locked while a writer holds it', async (t) => {
  const store = await newStore(t);
  const w = await store.writer('busy');
  await t.throwsAsync(store.writer('busy'), { instanceOf: ConflictError, message: /locked/ });
  await t.throwsAsync(store.abortIngest('busy'), { instanceOf: ConflictError });
  await w.write(Buffer.from('x'));
  await w.close();
  const w2 = await store.writer('busy');
  t.is(w2.offset, 1);
  await w2.abort();
  t.deepEqual(await ingestDirs(store), []);
  const w3 = await store.writer('busy');
  t.is(w3.offset, 0);
  await w3.abort();
});

test('a writer cannot be used after commit, abort or close', async (t) => {
  const store = await newStore(t);
  const data = Buffer.from('hello');
  const w = await store.writer('once');
  await w.write(data);
  await w.commit(undefined, sha(data));
  await t.throwsAsync(w.write(data), { instanceOf: ConflictError });
  await t.throwsAsync(w.commit(5, sha(data)), { instanceOf: ConflictError });
  await t.notThrowsAsync(w.abort());
  t.true(await store.has(sha(data)));
});

test('opening a writer for content already present is a conflict', async (t) => {
  const store = await newStore(t);
  const data = Buffer.from('present');
  const w = await store.writer('a');
  await w.write(data);
  await w.commit(data.length, sha(data));
  await t.throwsAsync(store.writer('b', { digest: sha(data), size: data.length }), {
    instanceOf: ConflictError,
    message: `content ${sha(data)}: already exists`,
  });
});

test('two refs committing the same content both succeed', async (t) => {
  const store = await newStore(t);
  const data = randomBytes(4096);
  const [a, b] = await Promise.all([store.writer('one'), store.writer('two')]);
  await Promise.all([a.write(data), b.write(data)]);
  await Promise.all([a.commit(data.length, sha(data)), b.commit(data.length, sha(data))]);
  t.true((await store.readBytes(sha(data))).equals(data));
  t.deepEqual(await ingestDirs(store), []);
});

test('missing blobs are NotFoundError', async (t) => {
  const store = await newStore(t);
  const d = sha(Buffer.from('absent'));
  await t.throwsAsync(store.info(d), { instanceOf: NotFoundError, message: `content digest ${d}: not found` });
  await t.throwsAsync(store.read(d), { instanceOf: NotFoundError });
  await t.throwsAsync(store.readBytes(d), { instanceOf: NotFoundError });
  await t.throwsAsync(store.delete(d), { instanceOf: NotFoundError });
  t.false(await store.has(d));
  t.deepEqual(await store.list(), []);
});

const badDigests = [
  '',
  'sha256:',
  'sha256:../../../etc/passwd',
  `sha256:${'A'.repeat(64)}`,
  `sha256:${'a'.repeat(63)}`,
  `sha256:${'a'.repeat(65)}`,
  `sha512:${'a'.repeat(128)}`,
  `sha256:${'a'.repeat(64)}/`,
  `sha256:${'a'.repeat(64)}\n`,
  'a'.repeat(64),
  '../blobs',
];

test('malformed digests are rejected everywhere, never used as paths', async (t) => {
  const store = await newStore(t);
  const w = await store.writer('x');
  await w.write(Buffer.from('x'));
  for (const d of badDigests) {
    const opts = { instanceOf: InvalidParameterError };
    t.throws(() => store.path(d), opts, d);
    await t.throwsAsync(store.has(d), opts, d);
    await t.throwsAsync(store.info(d), opts, d);
    await t.throwsAsync(store.read(d), opts, d);
    await t.throwsAsync(store.readBytes(d), opts, d);
    await t.throwsAsync(store.delete(d), opts, d);
    await t.throwsAsync(store.writer(`w-${d}`, { digest: d }), opts, d);
  }
  await t.throwsAsync(w.commit(1, badDigests[2]!), { instanceOf: InvalidParameterError });
  // The writer is still usable: validation happened before anything was changed.
  await w.commit(1, sha(Buffer.from('x')));
  await t.throwsAsync(store.writer(''), { instanceOf: InvalidParameterError });
  await t.throwsAsync(store.writer('y', { digest: sha(Buffer.from('y')), size: -1 }), {
    instanceOf: InvalidParameterError,
  });
});

test('list ignores stray files in the blob directory', async (t) => {
  const store = await newStore(t);
  const data = Buffer.from('real');
  const w = await store.writer('real');
  await w.write(data);
  await w.commit(4, sha(data));
  await writeFile(join(store.root, 'blobs', 'sha256', 'not-a-digest'), 'junk');
  t.deepEqual(await store.list(), [{ digest: sha(data), size: 4 }]);
});
