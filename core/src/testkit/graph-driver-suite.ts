import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import tar from 'tar-stream';
import { unmountAll, withMounted } from '../host/mount.js';
import { run } from '../host/exec.js';
import { applyLayer } from '../images/apply-layer.js';
import { withSnapshotDiff } from '../images/layer-diff.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { GraphDriver } from '../plugin-api/graph-driver.js';
import { type LayerEntry, layerTar } from './layer.js';

/** What a tree looks like: `f:<content>`, `d`, `l:<target>` per relative path. */
export type TreeShape = Record<string, string>;

export async function readTree(dir: string): Promise<TreeShape> {
  const out: TreeShape = {};
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, r));
      if (st.isDirectory()) {
        out[r] = 'd';
        await walk(r);
      } else if (st.isSymbolicLink()) out[r] = `l:${await readlink(join(dir, r))}`;
      else if (st.isFile()) out[r] = `f:${await readFile(join(dir, r), 'utf8')}`;
      else out[r] = 'other';
    }
  }
  await walk('');
  return out;
}

let seq = 0;
function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${++seq}`;
}

/**
 * Unpacks `entries` as a new committed layer `name` on `parent`, as the image service does: into
 * a directory of its own with drivers that take those (`diffDirs`), else onto the mounted snapshot.
 */
export async function commitLayer(
  d: GraphDriver,
  name: string,
  parent: string | undefined,
  entries: readonly LayerEntry[],
): Promise<void> {
  const tmp = uniq(`extract-${name}`);
  const { diffDirs } = d.capabilities();
  if (diffDirs && d.prepareDiff) {
    const dir = await d.prepareDiff(tmp);
    await applyLayer(dir, layerTar(entries), { whiteouts: diffDirs });
    await d.commit(name, tmp, parent === undefined ? {} : { parent });
    return;
  }
  const mounts = await d.prepare(tmp, parent);
  await withMounted(mounts, (dir) => applyLayer(dir, layerTar(entries)));
  await d.commit(name, tmp);
}

/** `d|f|l|other <mode> <uid>:<gid>` (and `n<links>` for files) per relative path. */
export async function readMeta(dir: string): Promise<TreeShape> {
  const out: TreeShape = {};
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, r));
      const kind = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : 'other';
      if (kind === 'l') continue; // symlink modes and times are not portable
      out[r] = `${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}${kind === 'f' ? ` n${st.nlink}` : ''}`;
      if (kind === 'd') await walk(r);
    }
  }
  await walk('');
  return out;
}

/** The metadata of committed snapshot `parent`'s tree (see readMeta). */
export async function viewMeta(d: GraphDriver, parent: string): Promise<TreeShape> {
  const key = uniq(`meta-${parent}`);
  const mounts = await d.view(key, parent);
  try {
    return await withMounted(mounts, readMeta);
  } finally {
    await d.remove(key);
  }
}

/** The tree of committed snapshot `parent`, read through a temporary view. */
export async function viewTree(d: GraphDriver, parent: string): Promise<TreeShape> {
  const key = uniq(`view-${parent}`);
  const mounts = await d.view(key, parent);
  try {
    return await withMounted(mounts, readTree);
  } finally {
    await d.remove(key);
  }
}

/**
 * The graph-driver conformance suite (after containerd's snapshots/testsuite and moby's
 * graphtest). Registers ava tests titled `<name>: …`; each gets a fresh root from a temp dir
 * and a fresh driver from `factory`, and cleans both up. Branches on capabilities only.
 */
export function graphDriverSuite(test: TestFn, name: string, factory: (root: string) => Promise<GraphDriver>): void {
  async function setup(t: ExecutionContext): Promise<{ root: string; d: GraphDriver }> {
    const root = await mkdtemp(join(tmpdir(), 'skiff-gd-'));
    const drivers: GraphDriver[] = [];
    t.teardown(async () => {
      for (const d of drivers) await d.close().catch(() => {});
      await unmountAll(root);
      await rm(root, { recursive: true, force: true });
    });
    const d = await factory(root);
    drivers.push(d);
    return { root, d };
  }
  const it = (title: string, fn: (t: ExecutionContext, d: GraphDriver, root: string) => Promise<void>) =>
    test(`${name}: ${title}`, async (t) => {
      const { root, d } = await setup(t);
      await fn(t, d, root);
    });

  it('prepare, write, commit and stat lifecycle', async (t, d) => {
    const mounts = await d.prepare('active-1', undefined, { labels: { a: '1' } });
    t.true(mounts.length > 0);
    t.deepEqual(await d.mounts('active-1'), mounts);
    const st = await d.stat('active-1');
    t.is(st.kind, 'active');
    t.is(st.parent, undefined);
    t.deepEqual(st.labels, { a: '1' });
    t.true(st.created instanceof Date && !Number.isNaN(st.created.getTime()));
    await withMounted(mounts, (dir) => writeFile(join(dir, 'hello'), 'world'));
    await d.commit('base', 'active-1', { labels: { b: '2' } });
    const committed = await d.stat('base');
    t.is(committed.kind, 'committed');
    t.deepEqual(committed.labels, { a: '1', b: '2' });
    await t.throwsAsync(d.stat('active-1'), { instanceOf: NotFoundError });
    await t.throwsAsync(d.mounts('base'), { instanceOf: InvalidParameterError });
    t.deepEqual(await viewTree(d, 'base'), { hello: 'f:world' });
  });

  it('a child sees its parent and its changes do not leak into the parent', async (t, d) => {
    await commitLayer(d, 'base', undefined, [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os', content: 'skiff' },
      { name: 'bin/', type: 'directory' },
      { name: 'bin/sh', content: '#!', mode: 0o755 },
      { name: 'bin/ash', type: 'symlink', linkname: 'sh' },
      { name: 'bin/link', type: 'link', linkname: 'bin/sh' },
    ]);
    const mounts = await d.prepare('child', 'base');
    t.is((await d.stat('child')).parent, 'base');
    await withMounted(mounts, async (dir) => {
      t.is(await readFile(join(dir, 'etc/os'), 'utf8'), 'skiff');
      t.is(await readlink(join(dir, 'bin/ash')), 'sh');
      t.is((await lstat(join(dir, 'bin/sh'))).mode & 0o777, 0o755);
      await writeFile(join(dir, 'etc/os'), 'changed');
      await writeFile(join(dir, 'new'), 'n');
    });
    t.deepEqual(await viewTree(d, 'base'), {
      bin: 'd',
      'bin/ash': 'l:sh',
      'bin/link': 'f:#!',
      'bin/sh': 'f:#!',
      etc: 'd',
      'etc/os': 'f:skiff',
    });
    await d.commit('top', 'child');
    const top = await viewTree(d, 'top');
    t.is(top['etc/os'], 'f:changed');
    t.is(top.new, 'f:n');
  });

  it('whiteouts in a child hide files and directories of its parents', async (t, d) => {
    await commitLayer(d, 'l1', undefined, [
      { name: 'a', content: 'a' },
      { name: 'keep', content: 'k' },
      { name: 'dir/', type: 'directory' },
      { name: 'dir/b', content: 'b' },
      { name: 'dir/c', content: 'c' },
      { name: 'gone/', type: 'directory' },
      { name: 'gone/deep', content: 'x' },
    ]);
    await commitLayer(d, 'l2', 'l1', [{ name: 'extra', content: 'e' }]);
    await commitLayer(d, 'l3', 'l2', [
      { name: '.wh.a', content: '' },
      { name: 'dir/.wh.b', content: '' },
      { name: '.wh.gone', content: '' },
      { name: '.wh.extra', content: '' },
      { name: '.wh.never-existed', content: '' },
    ]);
    t.deepEqual(await viewTree(d, 'l3'), { dir: 'd', 'dir/c': 'f:c', keep: 'f:k' });
    // The lower layers are untouched.
    t.is((await viewTree(d, 'l2')).a, 'f:a');
    // A file can come back in a later layer.
    await commitLayer(d, 'l4', 'l3', [{ name: 'a', content: 'again' }]);
    t.is((await viewTree(d, 'l4')).a, 'f:again');
  });

  it('an opaque directory hides everything its parents had in it', async (t, d) => {
    await commitLayer(d, 'l1', undefined, [
      { name: 'd/', type: 'directory' },
      { name: 'd/x', content: 'x' },
      { name: 'd/sub/', type: 'directory' },
      { name: 'd/sub/y', content: 'y' },
      { name: 'other', content: 'o' },
    ]);
    await commitLayer(d, 'l2', 'l1', [
      { name: 'd/', type: 'directory' },
      { name: 'd/z', content: 'z' },
      { name: 'd/.wh..wh..opq', content: '' },
    ]);
    t.deepEqual(await viewTree(d, 'l2'), { d: 'd', 'd/z': 'f:z', other: 'f:o' });
    await commitLayer(d, 'l3', 'l2', [{ name: 'd/w', content: 'w' }]);
    t.deepEqual(await viewTree(d, 'l3'), { d: 'd', 'd/w': 'f:w', 'd/z': 'f:z', other: 'f:o' });
  });

  it('a view is read-only and shows its parent', async (t, d) => {
    await commitLayer(d, 'l1', undefined, [{ name: 'one', content: '1' }]);
    await commitLayer(d, 'l2', 'l1', [{ name: 'two', content: '2' }]);
    for (const parent of ['l1', 'l2']) {
      const key = `view-of-${parent}`;
      const mounts = await d.view(key, parent);
      t.is((await d.stat(key)).kind, 'view');
      t.deepEqual(await d.mounts(key), mounts);
      await withMounted(mounts, async (dir) => {
        t.is(await readFile(join(dir, 'one'), 'utf8'), '1');
        const err = await t.throwsAsync(writeFile(join(dir, 'one'), 'x'));
        t.is((err as NodeJS.ErrnoException).code, 'EROFS');
      });
      await t.throwsAsync(d.commit(`c-${key}`, key), { instanceOf: InvalidParameterError });
      await d.remove(key);
    }
    t.deepEqual(await viewTree(d, 'l2'), { one: 'f:1', two: 'f:2' });
  });

  it('remove refuses while children exist', async (t, d) => {
    await commitLayer(d, 'p', undefined, [{ name: 'f', content: 'f' }]);
    await d.prepare('c', 'p');
    await d.view('v', 'p');
    await t.throwsAsync(d.remove('p'), { instanceOf: ConflictError });
    await d.remove('c');
    await t.throwsAsync(d.remove('p'), { instanceOf: ConflictError });
    await d.remove('v');
    await d.remove('p');
    await t.throwsAsync(d.stat('p'), { instanceOf: NotFoundError });
    t.deepEqual(await d.list(), []);
  });

  it('missing snapshots are NotFoundError', async (t, d) => {
    await t.throwsAsync(d.stat('nope'), { instanceOf: NotFoundError });
    await t.throwsAsync(d.remove('nope'), { instanceOf: NotFoundError });
    await t.throwsAsync(d.mounts('nope'), { instanceOf: NotFoundError });
    await t.throwsAsync(d.usage('nope'), { instanceOf: NotFoundError });
    await t.throwsAsync(d.commit('x', 'nope'), { instanceOf: NotFoundError });
    await t.throwsAsync(d.prepare('k', 'nope'), { instanceOf: NotFoundError });
    await t.throwsAsync(d.view('v', 'nope'), { instanceOf: NotFoundError });
    // Failed prepares leave nothing behind.
    t.deepEqual(await d.list(), []);
    await d.prepare('k');
  });

  it('names are unique and parents must be committed', async (t, d) => {
    await d.prepare('a');
    await t.throwsAsync(d.prepare('a'), { instanceOf: ConflictError });
    await t.throwsAsync(d.prepare('b', 'a'), { instanceOf: InvalidParameterError });
    await t.throwsAsync(d.view('b', 'a'), { instanceOf: InvalidParameterError });
    await d.commit('c', 'a');
    await t.throwsAsync(d.prepare('c'), { instanceOf: ConflictError });
    await d.prepare('a2', 'c');
    await t.throwsAsync(d.commit('c', 'a2'), { instanceOf: ConflictError });
    await t.throwsAsync(d.commit('c2', 'c'), { instanceOf: InvalidParameterError });
    await t.throwsAsync(d.prepare(''), { instanceOf: InvalidParameterError });
    // Keys are opaque strings, content-addressed ones included.
    await d.commit('sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'a2');
    t.is((await d.stat('sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')).parent, 'c');
  });

  it('stacks a deep chain of layers (128, as moby allows, where the driver can)', async (t, d) => {
    const depth = Math.min(d.capabilities().maxLayers, 128);
    let parent: string | undefined;
    for (let i = 0; i < depth; i++) {
      const entries: LayerEntry[] = [
        { name: `f${i}`, content: String(i) },
        { name: 'common', content: String(i) },
      ];
      if (i > 0) entries.push({ name: `.wh.f${i - 1}`, content: '' });
      await commitLayer(d, `layer-${i}`, parent, entries);
      parent = `layer-${i}`;
    }
    const last = depth - 1;
    const expected: TreeShape = { common: `f:${last}`, [`f${last}`]: `f:${last}` };
    t.deepEqual(await viewTree(d, `layer-${last}`), expected);
    const mounts = await d.prepare('container', `layer-${last}`);
    await withMounted(mounts, async (dir) => {
      t.is(await readFile(join(dir, 'common'), 'utf8'), String(last));
      await writeFile(join(dir, 'rw'), 'ok');
    });
  });

  it('metadata and contents survive a new driver on the same root', async (t, d, root) => {
    await commitLayer(d, 'base', undefined, [{ name: 'x', content: 'x' }]);
    await d.prepare('work', 'base', { labels: { l: 'v' } });
    await d.view('look', 'base');
    const before = (await d.list()).sort((a, b) => a.key.localeCompare(b.key));
    await d.close();
    const d2 = await factory(root);
    t.teardown(() => d2.close());
    const after = (await d2.list()).sort((a, b) => a.key.localeCompare(b.key));
    t.deepEqual(after, before);
    t.deepEqual(await withMounted(await d2.mounts('work'), readTree), { x: 'f:x' });
    await d2.commit('top', 'work');
    await d2.remove('look');
    t.deepEqual(await viewTree(d2, 'top'), { x: 'f:x' });
  });

  it('list agrees with stat', async (t, d) => {
    await commitLayer(d, 'a', undefined, []);
    await d.prepare('b', 'a', { labels: { k: 'v' } });
    await d.view('c', 'a');
    await d.prepare('d');
    const list = await d.list();
    t.deepEqual(list.map((s) => s.key).sort(), ['a', 'b', 'c', 'd']);
    for (const info of list) t.deepEqual(info, await d.stat(info.key));
  });

  it('concurrent prepares: distinct keys all succeed, one key only once', async (t, d) => {
    await commitLayer(d, 'base', undefined, [{ name: 'f', content: 'f' }]);
    const keys = Array.from({ length: 8 }, (_, i) => `c${i}`);
    const mounts = await Promise.all(keys.map((k) => d.prepare(k, 'base')));
    t.is(mounts.length, 8);
    t.deepEqual((await d.list()).map((s) => s.key).sort(), ['base', ...keys].sort());
    const race = await Promise.allSettled(Array.from({ length: 5 }, () => d.prepare('same', 'base')));
    t.is(race.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of race) if (r.status === 'rejected') t.true(r.reason instanceof ConflictError);
    await Promise.all(keys.map((k) => d.remove(k)));
    await d.remove('same');
    await d.remove('base');
    t.deepEqual(await d.list(), []);
  });

  /** Commits what `change` does in a container-like snapshot on `parent` as `name`. */
  async function commitChange(d: GraphDriver, name: string, parent: string, change: (dir: string) => Promise<void>) {
    const key = uniq(`work-${name}`);
    await withMounted(await d.prepare(key, parent), change);
    await d.commit(name, key);
  }

  /** The diff of `name` applied on its parent in a fresh snapshot must rebuild `name`'s tree. */
  async function assertDiffRoundTrip(t: ExecutionContext, d: GraphDriver, name: string, parent: string) {
    const copy = uniq(`copy-${name}`);
    const mounts = await d.prepare(copy, parent);
    await withSnapshotDiff(d, name, (layer) => withMounted(mounts, (dir) => applyLayer(dir, layer)));
    const rebuilt = uniq(`rebuilt-${name}`);
    await d.commit(rebuilt, copy);
    t.deepEqual(await viewTree(d, rebuilt), await viewTree(d, name));
    t.deepEqual(await viewMeta(d, rebuilt), await viewMeta(d, name));
  }

  it('walk: a view shows every entry with its mode, owner and link target', async (t, d) => {
    await commitLayer(d, 'l1', undefined, [
      { name: 'etc/', type: 'directory', mode: 0o750, uid: 3, gid: 4 },
      { name: 'etc/f', content: 'f', mode: 0o640, uid: 5, gid: 6 },
      { name: 'etc/l', type: 'symlink', linkname: '../nowhere' },
      { name: 'etc/h', type: 'link', linkname: 'etc/f' },
    ]);
    const meta = await viewMeta(d, 'l1');
    t.is(meta.etc, 'd 750 3:4');
    t.is(meta['etc/f'], 'f 640 5:6 n2');
    t.is(meta['etc/h'], 'f 640 5:6 n2');
    t.is((await viewTree(d, 'l1'))['etc/l'], 'l:../nowhere');
  });

  it('chown and chmod of lower files and directories stay in the child', async (t, d) => {
    await commitLayer(d, 'l1', undefined, [
      { name: 'd/', type: 'directory' },
      { name: 'd/f', content: 'data', mode: 0o644 },
    ]);
    await commitChange(d, 'l2', 'l1', async (dir) => {
      await chown(join(dir, 'd/f'), 1000, 1001);
      await chmod(join(dir, 'd/f'), 0o600);
      await chown(join(dir, 'd'), 7, 8);
    });
    const meta = await viewMeta(d, 'l2');
    t.is(meta['d/f'], 'f 600 1000:1001 n1');
    t.is(meta.d, 'd 755 7:8');
    t.is((await viewMeta(d, 'l1'))['d/f'], 'f 644 0:0 n1');
    t.is((await viewTree(d, 'l2'))['d/f'], 'f:data');
    await assertDiffRoundTrip(t, d, 'l2', 'l1');
  });

  it('files and directories renamed, moved or deleted from a lower layer', async (t, d) => {
    await commitLayer(d, 'l1', undefined, [
      { name: 'a/', type: 'directory' },
      { name: 'a/x', content: 'x' },
      { name: 'a/sub/', type: 'directory' },
      { name: 'a/sub/y', content: 'y' },
      { name: 'b/', type: 'directory' },
      { name: 'gone', content: 'g' },
      { name: 'tree/', type: 'directory' },
      { name: 'tree/leaf', content: 'l' },
    ]);
    await commitChange(d, 'l2', 'l1', async (dir) => {
      await rename(join(dir, 'a/x'), join(dir, 'b/x2'));
      // Renaming a lower directory may be EXDEV on overlay; mv copies then, as tools in images do.
      await run('mv', ['--', join(dir, 'a/sub'), join(dir, 'b/sub')]);
      await rm(join(dir, 'gone'));
      await rm(join(dir, 'tree'), { recursive: true });
    });
    t.deepEqual(await viewTree(d, 'l2'), { a: 'd', b: 'd', 'b/sub': 'd', 'b/sub/y': 'f:y', 'b/x2': 'f:x' });
    t.is((await viewTree(d, 'l1'))['a/x'], 'f:x');
    await assertDiffRoundTrip(t, d, 'l2', 'l1');
    // A deleted name can come back as another type.
    await commitChange(d, 'l3', 'l2', async (dir) => {
      await mkdir(join(dir, 'gone'));
      await writeFile(join(dir, 'tree'), 'now a file');
    });
    t.is((await viewTree(d, 'l3')).tree, 'f:now a file');
    await assertDiffRoundTrip(t, d, 'l3', 'l2');
  });

  it('a directory emptied and refilled hides its lower contents (opaque), also through a diff', async (t, d) => {
    await commitLayer(d, 'l1', undefined, [
      { name: 'd/', type: 'directory' },
      { name: 'd/old', content: 'o' },
      { name: 'd/deep/', type: 'directory' },
      { name: 'd/deep/er', content: 'e' },
    ]);
    await commitChange(d, 'l2', 'l1', async (dir) => {
      await rm(join(dir, 'd'), { recursive: true });
      await mkdir(join(dir, 'd'));
      await writeFile(join(dir, 'd/new'), 'n');
    });
    t.deepEqual(await viewTree(d, 'l2'), { d: 'd', 'd/new': 'f:n' });
    await assertDiffRoundTrip(t, d, 'l2', 'l1');
  });

  it('diff directories: written before the parent exists, put on it at commit (drivers with diffDirs)', async (t, d) => {
    const { diffDirs } = d.capabilities();
    if (!diffDirs || !d.prepareDiff) {
      t.pass('the driver takes layers only on mounted snapshots');
      return;
    }
    const child = await d.prepareDiff('child-diff');
    await applyLayer(
      child,
      layerTar([
        { name: '.wh.a', content: '' },
        { name: 'b', content: 'new' },
      ]),
      {
        whiteouts: diffDirs,
      },
    );
    t.is((await d.stat('child-diff')).parent, undefined);
    await commitLayer(d, 'base', undefined, [
      { name: 'a', content: 'a' },
      { name: 'b', content: 'old' },
    ]);
    const normal = await d.prepare('normal', 'base');
    t.true(normal.length > 0);
    await t.throwsAsync(d.commit('wrong', 'normal', { parent: 'base' }), { instanceOf: InvalidParameterError });
    await t.throwsAsync(d.commit('early', 'child-diff', { parent: 'absent' }), { instanceOf: NotFoundError });
    await d.commit('child', 'child-diff', { parent: 'base' });
    t.is((await d.stat('child')).parent, 'base');
    t.deepEqual(await viewTree(d, 'child'), { b: 'f:new' });
    await t.throwsAsync(d.remove('base'), { instanceOf: ConflictError });
  });

  it('remove goes top-down: each parent is refused until its last child is gone', async (t, d) => {
    await commitLayer(d, 'r1', undefined, [{ name: 'f', content: '1' }]);
    await commitLayer(d, 'r2', 'r1', [{ name: 'g', content: '2' }]);
    await commitLayer(d, 'r3', 'r2', [{ name: 'h', content: '3' }]);
    await d.prepare('rw', 'r3');
    for (const k of ['r1', 'r2', 'r3']) await t.throwsAsync(d.remove(k), { instanceOf: ConflictError });
    for (const k of ['rw', 'r3', 'r2', 'r1']) await d.remove(k);
    t.deepEqual(await d.list(), []);
  });

  it('the diff of a base layer is its whole tree, and of an unchanged child is empty', async (t, d) => {
    const entries: LayerEntry[] = [
      { name: 'x/', type: 'directory' },
      { name: 'x/y', content: 'y' },
      { name: 'p', type: 'fifo' },
    ];
    await commitLayer(d, 'base', undefined, entries);
    const names = async (key: string) =>
      withSnapshotDiff(d, key, async (layer) => {
        const out: string[] = [];
        const ex = tar.extract();
        layer.pipe(ex as unknown as NodeJS.WritableStream);
        for await (const e of ex) {
          out.push(e.header.name);
          e.resume();
        }
        return out;
      });
    t.deepEqual(await names('base'), ['p', 'x/', 'x/y']);
    await commitChange(d, 'same', 'base', async () => {});
    t.deepEqual(await names('same'), []);
  });

  it('usage counts what a snapshot adds', async (t, d) => {
    const big = 'x'.repeat(64 * 1024);
    await commitLayer(d, 'base', undefined, [{ name: 'big', content: big }]);
    const mounts = await d.prepare('top', 'base');
    await withMounted(mounts, (dir) => writeFile(join(dir, 'small'), 'y'.repeat(1024)));
    const base = await d.usage('base');
    const top = await d.usage('top');
    t.true(base.size >= 64 * 1024);
    t.true(base.inodes >= 1);
    if (d.capabilities().copyOnWrite) t.true(top.size < 64 * 1024 && top.size >= 1024);
    else t.true(top.size >= 65 * 1024);
  });
}
