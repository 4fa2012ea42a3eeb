import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { extractContext } from './extract-context.js';
import { CODECS, chunked, compress, tarBuffer, tempDir } from './test-fixtures.js';

const mtime = new Date('2021-05-06T07:08:09Z');

async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, rel))).sort()) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(join(dir, r));
    out.push(st.isDirectory() ? `${r}/` : r);
    if (st.isDirectory()) out.push(...(await tree(dir, r)));
  }
  return out;
}

for (const codec of CODECS) {
  test(`extracts a ${codec} context with modes and mtimes, owners ignored`, async (t) => {
    const dir = await tempDir(t);
    const tar = await tarBuffer([
      { name: 'Dockerfile', content: 'FROM scratch\n', mtime },
      { name: 'bin/', type: 'directory', mode: 0o750, mtime },
      { name: 'bin/run.sh', content: '#!/bin/sh\n', mode: 0o755, uid: 1234, gid: 4321, mtime },
      { name: 'bin/alias', linkname: 'run.sh' },
      { name: 'bin/hard', type: 'link', linkname: 'bin/run.sh' },
    ]);
    await extractContext(chunked(await compress(tar, codec)), dir);
    t.is(await readFile(join(dir, 'Dockerfile'), 'utf8'), 'FROM scratch\n');
    const run = await stat(join(dir, 'bin/run.sh'));
    t.is(run.mode & 0o7777, 0o755);
    t.is(run.mtime.getTime(), mtime.getTime());
    t.is(run.uid, process.getuid?.() ?? 0, 'the tar owner is not applied');
    t.is(run.nlink, 2);
    t.is(await readlink(join(dir, 'bin/alias')), 'run.sh');
    const bin = await stat(join(dir, 'bin'));
    t.is(bin.mode & 0o7777, 0o750);
    t.is(bin.mtime.getTime(), mtime.getTime());
  });
}

test('an empty body is an empty context', async (t) => {
  const dir = await tempDir(t);
  await extractContext(Readable.from([]), dir);
  t.deepEqual(await readdir(dir), []);
});

test('broken archives are 400s', async (t) => {
  const dir = await tempDir(t);
  const good = await tarBuffer([{ name: 'a', content: 'x'.repeat(5000) }]);
  const garbage = Buffer.alloc(1024, 0x41);
  await t.throwsAsync(extractContext(Readable.from([garbage]), dir), { instanceOf: InvalidParameterError });
  await t.throwsAsync(extractContext(Readable.from([good.subarray(0, 2000)]), dir), {
    instanceOf: InvalidParameterError,
  });
  const gz = await compress(good, 'gzip');
  await t.throwsAsync(extractContext(Readable.from([gz.subarray(0, gz.length - 20)]), dir), {
    instanceOf: InvalidParameterError,
  });
  const xz = await compress(good, 'xz');
  const corrupt = Buffer.from(xz);
  corrupt.fill(0x55, 20, 60);
  await t.throwsAsync(extractContext(Readable.from([corrupt]), dir), { instanceOf: InvalidParameterError });
});

test('hostile names: .. is refused, absolute names stay inside', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'ctx');
  await mkdir(dir);
  const err = await t.throwsAsync(
    extractContext(Readable.from([await tarBuffer([{ name: '../escape', content: 'x' }])]), dir),
    {
      instanceOf: InvalidParameterError,
    },
  );
  t.regex(err.message, /invalid entry name/);
  await t.throwsAsync(
    extractContext(Readable.from([await tarBuffer([{ name: 'a/../../escape', content: 'x' }])]), dir),
    { instanceOf: InvalidParameterError },
  );
  t.deepEqual((await readdir(base)).sort(), ['ctx']);
  await extractContext(Readable.from([await tarBuffer([{ name: '/etc/abs', content: 'inside' }])]), dir);
  t.is(await readFile(join(dir, 'etc/abs'), 'utf8'), 'inside');
});

test('symlink then write-through stays inside the context', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'ctx');
  const outside = join(base, 'outside');
  await mkdir(dir);
  await mkdir(outside);
  await writeFile(join(outside, 'victim'), 'untouched');
  await extractContext(
    Readable.from([
      await tarBuffer([
        { name: 'up', linkname: '../outside' },
        { name: 'up/victim', content: 'pwned' },
        { name: 'abs', linkname: outside },
        { name: 'abs/new', content: 'pwned' },
        { name: 'file-link', linkname: join(outside, 'victim') },
        { name: 'file-link', content: 'replaced, not followed' },
      ]),
    ]),
    dir,
  );
  t.is(await readFile(join(outside, 'victim'), 'utf8'), 'untouched');
  t.deepEqual(await readdir(outside), ['victim']);
  t.is(await readFile(join(dir, 'file-link'), 'utf8'), 'replaced, not followed');
  t.true((await lstat(join(dir, 'file-link'))).isFile());
  // The writes through the links were resolved inside the context, as in a chroot.
  t.is(await readFile(join(dir, 'outside/victim'), 'utf8'), 'pwned');
  t.is(await readFile(join(dir, base.slice(1), 'outside/new'), 'utf8'), 'pwned');
});

test('hardlinks must point inside the context', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'ctx');
  await mkdir(dir);
  await writeFile(join(base, 'secret'), 'host secret');
  for (const linkname of ['../secret', `${base}/secret`]) {
    const p = extractContext(Readable.from([await tarBuffer([{ name: 'h', type: 'link', linkname }])]), dir);
    await t.throwsAsync(p, { instanceOf: InvalidParameterError });
  }
  // Through a symlink planted earlier in the same archive: resolved inside, so missing.
  await t.throwsAsync(
    extractContext(
      Readable.from([
        await tarBuffer([
          { name: 'up', linkname: '..' },
          { name: 'h', type: 'link', linkname: 'up/secret' },
        ]),
      ]),
      dir,
    ),
    { instanceOf: InvalidParameterError, message: /missing/ },
  );
  t.is((await stat(join(base, 'secret'))).nlink, 1);
});

test('device nodes are skipped, fifos made', async (t) => {
  const dir = await tempDir(t);
  await extractContext(
    Readable.from([
      await tarBuffer([
        { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'pipe', type: 'fifo' },
        { name: 'ok', content: 'ok' },
      ]),
    ]),
    dir,
  );
  t.deepEqual((await readdir(dir)).sort(), ['ok', 'pipe']);
  t.true((await lstat(join(dir, 'pipe'))).isFIFO());
});

test('huge names are 400s', async (t) => {
  const dir = await tempDir(t);
  const long = `${'a'.repeat(300)}`;
  await t.throwsAsync(extractContext(Readable.from([await tarBuffer([{ name: long, content: 'x' }])]), dir), {
    instanceOf: InvalidParameterError,
  });
  const deep = Array.from({ length: 2100 }, () => 'd').join('/');
  await t.throwsAsync(extractContext(Readable.from([await tarBuffer([{ name: `${deep}/f`, content: 'x' }])]), dir), {
    instanceOf: InvalidParameterError,
  });
});

test('like dockerd, the context is kept as sent unless asked to apply .dockerignore', async (t) => {
  const dir = await tempDir(t);
  await extractContext(
    Readable.from([
      await tarBuffer([
        { name: '.dockerignore', content: '*.log\n' },
        { name: 'a.log', content: '' },
      ]),
    ]),
    dir,
  );
  t.deepEqual(await tree(dir), ['.dockerignore', 'a.log']);
});

test('.dockerignore is applied on request, keeping the Dockerfile and .dockerignore for locateDockerfile', async (t) => {
  const dir = await tempDir(t);
  await extractContext(
    Readable.from([
      await tarBuffer([
        {
          name: '.dockerignore',
          content:
            '# build junk\n*.log\n/node_modules\n**/*.tmp\ndocs\n!docs/keep.md\nDockerfile\n.dockerignore\nsub\n',
        },
        { name: 'Dockerfile', content: 'FROM scratch\n' },
        { name: 'a.log', content: '' },
        { name: 'src/a.log', content: 'kept: * does not cross /' },
        { name: 'src/x.tmp', content: '' },
        { name: 'x.tmp', content: '' },
        { name: 'node_modules/m/index.js', content: '' },
        { name: 'docs/keep.md', content: '' },
        { name: 'docs/drop.md', content: '' },
        { name: 'sub/Dockerfile.dev', content: '' },
        { name: 'main.go', content: '' },
      ]),
    ]),
    dir,
    { applyDockerignore: true },
  );
  t.deepEqual(await tree(dir), [
    '.dockerignore',
    'Dockerfile',
    'docs/',
    'docs/keep.md',
    'main.go',
    'src/',
    'src/a.log',
  ]);
});

test('.dockerignore keeps a Dockerfile given by name, even inside an ignored directory', async (t) => {
  const dir = await tempDir(t);
  await extractContext(
    Readable.from([
      await tarBuffer([
        { name: '.dockerignore', content: 'build\n' },
        { name: 'build/Dockerfile.ci', content: 'FROM scratch\n' },
        { name: 'build/other', content: '' },
      ]),
    ]),
    dir,
    { dockerfile: 'build/Dockerfile.ci', applyDockerignore: true },
  );
  t.deepEqual(await tree(dir), ['.dockerignore', 'build/', 'build/Dockerfile.ci']);
});

test('a .dockerignore symlinked out of the context is not read', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'ctx');
  await mkdir(dir);
  await writeFile(join(base, 'ignore'), '*\n');
  await extractContext(
    Readable.from([
      await tarBuffer([
        { name: '.dockerignore', linkname: '../ignore' },
        { name: 'file', content: '' },
      ]),
    ]),
    dir,
    { applyDockerignore: true },
  );
  t.deepEqual((await readdir(dir)).sort(), ['.dockerignore', 'file']);
});

test('an abort stops the extraction', async (t) => {
  const dir = await tempDir(t);
  const ac = new AbortController();
  ac.abort(new Error('client went away'));
  await t.throwsAsync(
    extractContext(Readable.from([await tarBuffer([{ name: 'a', content: 'a' }])]), dir, { signal: ac.signal }),
    { message: 'client went away' },
  );
});
