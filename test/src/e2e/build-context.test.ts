import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { access, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test, { type ExecutionContext } from 'ava';
import { api, docker, driverDaemons, run, runOk } from '../harness/index.js';

// The build context and COPY/ADD file rules of skiffd's classic builder, end to end: hostile
// context tars sent straight to POST /build, ADD of local archives and of URLs (a server on
// 127.0.0.1), and symlinks planted in the base image that must never lead a copy onto the host.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');
const LEGACY = { DOCKER_BUILDKIT: '0' };

async function tempDir(t: ExecutionContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A tar made by the host's GNU tar from `dir` (entries as listed, in order). */
async function tarOf(dir: string, entries: string[], extra: string[] = []): Promise<Buffer> {
  const out = join(dir, '..', `${uid()}.tar`);
  await runOk('tar', ['-cf', out, '-C', dir, ...extra, '--', ...entries]);
  const { readFile } = await import('node:fs/promises');
  const buf = await readFile(out);
  await rm(out, { force: true });
  return buf;
}

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const cli = (...args: string[]) => docker(args, { host: d.dockerHost, env: LEGACY, timeoutMs: 240_000 });
  return { d, reg, cli };
}

test('hostile context tars are refused or stay inside the context; skiffd keeps serving', async (t) => {
  const { d, reg } = await setup();
  const work = await tempDir(t, 'skiff-hostile-ctx-');
  const victimDir = join(work, 'victim');
  await mkdir(victimDir);
  const post = (body: Buffer, tag: string) =>
    api(d.dockerHost, 'POST', `/v1.41/build?t=${tag}&rm=1`, body, {
      headers: { 'content-type': 'application/x-tar' },
      timeoutMs: 240_000,
    });

  // `..` in a name: made with --transform, which GNU tar applies verbatim.
  const src = join(work, 'src');
  await mkdir(src);
  await writeFile(join(src, 'Dockerfile'), `FROM ${reg.image}\nCOPY . /ctx/\n`);
  await writeFile(join(src, 'escape'), 'pwned');
  const dotdot = await tarOf(src, ['Dockerfile', 'escape'], ['--transform', 's,^escape$,../../../escape,']);
  const r1 = await post(dotdot, `dotdot-${uid()}`);
  t.is(r1.status, 400, r1.body);
  t.regex(r1.body, /invalid entry name/);
  t.false(await exists(join(d.root, 'escape')));
  t.false(await exists(join(d.root, '..', 'escape')));

  // A symlink to a host directory, then a file written through it, then COPY of everything.
  const src2 = join(work, 'src2');
  await mkdir(join(src2, 'up'), { recursive: true });
  await writeFile(join(src2, 'Dockerfile'), `FROM ${reg.image}\nCOPY . /ctx/\n`);
  await writeFile(join(src2, 'up', 'pwned'), 'pwned');
  const linkDir = join(work, 'linksrc');
  await mkdir(linkDir);
  await symlink(victimDir, join(linkDir, 'up'));
  const part1 = await tarOf(linkDir, ['up']);
  const part2 = await tarOf(src2, ['Dockerfile', 'up/pwned']);
  // The symlink's header (it has no data blocks), then the second archive.
  const joined = Buffer.concat([part1.subarray(0, 512), part2]);
  const tag2 = `through-${uid()}`;
  const r2 = await post(joined, tag2);
  t.is(r2.status, 200, r2.body);
  t.false(await exists(join(victimDir, 'pwned')), 'nothing was written through the symlink onto the host');
  const inImage = await docker(['run', '--rm', tag2, 'cat', `/ctx${victimDir}/pwned`], { host: d.dockerHost });
  t.is(inImage.stdout, 'pwned', 'the write landed inside the context, where the link points in a chroot');

  // A hard link to a host file; a truncated gzip body; garbage.
  const src3 = join(work, 'src3');
  await mkdir(src3);
  await writeFile(join(src3, 'Dockerfile'), `FROM ${reg.image}\n`);
  await writeFile(join(src3, 'h'), 'x');
  const hard = await tarOf(src3, ['Dockerfile', 'h']);
  // Rewrite `h` into a hard link entry to /etc/hostname: type '1', linkname, checksum.
  const at = hard.indexOf(Buffer.from('h\0'), 512);
  const header = hard.subarray(at, at + 512);
  header[156] = '1'.charCodeAt(0);
  header.write('../../../../../../etc/hostname\0', 157, 'latin1');
  header.write('00000000000\0', 124, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const r3 = await post(Buffer.concat([hard.subarray(0, at + 512), Buffer.alloc(1024)]), `hard-${uid()}`);
  t.is(r3.status, 400, r3.body);
  t.regex(r3.body, /hardlink/);
  const gz = gzipSync(await tarOf(src3, ['Dockerfile']));
  t.is((await post(gz.subarray(0, gz.length - 8), `trunc-${uid()}`)).status, 400);
  t.is((await post(Buffer.alloc(4096, 0x41), `garbage-${uid()}`)).status, 400);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('ADD extracts local archives and downloads URLs without extracting them; --chown by id', async (t) => {
  const { d, reg, cli } = await setup();
  const ctx = await tempDir(t, 'skiff-add-ctx-');
  const pkg = join(ctx, 'pkgsrc');
  await mkdir(join(pkg, 'pkg'), { recursive: true });
  await writeFile(join(pkg, 'pkg', 'bin'), 'from the archive\n');
  await runOk('tar', ['-cJf', join(ctx, 'pkg.tar.xz'), '-C', pkg, '--owner=42', '--group=43', 'pkg']);
  await runOk('tar', ['-cjf', join(ctx, 'pkg2.tar.bz2'), '-C', pkg, 'pkg']);
  await rm(pkg, { recursive: true });
  await writeFile(join(ctx, 'a.txt'), 'a\n');
  const payload = gzipSync(Buffer.from('not to be extracted'));
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  await writeFile(
    join(ctx, 'Dockerfile'),
    `FROM ${reg.image}
ADD pkg.tar.xz /opt/
ADD pkg2.tar.bz2 /opt2
ADD http://127.0.0.1:${port}/files/data.gz /dl/
COPY --chown=1234:5678 a.txt /owned/
COPY pkg.tar.xz /copied/
`,
  );
  const tag = `add-${uid()}`;
  const b = await cli('build', '-t', tag, ctx);
  t.is(b.code, 0, b.stderr);
  const r = await docker(
    [
      'run',
      '--rm',
      tag,
      'sh',
      '-c',
      'cat /opt/pkg/bin /opt2/pkg/bin; stat -c "%u:%g" /opt/pkg/bin; stat -c "%a %Y %s" /dl/data.gz; stat -c "%u:%g" /owned/a.txt; ls /copied',
    ],
    { host: d.dockerHost },
  );
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), [
    'from the archive',
    'from the archive',
    '42:43',
    `600 ${Date.parse('Wed, 21 Oct 2015 07:28:00 GMT') / 1000} ${payload.length}`,
    '1234:5678',
    'pkg.tar.xz',
  ]);
});

test('symlinks planted in the base image never lead COPY or ADD onto the host', async (t) => {
  const { d, reg, cli } = await setup();
  const ctx = await tempDir(t, 'skiff-planted-ctx-');
  const hostDir = await tempDir(t, 'skiff-planted-host-');
  const links = join(ctx, 'links');
  await mkdir(links);
  await symlink('/', join(links, 'dest'));
  await symlink(hostDir, join(links, 'hostdir'));
  await symlink('../../../../../../../..' + hostDir, join(links, 'reldir'));
  await runOk('tar', ['-cf', join(ctx, 'links.tar'), '-C', links, 'dest', 'hostdir', 'reldir']);
  await rm(links, { recursive: true });
  await writeFile(join(ctx, 'a.txt'), 'a\n');
  await mkdir(join(ctx, 'tree'));
  await writeFile(join(ctx, 'tree', 'f'), 'f\n');
  await writeFile(
    join(ctx, 'Dockerfile'),
    `FROM ${reg.image}
ADD links.tar /
COPY a.txt /dest/viaroot
COPY a.txt /hostdir/pwned
COPY tree /reldir/
ADD links.tar /hostdir/
`,
  );
  const tag = `planted-${uid()}`;
  const b = await cli('build', '-t', tag, ctx);
  t.is(b.code, 0, b.stderr);
  const listing = await run('ls', ['-A', hostDir]);
  t.is(listing.stdout, '', 'the host directory the image links to stays empty');
  const r = await docker(['run', '--rm', tag, 'sh', '-c', `cat /viaroot ${hostDir}/pwned ${hostDir}/f`], {
    host: d.dockerHost,
  });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'a\na\nf\n', 'the copies landed where the links point inside the image');
});
