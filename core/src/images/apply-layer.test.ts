import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { run } from '../host/exec.js';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { readTree } from '../testkit/graph-driver-suite.js';
import { type LayerEntry, layerTar } from '../testkit/layer.js';
import { applyLayer } from './apply-layer.js';

async function dirs(t: ExecutionContext): Promise<{ root: string; outside: string }> {
  const base = await mkdtemp(join(tmpdir(), 'skiff-apply-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'untouched', { mode: 0o600 });
  return { root, outside };
}

/** Everything about `dir` an attack could change: names, contents, modes, mtimes. */
async function fingerprint(dir: string): Promise<string> {
  const out: string[] = [];
  async function walk(p: string): Promise<void> {
    for (const name of (await readdir(p)).sort()) {
      const full = join(p, name);
      const st = await lstat(full);
      out.push(`${full} ${st.mode} ${st.uid} ${st.mtimeMs} ${st.isFile() ? await readFile(full, 'utf8') : ''}`);
      if (st.isDirectory()) await walk(full);
    }
  }
  const st = await lstat(dir);
  out.push(`${dir} ${st.mode} ${st.mtimeMs}`);
  await walk(dir);
  return out.join('\n');
}

test('applies files, directories, links, modes, owners and mtimes', async (t) => {
  const { root } = await dirs(t);
  const mtime = new Date('2020-01-02T03:04:05Z');
  const { size } = await applyLayer(
    root,
    layerTar([
      { name: './', type: 'directory', mode: 0o700 },
      { name: 'usr/', type: 'directory', mtime },
      { name: 'usr/bin/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime },
      { name: 'usr/bin/tool', content: 'binary', mode: 0o4755, uid: 1000, gid: 1001, mtime },
      { name: 'usr/bin/alias', type: 'symlink', linkname: 'tool' },
      { name: 'usr/bin/hard', type: 'link', linkname: 'usr/bin/tool' },
      { name: 'deep/er/file', content: 'implicit parents' },
      { name: 'abs', type: 'symlink', linkname: '/usr/bin/tool' },
    ]),
  );
  t.is(size, 'binary'.length + 'implicit parents'.length);
  const tool = await stat(join(root, 'usr/bin/tool'));
  t.is(tool.mode & 0o7777, 0o4755);
  t.is(tool.uid, 1000);
  t.is(tool.gid, 1001);
  t.is(tool.mtime.getTime(), mtime.getTime());
  t.is(tool.nlink, 2);
  t.is((await stat(join(root, 'usr/bin/hard'))).ino, tool.ino);
  t.is(await readlink(join(root, 'usr/bin/alias')), 'tool');
  t.is(await readlink(join(root, 'abs')), '/usr/bin/tool');
  const bin = await stat(join(root, 'usr/bin'));
  t.is(bin.mode & 0o7777, 0o750);
  t.is(bin.mtime.getTime(), mtime.getTime(), 'directory mtime is set after its children');
  t.is(await readFile(join(root, 'deep/er/file'), 'utf8'), 'implicit parents');
  t.not((await stat(root)).mode & 0o777, 0o700, 'the root entry does not change the snapshot root');
});

test('later entries replace earlier ones of another type', async (t) => {
  const { root } = await dirs(t);
  await applyLayer(
    root,
    layerTar([
      { name: 'x/', type: 'directory' },
      { name: 'x/y', content: 'y' },
      { name: 'f', content: 'f' },
    ]),
  );
  await applyLayer(
    root,
    layerTar([
      { name: 'x', content: 'now a file' },
      { name: 'f/', type: 'directory' },
      { name: 'f/g', content: 'g' },
    ]),
  );
  t.deepEqual(await readTree(root), { f: 'd', 'f/g': 'f:g', x: 'f:now a file' });
});

test('whiteouts delete, opaque markers clear what lower layers had', async (t) => {
  const { root } = await dirs(t);
  await applyLayer(
    root,
    layerTar([
      { name: 'a', content: 'a' },
      { name: 'd/', type: 'directory' },
      { name: 'd/old', content: 'old' },
      { name: 'd/sub/x', content: 'x' },
      { name: 'o/', type: 'directory' },
      { name: 'o/old', content: 'old' },
      { name: 'o/olddir/y', content: 'y' },
      { name: 'o/kept/z', content: 'z' },
    ]),
  );
  await applyLayer(
    root,
    layerTar([
      { name: '.wh.a', content: '' },
      { name: 'd/.wh.sub', content: '' },
      { name: 'o/', type: 'directory' },
      { name: 'o/new', content: 'new' },
      { name: 'o/kept/', type: 'directory' },
      { name: 'o/.wh..wh..opq', content: '' },
      { name: 'missing/.wh.nothing', content: '' },
      { name: '.wh..wh.plnk/123', content: 'aufs bookkeeping' },
    ]),
  );
  t.deepEqual(await readTree(root), { d: 'd', 'd/old': 'f:old', o: 'd', 'o/kept': 'd', 'o/new': 'f:new' });
});

test('unpacks special files', async (t) => {
  const { root } = await dirs(t);
  await applyLayer(
    root,
    layerTar([
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'pipe', type: 'fifo', mode: 0o600 },
    ]),
  );
  t.true((await lstat(join(root, 'pipe'))).isFIFO());
  const dev = await lstat(join(root, 'dev/null'));
  // Hosts that forbid mknod skip devices instead of failing the layer.
  if (process.getuid?.() === 0) t.true(dev.isCharacterDevice());
});

interface Attack {
  title: string;
  entries: (outside: string) => LayerEntry[];
}

const attacks: Attack[] = [
  { title: 'a ../ path', entries: () => [{ name: '../outside/victim', content: 'pwned' }] },
  { title: 'a nested ../ path', entries: () => [{ name: 'a/../../outside/x', content: 'pwned' }] },
  { title: 'an absolute path', entries: (o) => [{ name: `${o}/victim`, content: 'pwned' }] },
  {
    title: 'a write through an absolute symlink to the host',
    entries: (o) => [
      { name: 'evil', type: 'symlink', linkname: o },
      { name: 'evil/victim', content: 'pwned' },
    ],
  },
  {
    title: 'a write through a relative symlink climbing out',
    entries: () => [
      { name: 'evil', type: 'symlink', linkname: '../outside' },
      { name: 'evil/new', content: 'pwned' },
    ],
  },
  {
    title: 'a write through a chain of symlinks',
    entries: () => [
      { name: 'a/', type: 'directory' },
      { name: 'a/up', type: 'symlink', linkname: '..' },
      { name: 'b', type: 'symlink', linkname: 'a/up/a/up/..' },
      { name: 'b/outside/new', content: 'pwned' },
    ],
  },
  {
    title: 'a hardlink to an absolute host path',
    entries: (o) => [{ name: 'h', type: 'link', linkname: `${o}/victim` }],
  },
  { title: 'a hardlink climbing out', entries: () => [{ name: 'h', type: 'link', linkname: '../outside/victim' }] },
  {
    title: 'a hardlink through a symlink to the host',
    entries: (o) => [
      { name: 'l', type: 'symlink', linkname: o },
      { name: 'h', type: 'link', linkname: 'l/victim' },
    ],
  },
  {
    title: 'a whiteout through a symlink to the host',
    entries: (o) => [
      { name: 'l', type: 'symlink', linkname: o },
      { name: 'l/.wh.victim', content: '' },
    ],
  },
  {
    title: 'an opaque marker through a symlink climbing out',
    entries: () => [
      { name: 'l', type: 'symlink', linkname: '../outside' },
      { name: 'l/.wh..wh..opq', content: '' },
    ],
  },
  { title: 'a whiteout of ..', entries: () => [{ name: '.wh...', content: '' }] },
];

for (const attack of attacks) {
  test(`rejects ${attack.title} and writes nothing outside the root`, async (t) => {
    const { root, outside } = await dirs(t);
    const before = await fingerprint(outside);
    const err = await t.throwsAsync(applyLayer(root, layerTar(attack.entries(outside))));
    t.true(err instanceof InvalidParameterError, `${err?.name}: ${err?.message}`);
    t.is(await fingerprint(outside), before);
  });
}

test('a symlink then a file of the same name replaces the link, never writes through it', async (t) => {
  // CVE-2021-32760 style: the mode and content of the later entry must not reach the target.
  const { root, outside } = await dirs(t);
  const before = await fingerprint(outside);
  await applyLayer(
    root,
    layerTar([
      { name: 'a', type: 'symlink', linkname: join(outside, 'victim') },
      { name: 'b', type: 'link', linkname: 'a' },
      { name: 'b', content: 'mine', mode: 0o777 },
      { name: 'a', type: 'directory', mode: 0o777 },
    ]),
  );
  t.is(await fingerprint(outside), before);
  t.is(await readFile(join(root, 'b'), 'utf8'), 'mine');
  t.true((await lstat(join(root, 'a'))).isDirectory());
});

test('symlinks inside the root are followed like the container would (usrmerge)', async (t) => {
  const { root, outside } = await dirs(t);
  const before = await fingerprint(outside);
  await applyLayer(
    root,
    layerTar([
      { name: 'usr/lib/', type: 'directory' },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: 'var/run', type: 'symlink', linkname: '/run' },
      { name: 'run/', type: 'directory' },
      { name: 'lib/libc.so', content: 'libc' },
      { name: 'var/run/pid', content: '1' },
      { name: 'lib/hard', type: 'link', linkname: 'lib/libc.so' },
    ]),
  );
  t.is(await readFile(join(root, 'usr/lib/libc.so'), 'utf8'), 'libc');
  t.is(await readFile(join(root, 'run/pid'), 'utf8'), '1');
  t.is((await stat(join(root, 'usr/lib/hard'))).nlink, 2);
  t.is(await fingerprint(outside), before);
});

test('rejects malformed and truncated tars', async (t) => {
  const { root } = await dirs(t);
  const garbage = Buffer.alloc(1024, 0x41);
  const e1 = await t.throwsAsync(applyLayer(root, Readable.from([garbage])));
  t.true(e1 instanceof InvalidParameterError, String(e1));
  const chunks: Buffer[] = [];
  for await (const c of layerTar([{ name: 'big', content: 'x'.repeat(10_000) }])) chunks.push(c as Buffer);
  const whole = Buffer.concat(chunks);
  const e2 = await t.throwsAsync(applyLayer(root, Readable.from([whole.subarray(0, 3000)])));
  t.true(e2 instanceof InvalidParameterError, String(e2));
});

test('an empty stream is an empty layer', async (t) => {
  const { root } = await dirs(t);
  t.deepEqual(await applyLayer(root, Readable.from([])), { size: 0 });
});

test('stops on abort and on a failing source', async (t) => {
  const { root } = await dirs(t);
  const ac = new AbortController();
  ac.abort(new Error('stop now'));
  await t.throwsAsync(applyLayer(root, layerTar([{ name: 'f', content: 'f' }]), { signal: ac.signal }), {
    message: 'stop now',
  });

  const ac2 = new AbortController();
  async function* slow(): AsyncGenerator<Buffer> {
    for await (const c of layerTar([{ name: 'f', content: 'x'.repeat(4096) }])) {
      yield c as Buffer;
      ac2.abort(new Error('stopped midway'));
      await new Promise((r) => setImmediate(r));
    }
  }
  await t.throwsAsync(applyLayer(root, Readable.from(slow()), { signal: ac2.signal }), { message: 'stopped midway' });

  async function* broken(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(512);
    throw new Error('connection reset');
  }
  await t.throwsAsync(applyLayer(root, Readable.from(broken())), { message: 'connection reset' });
});

test('replacing a symlink to a directory does not follow it', async (t) => {
  const { root, outside } = await dirs(t);
  await mkdir(join(root, 'etc'));
  await symlink(outside, join(root, 'etc/link'));
  const before = await fingerprint(outside);
  await applyLayer(root, layerTar([{ name: 'etc/.wh.link', content: '' }]));
  await t.throwsAsync(lstat(join(root, 'etc/link')));
  t.is(await fingerprint(outside), before);
});

async function tarBytes(entries: LayerEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of layerTar(entries)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `n` bytes of zeros, streamed in 1 MiB chunks without holding them. */
async function* zeros(n: number): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(1024 * 1024);
  for (let left = n; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
}

test('padding after the end of the archive is streamed and counted, never refused by itself', async (t) => {
  const { root } = await dirs(t);
  const body = await tarBytes([{ name: 'f', content: 'f' }]);
  async function* padded(): AsyncGenerator<Buffer> {
    yield body;
    yield* zeros(64 * 1024 * 1024);
  }
  await applyLayer(root, Readable.from(padded()));
  t.is(await readFile(join(root, 'f'), 'utf8'), 'f');
});

test('an endless or oversized layer stops at the byte limit', async (t) => {
  const { root } = await dirs(t);
  async function* endless(): AsyncGenerator<Buffer> {
    yield await tarBytes([{ name: 'f', content: 'f' }]);
    for (;;) yield* zeros(1024 * 1024);
  }
  const e = await t.throwsAsync(applyLayer(root, Readable.from(endless()), { limits: { maxBytes: 8 * 1024 * 1024 } }));
  t.true(e instanceof InvalidParameterError);
  t.regex(e!.message, /larger than 8388608 bytes/);
  const big = await t.throwsAsync(
    applyLayer(root, layerTar([{ name: 'big', content: Buffer.alloc(100_000) }]), { limits: { maxBytes: 50_000 } }),
  );
  t.true(big instanceof InvalidParameterError);
});

test('a layer with too many entries is refused', async (t) => {
  const { root } = await dirs(t);
  const entries = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, content: '' }));
  const e = await t.throwsAsync(applyLayer(root, layerTar(entries), { limits: { maxEntries: 20 } }));
  t.true(e instanceof InvalidParameterError);
  t.regex(e!.message, /more than 20 entries/);
  await applyLayer(root, layerTar(entries.slice(0, 20)), { limits: { maxEntries: 20 } });
});

test('an oversized pax header is a clear error, not a memory spike', async (t) => {
  const { root } = await dirs(t);
  const header = Buffer.alloc(512);
  header.write('PaxHeaders/huge', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${(64 * 1024 * 1024).toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('x', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  async function* stream(): AsyncGenerator<Buffer> {
    yield header;
    yield* zeros(64 * 1024 * 1024);
  }
  const e = await t.throwsAsync(applyLayer(root, Readable.from(stream())));
  t.true(e instanceof InvalidParameterError, String(e));
});

test('device nodes land inside the root, replacing what was there without following it', async (t) => {
  const { root, outside } = await dirs(t);
  const before = await fingerprint(outside);
  await applyLayer(
    root,
    layerTar([
      { name: 'l', type: 'symlink', linkname: join(outside, 'victim') },
      { name: 'l', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/', type: 'directory' },
      { name: 'up', type: 'symlink', linkname: '/dev' },
      { name: 'up/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 },
      { name: 'f', type: 'symlink', linkname: join(outside, 'victim') },
      { name: 'f', type: 'fifo', mode: 0o777 },
    ]),
  );
  t.is(await fingerprint(outside), before);
  t.true((await lstat(join(root, 'f'))).isFIFO());
  if (process.getuid?.() === 0) {
    t.true((await lstat(join(root, 'l'))).isCharacterDevice());
    t.true((await lstat(join(root, 'dev/loop0'))).isBlockDevice(), 'an absolute symlink resolves inside the root');
  }
});

test('a sibling directory sharing the root as a name prefix is outside (go-archive TestUntarSiblingPrefixContained)', async (t) => {
  const { root } = await dirs(t);
  const sibling = `${root}-evil`;
  await mkdir(sibling);
  t.teardown(() => rm(sibling, { recursive: true, force: true }));
  await writeFile(join(sibling, 'secret'), 's');
  const e = await t.throwsAsync(
    applyLayer(root, layerTar([{ name: 'h', type: 'link', linkname: '../root-evil/secret' }])),
  );
  t.true(e instanceof InvalidParameterError);
  const e2 = await t.throwsAsync(
    applyLayer(
      root,
      layerTar([
        { name: 's', type: 'symlink', linkname: '../root-evil' },
        { name: 's/secret', content: 'pwned' },
      ]),
    ),
  );
  t.true(e2 instanceof InvalidParameterError);
  t.is(await readFile(join(sibling, 'secret'), 'utf8'), 's');
});

test('overlay form: whiteouts become 0:0 devices and opaque markers an xattr, and a mounted overlay shows the deletions', async (t) => {
  const { root: base } = await dirs(t);
  const [lower, upper, mnt] = ['lower', 'upper', 'mnt'].map((d) => join(base, d)) as [string, string, string];
  for (const d of [lower, upper, mnt]) await mkdir(d);
  await applyLayer(
    lower,
    layerTar([
      { name: 'a', content: 'a' },
      { name: 'd/old', content: 'old' },
      { name: 'd/sub/x', content: 'x' },
      { name: 'o/old', content: 'old' },
      { name: 'o/kept/z', content: 'z' },
      { name: 'r/gone', content: 'gone' },
      { name: 'f', content: 'f' },
    ]),
    { whiteouts: 'overlay' },
  );
  await applyLayer(
    upper,
    layerTar([
      { name: '.wh.a', content: '' },
      { name: 'd/.wh.sub', content: '' },
      { name: 'o/', type: 'directory' },
      { name: 'o/new', content: 'new' },
      { name: 'o/.wh..wh..opq', content: '' },
      // Whited out, then made again in the same layer: the new entry wins, a directory hides the old one.
      { name: '.wh.r', content: '' },
      { name: 'r/', type: 'directory' },
      { name: 'r/fresh', content: 'fresh' },
      { name: '.wh.f', content: '' },
      { name: 'f', content: 'again' },
      { name: '.wh..wh.plnk/123', content: 'aufs bookkeeping' },
    ]),
    { whiteouts: 'overlay' },
  );
  const wh = await lstat(join(upper, 'a'));
  t.true(wh.isCharacterDevice());
  t.is(wh.rdev, 0);
  t.true((await lstat(join(upper, 'd/sub'))).isCharacterDevice());
  const xattr = await run('getfattr', [
    '--absolute-names',
    '--only-values',
    '-n',
    'trusted.overlay.opaque',
    join(upper, 'o'),
  ]);
  t.is(xattr, 'y');
  t.is(await readFile(join(upper, 'f'), 'utf8'), 'again');

  await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${upper}:${lower}`, mnt]);
  t.teardown(() => run('umount', [mnt]).catch(() => {}));
  t.deepEqual(await readTree(mnt), {
    d: 'd',
    'd/old': 'f:old',
    o: 'd',
    'o/new': 'f:new',
    r: 'd',
    'r/fresh': 'f:fresh',
    f: 'f:again',
  });
});

test('overlay form: whiteout names are checked like every other name', async (t) => {
  const { root, outside } = await dirs(t);
  const before = await fingerprint(outside);
  await t.throwsAsync(
    applyLayer(root, layerTar([{ name: '../outside/.wh.victim', content: '' }]), { whiteouts: 'overlay' }),
  );
  await applyLayer(
    root,
    layerTar([
      { name: 'link', type: 'symlink', linkname: '../outside' },
      { name: 'link/.wh.victim', content: '' },
      { name: 'link/.wh..wh..opq', content: '' },
    ]),
    { whiteouts: 'overlay' },
  ).catch(() => {});
  t.is(await fingerprint(outside), before);
});
