import { createServer } from 'node:http';
import { chown, lstat, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { copySources, normalizeDest } from './copy-sources.js';
import { resolveSources } from './resolve-sources.js';
import { CODECS, compress, tarBuffer, tempDir } from './test-fixtures.js';
import type { CopyOptions } from './types.js';

const mtime = new Date('2019-02-03T04:05:06Z');

interface Fixture {
  base: string;
  ctx: string;
  rootfs: string;
  outside: string;
}

async function fixture(t: ExecutionContext): Promise<Fixture> {
  const base = await tempDir(t, 'skiff-copy-');
  const ctx = join(base, 'ctx');
  const rootfs = join(base, 'rootfs');
  const outside = join(base, 'outside');
  await mkdir(join(ctx, 'dir/sub'), { recursive: true });
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'untouched');
  await writeFile(join(ctx, 'a.txt'), 'a', { mode: 0o640 });
  await chown(join(ctx, 'a.txt'), 1234, 1234);
  await utimes(join(ctx, 'a.txt'), mtime, mtime);
  await writeFile(join(ctx, 'b.txt'), 'b');
  await writeFile(join(ctx, 'dir/top'), 'top', { mode: 0o755 });
  await writeFile(join(ctx, 'dir/sub/deep'), 'deep');
  await symlink('../top', join(ctx, 'dir/sub/link'));
  await utimes(join(ctx, 'dir/sub'), mtime, mtime);
  await writeFile(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nweb:x:33:33::/:/bin/false\n',
  );
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:2000:\nstaff:x:50:app\n');
  return { base, ctx, rootfs, outside };
}

async function copy(
  f: Fixture,
  sources: string[],
  dest: string,
  opts: Partial<CopyOptions> & { allowUrl?: boolean } = {},
): Promise<void> {
  const set = await resolveSources(f.ctx, sources, { allowUrl: opts.allowUrl ?? opts.isAdd ?? false, tmpDir: f.base });
  try {
    await copySources(set, f.rootfs, dest, { workdir: '/', isAdd: false, ...opts });
  } finally {
    await set.release();
  }
}

test('normalizeDest', (t) => {
  t.is(normalizeDest('/app', 'x'), '/app/x');
  t.is(normalizeDest('/app', 'x/'), '/app/x/');
  t.is(normalizeDest('/app', '.'), '/app');
  t.is(normalizeDest('/app', './'), '/app/');
  t.is(normalizeDest('app', '../../y'), '/y');
  t.is(normalizeDest('/app', '/abs'), '/abs');
});

test('a file to a file path: parents 0755 root, owner 0:0, mode and mtime kept', async (t) => {
  const f = await fixture(t);
  await copy(f, ['a.txt'], '/opt/new/renamed.txt');
  const st = await stat(join(f.rootfs, 'opt/new/renamed.txt'));
  t.is(await readFile(join(f.rootfs, 'opt/new/renamed.txt'), 'utf8'), 'a');
  t.is(st.mode & 0o7777, 0o640);
  t.is(st.mtime.getTime(), mtime.getTime());
  t.deepEqual([st.uid, st.gid], [0, 0]);
  const parent = await stat(join(f.rootfs, 'opt/new'));
  t.is(parent.mode & 0o7777, 0o755);
  t.deepEqual([parent.uid, parent.gid], [0, 0]);
});

test('trailing slash or an existing directory makes the destination a directory; workdir for relative ones', async (t) => {
  const f = await fixture(t);
  await copy(f, ['a.txt'], '/newdir/');
  t.is(await readFile(join(f.rootfs, 'newdir/a.txt'), 'utf8'), 'a');
  await copy(f, ['b.txt'], '/newdir');
  t.is(await readFile(join(f.rootfs, 'newdir/b.txt'), 'utf8'), 'b');
  await copy(f, ['a.txt'], 'rel', { workdir: '/work/dir' });
  t.is(await readFile(join(f.rootfs, 'work/dir/rel'), 'utf8'), 'a');
  await copy(f, ['*.txt'], './', { workdir: '/w' });
  t.deepEqual((await readdir(join(f.rootfs, 'w'))).sort(), ['a.txt', 'b.txt']);
  const err = await t.throwsAsync(copy(f, ['a.txt', 'b.txt'], '/multi'), { instanceOf: InvalidParameterError });
  t.is(
    err.message,
    'When using COPY with more than one source file, the destination must be a directory and end with a /',
  );
  const add = await t.throwsAsync(copy(f, ['*.txt'], '/multi', { isAdd: true }));
  t.is(
    add.message,
    'When using ADD with more than one source file, the destination must be a directory and end with a /',
  );
});

test('a directory copies its contents, merging; links, modes and mtimes kept', async (t) => {
  const f = await fixture(t);
  await mkdir(join(f.rootfs, 'app'), { mode: 0o711 });
  await writeFile(join(f.rootfs, 'app/existing'), 'kept');
  await copy(f, ['dir'], '/app');
  t.deepEqual((await readdir(join(f.rootfs, 'app'))).sort(), ['existing', 'sub', 'top']);
  t.is((await stat(join(f.rootfs, 'app'))).mode & 0o7777, 0o711, 'an existing destination keeps its mode');
  t.is(await readlink(join(f.rootfs, 'app/sub/link')), '../top');
  t.is(await readFile(join(f.rootfs, 'app/sub/deep'), 'utf8'), 'deep');
  t.is((await stat(join(f.rootfs, 'app/top'))).mode & 0o7777, 0o755);
  t.is((await stat(join(f.rootfs, 'app/sub'))).mtime.getTime(), mtime.getTime());
  await copy(f, ['.'], '/whole/');
  t.true((await readdir(join(f.rootfs, 'whole'))).includes('a.txt'));
});

test('hard links inside a copied directory stay linked', async (t) => {
  const f = await fixture(t);
  const { link } = await import('node:fs/promises');
  await link(join(f.ctx, 'dir/top'), join(f.ctx, 'dir/sub/hard'));
  await copy(f, ['dir'], '/h');
  t.is((await stat(join(f.rootfs, 'h/top'))).ino, (await stat(join(f.rootfs, 'h/sub/hard'))).ino);
});

test('--chown by name, by id, user alone, and errors', async (t) => {
  const f = await fixture(t);
  await copy(f, ['a.txt'], '/o1', { chown: 'app:staff' });
  let st = await stat(join(f.rootfs, 'o1'));
  t.deepEqual([st.uid, st.gid], [1000, 50]);
  await copy(f, ['a.txt'], '/o2', { chown: 'app' });
  st = await stat(join(f.rootfs, 'o2'));
  t.deepEqual([st.uid, st.gid], [1000, 2000], 'user alone: the group of the same name, like dockerd');
  await copy(f, ['a.txt'], '/o3', { chown: '4321' });
  st = await stat(join(f.rootfs, 'o3'));
  t.deepEqual([st.uid, st.gid], [4321, 4321]);
  await copy(f, ['dir'], '/o4/', { chown: '7:8' });
  for (const p of ['o4', 'o4/top', 'o4/sub', 'o4/sub/deep']) {
    st = await lstat(join(f.rootfs, p));
    t.deepEqual([st.uid, st.gid], [7, 8], p);
  }
  t.deepEqual([(await lstat(join(f.rootfs, 'o4/sub/link'))).uid], [7]);
  await copy(f, ['a.txt'], '/nested/parent/file', { chown: '9:9' });
  t.is((await stat(join(f.rootfs, 'nested/parent'))).uid, 9, 'new parents of a file belong to the owner');
  await t.throwsAsync(copy(f, ['a.txt'], '/x', { chown: 'nobody' }), {
    instanceOf: InvalidParameterError,
    message: /can't find uid for user nobody: no such user: nobody/,
  });
  await t.throwsAsync(copy(f, ['a.txt'], '/x', { chown: 'web' }), { message: /can't find gid for group web/ });
  await t.throwsAsync(copy(f, ['a.txt'], '/x', { chown: 'a:b:c' }), { message: /invalid chown string format/ });
});

test('--chmod applies to what is copied', async (t) => {
  const f = await fixture(t);
  await copy(f, ['a.txt'], '/m1', { chmod: '0755' });
  t.is((await stat(join(f.rootfs, 'm1'))).mode & 0o7777, 0o755);
  await copy(f, ['dir'], '/m2/', { chmod: '750' });
  t.is((await stat(join(f.rootfs, 'm2/sub/deep'))).mode & 0o7777, 0o750);
  t.is((await stat(join(f.rootfs, 'm2/sub'))).mode & 0o7777, 0o750);
  await t.throwsAsync(copy(f, ['a.txt'], '/m3', { chmod: 'u+x' }), { instanceOf: InvalidParameterError });
});

for (const codec of CODECS) {
  test(`ADD extracts a local ${codec} tar, keeping its owners; COPY does not`, async (t) => {
    const f = await fixture(t);
    const tar = await tarBuffer([
      { name: 'pkg/', type: 'directory', mode: 0o750 },
      { name: 'pkg/bin', content: 'binary', mode: 0o755, uid: 42, gid: 43, mtime },
      { name: 'pkg/link', linkname: '/etc/passwd' },
    ]);
    await writeFile(join(f.ctx, 'pkg.tar.x'), await compress(tar, codec));
    await copy(f, ['pkg.tar.x'], '/opt/', { isAdd: true });
    const st = await stat(join(f.rootfs, 'opt/pkg/bin'));
    t.is(await readFile(join(f.rootfs, 'opt/pkg/bin'), 'utf8'), 'binary');
    t.deepEqual([st.uid, st.gid, st.mode & 0o7777], [42, 43, 0o755]);
    t.is(st.mtime.getTime(), mtime.getTime());
    t.is(await readlink(join(f.rootfs, 'opt/pkg/link')), '/etc/passwd');
    await copy(f, ['pkg.tar.x'], '/copied/');
    t.deepEqual(await readdir(join(f.rootfs, 'copied')), ['pkg.tar.x']);
  });
}

test('ADD copies a non-archive as a file, and refuses hostile archives', async (t) => {
  const f = await fixture(t);
  await writeFile(join(f.ctx, 'notes.gz'), 'not really gzip');
  await copy(f, ['notes.gz'], '/n/', { isAdd: true });
  t.is(await readFile(join(f.rootfs, 'n/notes.gz'), 'utf8'), 'not really gzip');
  await writeFile(join(f.ctx, 'evil.tar'), await tarBuffer([{ name: '../../escape', content: 'x' }]));
  await t.throwsAsync(copy(f, ['evil.tar'], '/e/', { isAdd: true }), { instanceOf: InvalidParameterError });
  await writeFile(
    join(f.ctx, 'evil2.tar'),
    await tarBuffer([
      { name: 'up', linkname: '../../../../../../../../..' },
      { name: `up${f.outside}/victim`, content: 'pwned' },
      { name: 'abs', linkname: f.outside },
      { name: 'abs/victim', content: 'pwned' },
    ]),
  );
  await copy(f, ['evil2.tar'], '/e2/', { isAdd: true });
  t.is(await readFile(join(f.outside, 'victim'), 'utf8'), 'untouched');
  t.deepEqual(await readdir(f.outside), ['victim']);
});

test('planted symlinks in the rootfs never lead out of it', async (t) => {
  const f = await fixture(t);
  await symlink('/', join(f.rootfs, 'dest'));
  await symlink('../../../../../../../..' + f.outside, join(f.rootfs, 'rel'));
  await symlink(join(f.outside, 'victim'), join(f.rootfs, 'filelink'));
  await copy(f, ['a.txt'], '/dest/x');
  t.is(await readFile(join(f.rootfs, 'x'), 'utf8'), 'a', '/dest -> / is the rootfs root');
  await copy(f, ['a.txt'], '/rel/victim');
  await copy(f, ['b.txt'], '/filelink');
  await copy(f, ['dir'], '/dest/');
  await copy(f, ['a.txt'], '/dest/../../../../etc/');
  t.is(await readFile(join(f.outside, 'victim'), 'utf8'), 'untouched');
  t.deepEqual(await readdir(f.outside), ['victim']);
  t.is(await readFile(join(f.rootfs, f.outside, 'victim'), 'utf8'), 'b', 'written where the container would see it');
  t.is(await readFile(join(f.rootfs, 'etc/a.txt'), 'utf8'), 'a');
  // A symlink where the copied tree has a directory is replaced, not followed.
  await mkdir(join(f.rootfs, 'app'));
  await symlink(f.outside, join(f.rootfs, 'app/sub'));
  await copy(f, ['dir'], '/app');
  t.true((await lstat(join(f.rootfs, 'app/sub'))).isDirectory());
  t.deepEqual(await readdir(f.outside), ['victim']);
});

test('--chown reads /etc/passwd inside the rootfs only', async (t) => {
  const f = await fixture(t);
  await writeFile(join(f.outside, 'passwd'), 'hostonly:x:777:777::/:/bin/sh\n');
  const { rm } = await import('node:fs/promises');
  await rm(join(f.rootfs, 'etc/passwd'));
  await symlink(join(f.outside, 'passwd'), join(f.rootfs, 'etc/passwd'));
  await t.throwsAsync(copy(f, ['a.txt'], '/x', { chown: 'hostonly' }), { message: /no such user: hostonly/ });
});

test('ADD of URLs: name from the URL, 0600, Last-Modified, never extracted', async (t) => {
  const f = await fixture(t);
  const tarball = await compress(await tarBuffer([{ name: 'inner', content: 'i' }]), 'gzip');
  const server = createServer((req, res) => {
    if (req.url === '/pkg.tar.gz') {
      res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
      res.end(tarball);
    } else res.end('unnamed');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  await copy(f, [`${url}/pkg.tar.gz`], '/dl/', { isAdd: true });
  const st = await stat(join(f.rootfs, 'dl/pkg.tar.gz'));
  t.is(st.mode & 0o777, 0o600);
  t.is(st.mtime.getTime(), Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'));
  t.deepEqual(await readFile(join(f.rootfs, 'dl/pkg.tar.gz')), tarball);
  await copy(f, [`${url}/pkg.tar.gz`], '/dl/renamed', { isAdd: true, chown: '5:6' });
  t.is((await stat(join(f.rootfs, 'dl/renamed'))).uid, 5);
  await copy(f, [`${url}/`], '/unnamed', { isAdd: true });
  t.is(await readFile(join(f.rootfs, 'unnamed'), 'utf8'), 'unnamed');
  await t.throwsAsync(copy(f, [`${url}/`], '/dir/', { isAdd: true }), {
    message: `ADD failed: cannot determine filename for source ${url}/`,
  });
});
