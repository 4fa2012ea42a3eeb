import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import tar from 'tar-stream';
import { ArchiveEntryError, extractTar } from './extract.js';
import { goFileMode, goTime, packTree } from './pack.js';
import { PinnedRoot } from './pinned-root.js';

interface Ent {
  name: string;
  type?: tar.Header['type'];
  body?: string;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

function tarOf(entries: Ent[]): Readable {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header: Parameters<tar.Pack['entry']>[0] = {
      name: e.name,
      type,
      ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date(1_000_000_000_000),
    };
    if (type === 'file') pack.entry(header, Buffer.from(e.body ?? ''));
    else pack.entry(header);
  }
  pack.finalize();
  return pack as unknown as Readable;
}

async function listTar(
  stream: Readable,
): Promise<Array<{ name: string; type: string; linkname?: string; body: string }>> {
  const extract = tar.extract();
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  const out: Array<{ name: string; type: string; linkname?: string; body: string }> = [];
  for await (const e of extract) {
    const chunks: Buffer[] = [];
    for await (const c of e as AsyncIterable<Buffer>) chunks.push(c);
    out.push({
      name: e.header.name,
      type: e.header.type,
      linkname: e.header.linkname ?? undefined,
      body: Buffer.concat(chunks).toString(),
    });
  }
  return out;
}

/** A fake container root and a directory "outside" it (on the host) that must never change. */
async function fixture(t: { teardown(fn: () => Promise<void>): void }) {
  const base = await mkdtemp(join(tmpdir(), 'skiff-inroot-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'data/sub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'HOST SECRET');
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(root, 'data/sub/f'), 'inside');
  // Planted by the "container": links that would leave the root if followed on the host.
  await symlink('/', join(root, 'toroot'));
  await symlink(outside, join(root, 'tooutside'));
  await symlink('../../../../../../..' + outside, join(root, 'dotdot'));
  await symlink('loop2', join(root, 'loop1'));
  await symlink('loop1', join(root, 'loop2'));
  await symlink('/data/sub', join(root, 'abs-sub'));
  return { base, root, outside };
}

async function outsideUnchanged(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, outside: string) {
  t.deepEqual(await readdir(outside), ['secret'], 'nothing was written outside the root');
  t.deepEqual(await readFile(join(outside, 'secret'), 'utf8'), 'HOST SECRET');
}

test('resolve: symlinks are followed inside the root, .. is clamped, the final one only when asked', async (t) => {
  const { root: dir, outside } = await fixture(t);
  const root = PinnedRoot.open(dir);
  t.teardown(() => root.close());
  const r = root.resolve('/toroot/../../etc/passwd', false);
  t.deepEqual(r.node.path, ['etc', 'passwd']);
  t.true(r.node.stat.isFile());
  r.release();
  const link = root.resolve('/abs-sub', false);
  t.true(link.node.stat.isSymbolicLink());
  link.release();
  const followed = root.resolve('/abs-sub', true);
  t.deepEqual(followed.node.path, ['data', 'sub']);
  followed.release();
  for (const p of ['/abs-sub/', '/abs-sub/.']) {
    const x = root.resolve(p, false);
    t.deepEqual(x.node.path, ['data', 'sub'], p);
    x.release();
  }
  // The host directory the link names does not exist inside the root.
  t.throws(() => root.resolve('/tooutside/secret', false), { code: 'ENOENT' });
  t.throws(() => root.resolve('/dotdot/secret', false), { code: 'ENOENT' });
  t.throws(() => root.resolve('/loop1', true), { code: 'ELOOP' });
  t.throws(() => root.resolve('/etc/passwd/x', false), { code: 'ENOTDIR' });
  t.throws(() => root.resolve('/a\0b', false), { code: 'EINVAL' });
  t.is(root.realPath('/abs-sub'), '/data/sub');
  t.is(root.realPath('/tooutside/x/../y'), `${outside}/y`);
  t.is(root.realPath('/toroot'), '/');
  const top = root.resolve('/', false);
  t.deepEqual(top.node.path, []);
  t.is(top.parent, undefined);
  top.release();
});

test('mounts: paths below a mount destination are served from its source, read-only is reported', async (t) => {
  const { base, root: dir } = await fixture(t);
  const vol = join(base, 'vol');
  await mkdir(join(vol, 'in'), { recursive: true });
  await writeFile(join(vol, 'in/v'), 'volume');
  await mkdir(join(dir, 'run'));
  await mkdir(join(dir, 'var'));
  await symlink('/run', join(dir, 'var/run'));
  await writeFile(join(base, 'hosts'), '127.0.0.1 bound\n');
  const root = PinnedRoot.open(dir, {
    mounts: [
      { destination: '/var/run/vol', source: vol, readOnly: true },
      { destination: '/etc/hosts', source: join(base, 'hosts'), readOnly: false },
      { destination: '/gone', source: join(base, 'no-such-source'), readOnly: false },
    ],
  });
  t.teardown(() => root.close());
  // The destination goes through /var/run -> /run as the runtime mounted it.
  const r = root.resolve('/run/vol/in/v', false);
  t.true(r.node.mount >= 0);
  t.true(root.isReadOnly(r.node));
  r.release();
  const viaLink = root.resolve('/var/run/vol/in', false);
  t.deepEqual(viaLink.node.path, ['run', 'vol', 'in']);
  viaLink.release();
  const rootfs = root.resolve('/etc', false);
  t.false(root.isReadOnly(rootfs.node));
  rootfs.release();
  const entries = await listTar(packTree(root, root.root, '/'));
  t.truthy(entries.find((e) => e.name === '/run/vol/in/v' && e.body === 'volume'));
  t.truthy(entries.find((e) => e.name === '/etc/hosts' && e.body === '127.0.0.1 bound\n'));
  t.false(existsSync(join(dir, 'run/vol/in')), 'nothing was created in the rootfs');
  const hosts = root.resolve('/etc/hosts', false);
  t.true(hosts.node.stat.isFile());
  hosts.release();
  t.throws(() => root.resolve('/gone/x', false), { code: 'ENOENT' });
  // A mount root cannot be replaced by an archive entry.
  const etc = root.resolve('/etc', true);
  t.teardown(() => etc.release());
  const err = await t.throwsAsync(
    extractTar(root, etc.node, '/etc', tarOf([{ name: 'hosts', body: 'x' }]), { noOverwriteDirNonDir: true }),
  );
  t.regex(err!.message, /cannot replace mount point/);
  t.is(await readFile(join(base, 'hosts'), 'utf8'), '127.0.0.1 bound\n');
});

test('extract: files, dirs, links and ownership land where the container would see them', async (t) => {
  const { root: dir, outside } = await fixture(t);
  const root = PinnedRoot.open(dir);
  t.teardown(() => root.close());
  const dest = root.resolve('/data', true);
  t.teardown(() => dest.release());
  await extractTar(
    root,
    dest.node,
    '/data',
    tarOf([
      { name: 'new/', type: 'directory', mode: 0o750, uid: 7, gid: 8 },
      { name: 'new/a', body: 'A', mode: 0o4755, uid: 7, gid: 8 },
      { name: '/abs/b', body: 'B' },
      { name: 'new/l', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'new/h', type: 'link', linkname: 'new/a' },
      { name: 'fifo', type: 'fifo' },
    ]),
    { noOverwriteDirNonDir: true },
  );
  const a = await stat(join(dir, 'data/new/a'));
  t.is(a.mode & 0o7777, 0o4755);
  t.is(a.uid, 7);
  t.is(a.nlink, 2);
  t.is((await stat(join(dir, 'data/new'))).mode & 0o777, 0o750);
  t.is(await readFile(join(dir, 'data/abs/b'), 'utf8'), 'B');
  t.is(await readlink(join(dir, 'data/new/l')), '/etc/passwd');
  t.true((await lstat(join(dir, 'data/fifo'))).isFIFO());
  t.is((await stat(join(dir, 'data/new/a'))).mtimeMs, 1_000_000_000_000);
  // The owner override of `docker cp -a`.
  await extractTar(root, dest.node, '/data', tarOf([{ name: 'owned', body: 'x', uid: 5 }]), {
    noOverwriteDirNonDir: true,
    owner: { uid: 11, gid: 12 },
  });
  t.is((await stat(join(dir, 'data/owned'))).uid, 11);
  // In a set-group-ID directory the archive's group still wins (a new file would inherit the dir's).
  await mkdir(join(dir, 'data/sg'));
  await chown(join(dir, 'data/sg'), 0, 99);
  await chmod(join(dir, 'data/sg'), 0o2775);
  await extractTar(
    root,
    dest.node,
    '/data',
    tarOf([
      { name: 'sg/f', body: 'x', gid: 0 },
      { name: 'sg/d', type: 'directory', gid: 0, mode: 0o755 },
    ]),
    { noOverwriteDirNonDir: true },
  );
  t.is((await stat(join(dir, 'data/sg/f'))).gid, 0);
  t.is((await stat(join(dir, 'data/sg/d'))).gid, 0);
  t.is((await stat(join(dir, 'data/sg/d'))).mode & 0o7777, 0o755);
  await outsideUnchanged(t, outside);
});

test('extract: hostile archives never write outside the root', async (t) => {
  const { root: dir, outside } = await fixture(t);
  const root = PinnedRoot.open(dir);
  t.teardown(() => root.close());
  const dest = root.resolve('/data', true);
  t.teardown(() => dest.release());
  const refused = async (entries: Ent[], message: RegExp) => {
    const err = await t.throwsAsync(
      extractTar(root, dest.node, '/data', tarOf(entries), { noOverwriteDirNonDir: true }),
    );
    t.true(err instanceof ArchiveEntryError, String(err));
    t.regex(err!.message, message);
  };
  await refused([{ name: '../../escape', body: 'x' }], /is outside of/);
  await refused([{ name: 'esc', type: 'symlink', linkname: '../../../etc' }], /invalid symlink/);
  await refused([{ name: 'hl', type: 'link', linkname: '../../secret' }], /invalid hardlink/);
  // A symlink, then a file through it: followed inside the root, like dockerd's chroot.
  await extractTar(
    root,
    dest.node,
    '/data',
    tarOf([
      { name: 'up', type: 'symlink', linkname: '/' },
      { name: 'up/etc/pwned2', body: 'y' },
      { name: 'sl', type: 'symlink', linkname: outside },
    ]),
    { noOverwriteDirNonDir: true },
  );
  t.is(await readFile(join(dir, 'etc/pwned2'), 'utf8'), 'y');
  // Through a link to a host path: that path does not exist in the root, so there is nothing to write to.
  await t.throwsAsync(
    extractTar(root, dest.node, '/data', tarOf([{ name: 'sl/pwned', body: 'x' }]), { noOverwriteDirNonDir: true }),
    { code: 'ENOENT' },
  );
  // Planted symlinks as parents: /toroot, /tooutside, /dotdot.
  const top = root.resolve('/', true);
  t.teardown(() => top.release());
  await extractTar(root, top.node, '/', tarOf([{ name: 'toroot/etc/x', body: '1' }]), { noOverwriteDirNonDir: false });
  t.is(await readFile(join(dir, 'etc/x'), 'utf8'), '1');
  for (const name of ['tooutside/y', 'dotdot/z']) {
    await t.throwsAsync(
      extractTar(root, top.node, '/', tarOf([{ name, body: '2' }]), { noOverwriteDirNonDir: false }),
      { code: 'ENOENT' },
    );
  }
  // Once the target exists inside the root, that is where the write goes.
  await mkdir(join(dir, outside), { recursive: true });
  await extractTar(root, top.node, '/', tarOf([{ name: 'tooutside/y', body: '2' }]), { noOverwriteDirNonDir: false });
  t.is(await readFile(join(dir, outside, 'y'), 'utf8'), '2');
  // A chmod or chown never goes through a symlink: the link is replaced, its target keeps its mode.
  await chmod(join(outside, 'secret'), 0o600);
  await symlink(join(outside, 'secret'), join(dir, 'data/chm'));
  await extractTar(root, dest.node, '/data', tarOf([{ name: 'chm', type: 'directory', mode: 0o777 }]), {
    noOverwriteDirNonDir: false,
  });
  t.is((await stat(join(outside, 'secret'))).mode & 0o777, 0o600);
  t.true((await lstat(join(dir, 'data/chm'))).isDirectory());
  // With noOverwriteDirNonDir, type changes are refused.
  await refused([{ name: 'chm', body: 'x' }], /cannot overwrite directory/);
  await refused([{ name: 'sl', type: 'directory' }], /cannot overwrite non-directory/);
  // A corrupt archive is an archive error, not a crash.
  const err = await t.throwsAsync(
    extractTar(root, dest.node, '/data', Readable.from([Buffer.alloc(700, 7)]), { noOverwriteDirNonDir: true }),
  );
  t.true(err instanceof ArchiveEntryError);
  await outsideUnchanged(t, outside);
});

test('pack: symlinks are stored, not followed; hard links once; names rebased like dockerd', async (t) => {
  const { root: dir } = await fixture(t);
  const root = PinnedRoot.open(dir);
  t.teardown(() => root.close());
  await writeFile(join(dir, 'data/h1'), 'same');
  await (await import('node:fs/promises')).link(join(dir, 'data/h1'), join(dir, 'data/h2'));
  const r = root.resolve('/data/.', false);
  t.teardown(() => r.release());
  const entries = await listTar(packTree(root, r.node, '.'));
  t.deepEqual(
    entries.map((e) => [e.name, e.type, e.linkname ?? null]),
    [
      ['./', 'directory', null],
      ['./h1', 'file', null],
      ['./h2', 'link', './h1'],
      ['./sub/', 'directory', null],
      ['./sub/f', 'file', null],
    ],
  );
  const all = await listTar(packTree(root, root.root, '/'));
  t.deepEqual(
    all.filter((e) => e.name === '/tooutside').map((e) => [e.type, e.linkname]),
    [['symlink', await readlink(join(dir, 'tooutside'))]],
  );
  t.false(all.some((e) => e.body === 'HOST SECRET'));
  // A consumer that goes away stops the walk: `done` settles, so the fds can be closed.
  const early = packTree(root, root.root, '/');
  early.destroy();
  await early.done;
  t.true(early.destroyed);
  t.is(goFileMode(0o40755), 2147484141);
  t.is(goFileMode(0o120777), 134218239);
  t.is(goTime(1_795_423_480_571_850_130n), '2026-11-23T08:44:40.57185013Z');
  t.is(goTime(1_000_000_000_000_000_000n), '2001-09-09T01:46:40Z');
});

/** A process that swaps `a` and `b` with renameat2(RENAME_EXCHANGE) as fast as it can. */
function swapper(a: string, b: string): ChildProcess {
  const script = `
    const koffi = require(process.argv[3]);
    const c = koffi.load('libc.so.6');
    const renameat2 = c.func('int renameat2(int, const char *, int, const char *, unsigned int)');
    const [a, b] = process.argv.slice(1, 3);
    for (;;) renameat2(-100, a, -100, b, 2);
  `;
  return spawn(process.execPath, ['-e', script, a, b, createRequire(import.meta.url).resolve('koffi')], {
    stdio: 'ignore',
  });
}

test('a container swapping a directory for a symlink to / meanwhile never gets a read or write outside its root', async (t) => {
  const { root: dir, outside } = await fixture(t);
  await mkdir(join(dir, 'work/d'), { recursive: true });
  await writeFile(join(dir, 'work/d/inside'), 'inside');
  // The swap partner: a symlink to the host's view of the outside dir, and one to /.
  await symlink(outside, join(dir, 'work/evil'));
  await mkdir(join(dir, 'work2/d'), { recursive: true });
  await symlink('/', join(dir, 'work2/evil'));
  const procs = [
    swapper(join(dir, 'work/d'), join(dir, 'work/evil')),
    swapper(join(dir, 'work2/d'), join(dir, 'work2/evil')),
  ];
  t.teardown(() => {
    for (const p of procs) p.kill('SIGKILL');
  });
  const root = PinnedRoot.open(dir);
  t.teardown(() => root.close());
  let wrote = 0;
  let read = 0;
  let failed = 0;
  for (let i = 0; i < 120; i++) {
    for (const w of ['work', 'work2']) {
      try {
        const top = root.resolve(`/${w}`, true);
        try {
          await extractTar(
            root,
            top.node,
            `/${w}`,
            tarOf([
              { name: `d/f${i}`, body: 'payload' },
              { name: `d/secret`, body: 'overwritten' },
            ]),
            {
              noOverwriteDirNonDir: false,
            },
          );
          wrote++;
        } finally {
          top.release();
        }
      } catch {
        failed++;
      }
      try {
        const r = root.resolve(`/${w}/d/`, false);
        try {
          const entries = await listTar(packTree(root, r.node, 'd'));
          t.false(
            entries.some((e) => e.body === 'HOST SECRET'),
            'a host file was read',
          );
          t.false(entries.some((e) => e.name === 'd/secret' && e.body === 'HOST SECRET'));
          read++;
        } finally {
          r.release();
        }
      } catch {
        failed++;
      }
    }
  }
  for (const p of procs) p.kill('SIGKILL');
  t.log(`writes ${wrote}, reads ${read}, failed (raced) ${failed}`);
  t.true(wrote > 0 && read > 0);
  await outsideUnchanged(t, outside);
  // Nothing was written at the host's / either.
  t.false(existsSync('/secret') && (await readFile('/secret', 'utf8')) === 'overwritten');
  t.false(existsSync('/f0'));
});
