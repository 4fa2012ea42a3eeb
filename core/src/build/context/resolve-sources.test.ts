import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import test from 'ava';
import { InvalidParameterError, NotFoundError, UpstreamError } from '../../plugin-api/errors.js';
import { resolveSources } from './resolve-sources.js';
import { sourceChecksum } from './source-checksum.js';
import { tempDir } from './test-fixtures.js';
import type { LocalSource } from './types.js';

async function context(t: Parameters<typeof tempDir>[0]): Promise<{ base: string; dir: string }> {
  const base = await tempDir(t);
  const dir = join(base, 'ctx');
  await mkdir(join(dir, 'src/lib'), { recursive: true });
  await mkdir(join(dir, 'srv'), { recursive: true });
  await writeFile(join(dir, 'a.txt'), 'a');
  await writeFile(join(dir, 'b.txt'), 'b');
  await writeFile(join(dir, 'c.md'), 'c');
  await writeFile(join(dir, 'src/main.ts'), 'main');
  await writeFile(join(dir, 'src/lib/x.ts'), 'x');
  await writeFile(join(dir, 'srv/s.txt'), 's');
  await writeFile(join(base, 'secret'), 'host secret');
  return { base, dir };
}

function rels(set: { sources: unknown[] }): string[] {
  return (set.sources as LocalSource[]).map((s) => s.rel);
}

test('plain paths, leading / and ./, directories', async (t) => {
  const { dir } = await context(t);
  const set = await resolveSources(dir, ['a.txt', '/b.txt', './src', '.'], { allowUrl: false });
  t.deepEqual(rels(set), ['a.txt', 'b.txt', 'src', '']);
  const [a, , src, root] = set.sources as LocalSource[];
  t.is(a?.path, join(dir, 'a.txt'));
  t.false(a?.isDir);
  t.true(src?.isDir);
  t.is(src?.name, 'src');
  t.true(root?.isDir);
  t.is(root?.path, dir);
});

test('Go wildcards, level by level, in WalkDir order', async (t) => {
  const { dir } = await context(t);
  t.deepEqual(rels(await resolveSources(dir, ['*.txt'], { allowUrl: false })), ['a.txt', 'b.txt']);
  t.deepEqual(rels(await resolveSources(dir, ['s*/*.t*'], { allowUrl: false })), ['src/main.ts', 'srv/s.txt']);
  t.deepEqual(rels(await resolveSources(dir, ['[ab].txt', 'c.*'], { allowUrl: false })), ['a.txt', 'b.txt', 'c.md']);
  t.deepEqual(rels(await resolveSources(dir, ['s?c'], { allowUrl: false })), ['src']);
  const err = await t.throwsAsync(resolveSources(dir, ['*.none'], { allowUrl: false }), {
    instanceOf: InvalidParameterError,
  });
  t.is(err.message, 'COPY failed: no source files were specified');
});

test('missing sources get dockerd’s messages', async (t) => {
  const { dir } = await context(t);
  const err = await t.throwsAsync(resolveSources(dir, ['x'], { allowUrl: false }), { instanceOf: NotFoundError });
  t.is(
    err.message,
    'COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist',
  );
  const add = await t.throwsAsync(resolveSources(dir, ['./missing/y'], { allowUrl: true }));
  t.is(
    add.message,
    'ADD failed: file not found in build context or excluded by .dockerignore: stat missing/y: file does not exist',
  );
  const from = await t.throwsAsync(resolveSources(dir, ['x'], { allowUrl: false, inContext: false }));
  t.is(from.message, 'COPY failed: stat x: file does not exist');
  await t.throwsAsync(resolveSources(dir, [], { allowUrl: false }), {
    message: 'COPY failed: no source files were specified',
  });
  await t.throwsAsync(resolveSources(dir, ['http://127.0.0.1:1/x'], { allowUrl: false }), {
    message: "COPY failed: source can't be a URL for COPY",
  });
});

test('symlinks are followed inside the root only', async (t) => {
  const { base, dir } = await context(t);
  await symlink('../secret', join(dir, 'up'));
  await symlink(join(base, 'secret'), join(dir, 'abs'));
  await symlink('src/main.ts', join(dir, 'in'));
  await symlink('/src', join(dir, 'absdir'));
  for (const p of ['up', 'abs']) {
    await t.throwsAsync(resolveSources(dir, [p], { allowUrl: false }), { instanceOf: NotFoundError });
  }
  await t.throwsAsync(resolveSources(dir, ['../secret'], { allowUrl: false }), {
    instanceOf: InvalidParameterError,
    message: /forbidden path outside the build context/,
  });
  const set = await resolveSources(dir, ['in', 'absdir/lib'], { allowUrl: false });
  const [inLink, lib] = set.sources as LocalSource[];
  t.is(inLink?.path, join(dir, 'src/main.ts'));
  t.is(inLink?.name, 'in', 'the name is the one asked for');
  t.is(inLink?.resolved, 'src/main.ts');
  t.is(lib?.path, join(dir, 'src/lib'));
  t.true(lib?.isDir);
});

test('checksums change with content, mode, names and links, not with mtimes', async (t) => {
  const { dir } = await context(t);
  const sum = async (...p: string[]) => sourceChecksum(await resolveSources(dir, p, { allowUrl: false }));
  const file = await sum('a.txt');
  t.regex(file, /^file:[0-9a-f]{64}$/);
  const tree = await sum('src');
  t.regex(tree, /^dir:[0-9a-f]{64}$/);
  const multi = await sum('a.txt', 'b.txt');
  t.regex(multi, /^multi:[0-9a-f]{64}$/);
  t.not(await sum('b.txt'), file);

  await utimes(join(dir, 'a.txt'), new Date(1000), new Date(1000));
  await utimes(join(dir, 'src/lib/x.ts'), new Date(1000), new Date(1000));
  t.is(await sum('a.txt'), file, 'mtime is not part of it');
  t.is(await sum('src'), tree);
  t.is(await sum('a.txt', 'b.txt'), multi);

  await chmod(join(dir, 'a.txt'), 0o600);
  const modeChanged = await sum('a.txt');
  t.not(modeChanged, file);
  await writeFile(join(dir, 'a.txt'), 'A');
  t.not(await sum('a.txt'), modeChanged);

  await writeFile(join(dir, 'src/lib/x.ts'), 'changed deep inside');
  const tree2 = await sum('src');
  t.not(tree2, tree);
  await chmod(join(dir, 'src/lib'), 0o700);
  const tree3 = await sum('src');
  t.not(tree3, tree2);
  await symlink('main.ts', join(dir, 'src/link'));
  const tree4 = await sum('src');
  t.not(tree4, tree3);
  t.is(await sum('src'), tree4, 'stable');
});

test('ADD downloads URLs: name, mode, Last-Modified, content hash; errors', async (t) => {
  const base = await tempDir(t);
  const lastModified = 'Wed, 21 Oct 2015 07:28:00 GMT';
  const server = createServer((req, res) => {
    if (req.url === '/files/tool.sh') {
      res.writeHead(200, { 'Last-Modified': lastModified });
      res.end('#!/bin/sh\necho hi\n');
    } else if (req.url === '/dl/') {
      res.writeHead(200, { 'Content-Disposition': 'attachment; filename="named.bin"' });
      res.end('disposition');
    } else if (req.url === '/bare/') {
      res.end('unnamed');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('nope');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;

  const set = await resolveSources(base, [`${url}/files/tool.sh`, `${url}/dl/`, `${url}/bare/`], {
    allowUrl: true,
    tmpDir: base,
  });
  const [tool, named, bare] = set.sources;
  t.is(tool?.kind, 'url');
  if (tool?.kind !== 'url' || named?.kind !== 'url' || bare?.kind !== 'url') return;
  t.is(tool.name, 'tool.sh');
  t.is(named.name, 'named.bin');
  t.is(bare.name, '');
  const { lstat, readFile } = await import('node:fs/promises');
  const st = await lstat(tool.path);
  t.is(st.mode & 0o777, 0o600);
  t.is(st.mtime.getTime(), new Date(lastModified).getTime());
  t.is((await lstat(bare.path)).mtime.getTime(), 0);
  t.is(await readFile(tool.path, 'utf8'), '#!/bin/sh\necho hi\n');
  const sum = await sourceChecksum({ ...set, sources: [tool] });
  t.regex(sum, /^file:/);
  await set.release();
  await t.throwsAsync(lstat(tool.path));

  const err = await t.throwsAsync(resolveSources(base, [`${url}/missing`], { allowUrl: true, tmpDir: base }), {
    instanceOf: UpstreamError,
  });
  t.is(err.message, `failed to GET ${url}/missing with status 404 Not Found: nope`);
  await t.throwsAsync(resolveSources(base, ['http://127.0.0.1:1/x'], { allowUrl: true, tmpDir: base }), {
    instanceOf: UpstreamError,
  });
  const { readdir } = await import('node:fs/promises');
  t.deepEqual(await readdir(base), [], 'failed downloads leave nothing behind');
});
