import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { api, docker, driverDaemons, run, runOk } from '../harness/index.js';

// docker cp (HEAD/GET/PUT /containers/{id}/archive) against skiffd with the real docker CLI:
// Docker's rules for paths and ownership, running and stopped containers, volumes, errors, and a
// container that tries to make the daemon read or write the host's files.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

const uniq = () => randomBytes(4).toString('hex');

async function hostDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-cp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A daemon, the CLI on it, and a container (running unless `create`). */
async function container(t: ExecutionContext, opts: { create?: boolean; args?: string[] } = {}) {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const cli = (args: string[], stdin?: string | Buffer) => docker(args, { host, stdin });
  const ok = async (args: string[], stdin?: string | Buffer) => {
    const r = await cli(args, stdin);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const name = `cp-${uniq()}`;
  const cmd = opts.create ? 'create' : 'run';
  await ok([cmd, ...(opts.create ? [] : ['-d']), '--name', name, ...(opts.args ?? []), reg.image, 'sleep', '600']);
  t.teardown(async () => {
    await cli(['rm', '-f', '-v', name]);
  });
  const sh = async (script: string) => (await ok(['exec', name, 'sh', '-c', script])).stdout;
  return { d, host, cli, ok, name, sh, image: reg.image };
}

async function alive(t: ExecutionContext, host: string) {
  t.is((await api(host, 'GET', '/_ping')).status, 200, 'skiffd keeps serving');
}

test('files and directories in and out of a running container, with and without "/."', async (t) => {
  const { ok, name, sh } = await container(t);
  const h = await hostDir(t);
  await mkdir(join(h, 'src/sub'), { recursive: true });
  await writeFile(join(h, 'src/top'), 'top\n');
  await writeFile(join(h, 'src/sub/deep'), 'deep\n');
  await writeFile(join(h, 'file'), 'hello\n');
  await chmod(join(h, 'file'), 0o640);

  await ok(['cp', join(h, 'file'), `${name}:/tmp/renamed`]);
  await ok(['cp', join(h, 'file'), `${name}:/tmp/`]);
  t.is(await sh('cat /tmp/renamed /tmp/file; stat -c %a /tmp/file'), 'hello\nhello\n640\n');

  // A directory: to a missing name it is renamed; into an existing dir it nests; "/." copies its contents.
  await ok(['cp', join(h, 'src'), `${name}:/copy`]);
  await sh('mkdir /into');
  await ok(['cp', join(h, 'src'), `${name}:/into`]);
  await sh('mkdir /contents');
  await ok(['cp', `${join(h, 'src')}/.`, `${name}:/contents`]);
  t.is(await sh('cd /copy && find . | sort'), '.\n./sub\n./sub/deep\n./top\n');
  t.is(await sh('cd /into && find . | sort'), '.\n./src\n./src/sub\n./src/sub/deep\n./src/top\n');
  t.is(await sh('cd /contents && find . | sort'), '.\n./sub\n./sub/deep\n./top\n');

  // And back out.
  await sh('mkdir -p /out/d/e && echo x > /out/d/e/f && ln -s e /out/d/l && echo y > /out/file');
  await ok(['cp', `${name}:/out/file`, join(h, 'got-file')]);
  t.is(await readFile(join(h, 'got-file'), 'utf8'), 'y\n');
  await ok(['cp', `${name}:/out/d`, join(h, 'got-d')]);
  t.is(await readFile(join(h, 'got-d/e/f'), 'utf8'), 'x\n');
  t.is(await readlink(join(h, 'got-d/l')), 'e');
  await mkdir(join(h, 'existing'));
  await ok(['cp', `${name}:/out/d`, join(h, 'existing')]);
  t.true(existsSync(join(h, 'existing/d/e/f')));
  await mkdir(join(h, 'flat'));
  await ok(['cp', `${name}:/out/d/.`, join(h, 'flat')]);
  t.deepEqual((await readdir(join(h, 'flat'))).sort(), ['e', 'l']);
});

test('ownership: the archive uid/gid by default, the container user with -a; -L follows a symlink', async (t) => {
  const { ok, name, sh } = await container(t, { args: ['-u', '4321:4322'] });
  const h = await hostDir(t);
  await writeFile(join(h, 'owned'), 'o');
  await chown(join(h, 'owned'), 1234, 2345);
  await ok(['cp', join(h, 'owned'), `${name}:/tmp/plain`]);
  await ok(['cp', '-a', join(h, 'owned'), `${name}:/tmp/archive`]);
  t.is(await sh('stat -c %u:%g /tmp/plain /tmp/archive'), '1234:2345\n4321:4322\n');

  await sh('echo target > /tmp/t && ln -s /tmp/t /tmp/link');
  await ok(['cp', `${name}:/tmp/link`, join(h, 'nofollow')]);
  t.is(await readlink(join(h, 'nofollow')), '/tmp/t');
  await ok(['cp', '-L', `${name}:/tmp/link`, join(h, 'follow')]);
  t.is(await readFile(join(h, 'follow'), 'utf8'), 'target\n');
});

test('HEAD gives the stat header; missing paths are 404 with dockerd message', async (t) => {
  const { host, cli, name, sh } = await container(t);
  await sh('mkdir -p /s && echo abc > /s/f && ln -s /s /sl');
  const head = async (p: string) =>
    api(host, 'HEAD', `/v1.41/containers/${name}/archive?path=${encodeURIComponent(p)}`);
  const decode = (h: string | string[] | undefined) =>
    JSON.parse(Buffer.from(String(h), 'base64').toString()) as Record<string, unknown>;
  const f = await head('/s/f');
  t.is(f.status, 200);
  const st = decode(f.headers['x-docker-container-path-stat']);
  t.like(st, { name: 'f', size: 4, mode: 0o644, linkTarget: '' });
  t.regex(String(st.mtime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  t.like(decode((await head('/s')).headers['x-docker-container-path-stat']), { name: 's', mode: 2 ** 31 + 0o755 });
  t.like(decode((await head('/sl')).headers['x-docker-container-path-stat']), {
    name: 'sl',
    mode: 2 ** 27 + 0o777,
    linkTarget: '/s',
  });
  t.like(decode((await head('/sl/')).headers['x-docker-container-path-stat']), { name: 'sl', mode: 2 ** 31 + 0o755 });
  t.is((await head('/nope')).status, 404);
  const get = await api(host, 'GET', `/v1.41/containers/${name}/archive?path=/nope/x`);
  t.is(get.status, 404);
  t.deepEqual(get.json, { message: `Could not find the file /nope/x in container ${name}` });
  const empty = await api(host, 'GET', `/v1.41/containers/${name}/archive?path=`);
  t.is(empty.status, 400);
  t.is((await api(host, 'GET', `/v1.41/containers/no-such-${uniq()}/archive?path=/`)).status, 404);
  // /etc/hosts is the file the core binds over the image's, as in the container.
  const h = await hostDir(t);
  await cli(['cp', `${name}:/etc/hosts`, join(h, 'hosts')]);
  t.is(await readFile(join(h, 'hosts'), 'utf8'), await sh('cat /etc/hosts'));
  const r = await cli(['cp', `${name}:/nope`, '/tmp']);
  t.not(r.code, 0);
  t.regex(r.stderr, /Could not find the file \/nope in container|No such container:path/);
});

test('a stopped container: in and out through its mounted rootfs, seen by the next start', async (t) => {
  const { ok, cli, name } = await container(t, { create: true });
  const h = await hostDir(t);
  await writeFile(join(h, 'f'), 'before start\n');
  await ok(['cp', join(h, 'f'), `${name}:/f`]);
  await ok(['cp', `${name}:/etc/passwd`, join(h, 'passwd')]);
  t.regex(await readFile(join(h, 'passwd'), 'utf8'), /^root:/);
  await ok(['start', name]);
  t.is((await ok(['exec', name, 'cat', '/f'])).stdout, 'before start\n');
  await ok(['stop', '-t', '0', name]);
  await ok(['cp', `${name}:/f`, join(h, 'back')]);
  t.is(await readFile(join(h, 'back'), 'utf8'), 'before start\n');
  t.is((await cli(['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Names}}'])).stdout.trim(), name);
});

test('volumes and bind mounts: cp reads and writes the mounted source; read-only ones refuse', async (t) => {
  const h = await hostDir(t);
  await mkdir(join(h, 'bind'));
  await mkdir(join(h, 'robind'));
  const vol = `cpvol-${uniq()}`;
  const { host, ok, cli, name, sh, image } = await container(t, {
    args: ['-v', `${vol}:/vol`, '-v', `${join(h, 'bind')}:/bind`, '-v', `${join(h, 'robind')}:/ro:ro`],
  });
  t.teardown(async () => {
    await cli(['volume', 'rm', '-f', vol]);
  });
  await writeFile(join(h, 'f'), 'into volume\n');
  await ok(['cp', join(h, 'f'), `${name}:/vol/f`]);
  await ok(['cp', join(h, 'f'), `${name}:/bind/f`]);
  t.is(await readFile(join(h, 'bind/f'), 'utf8'), 'into volume\n');
  t.is(await sh('cat /vol/f'), 'into volume\n');
  await sh('echo from-container > /vol/g');
  await ok(['cp', `${name}:/vol/g`, join(h, 'g')]);
  t.is(await readFile(join(h, 'g'), 'utf8'), 'from-container\n');
  const ro = await cli(['cp', join(h, 'f'), `${name}:/ro/f`]);
  t.not(ro.code, 0);
  t.regex(ro.stderr, /mounted volume is marked read-only/);
  t.false(existsSync(join(h, 'robind/f')));
  // An archive entry that enters the read-only mount from above it is refused too.
  await mkdir(join(h, 'up/ro'), { recursive: true });
  await writeFile(join(h, 'up/ro/x'), 'x');
  await runOk('tar', ['-cf', join(h, 'up.tar'), '-C', join(h, 'up'), 'ro']);
  const put = await api(host, 'PUT', `/v1.41/containers/${name}/archive?path=/`, await readFile(join(h, 'up.tar')), {
    headers: { 'content-type': 'application/x-tar' },
  });
  t.is(put.status, 500);
  t.regex(String((put.json as { message: string }).message), /read-only file system/);
  t.false(existsSync(join(h, 'robind/x')));
  // Another container sees what cp wrote into the volume.
  const other = await ok(['run', '--rm', '-v', `${vol}:/v`, image, 'cat', '/v/f']);
  t.is(other.stdout, 'into volume\n');
});

test('errors: missing destination parent, file as destination dir, read-only rootfs', async (t) => {
  const { host, cli, name } = await container(t);
  const h = await hostDir(t);
  await writeFile(join(h, 'f'), 'x');
  const missing = await cli(['cp', join(h, 'f'), `${name}:/no/such/dir/x`]);
  t.not(missing.code, 0);
  t.regex(missing.stderr, /no\/such\/dir/);
  const put = await api(host, 'PUT', `/v1.41/containers/${name}/archive?path=/etc/passwd`, Buffer.alloc(1024), {
    headers: { 'content-type': 'application/x-tar' },
  });
  t.is(put.status, 500);
  t.deepEqual(put.json, { message: 'extraction point is not a directory' });
  const bad = await api(host, 'PUT', `/v1.41/containers/${name}/archive?path=/tmp`, Buffer.from('not a tar at all'), {
    headers: { 'content-type': 'application/x-tar' },
  });
  t.is(bad.status, 500);
  t.regex(String((bad.json as { message: string }).message), /^Error processing tar file/);

  const roc = await container(t, { args: ['--read-only'] });
  const r = await roc.cli(['cp', join(h, 'f'), `${roc.name}:/tmp/`]);
  t.not(r.code, 0);
  t.regex(r.stderr, /container rootfs is marked read-only/);
  await alive(t, host);
});

test('hostile: a symlink to / or to a host path as destination writes nothing on the host', async (t) => {
  const { cli, name, sh } = await container(t);
  const h = await hostDir(t);
  const marker = `skiff-cp-marker-${uniq()}`;
  await writeFile(join(h, marker), 'marker');
  await mkdir(join(h, 'victim'));
  await sh(`ln -s / /evil && ln -s ${join(h, 'victim')} /evil2 && mkdir -p /w && ln -s ${join(h, 'victim')} /w/link`);
  const r1 = await cli(['cp', join(h, marker), `${name}:/evil/`]);
  t.is(r1.code, 0, r1.stderr);
  t.false(existsSync(`/${marker}`), 'nothing written at the host /');
  t.is(await sh(`cat /${marker}`), 'marker');
  // The host path does not exist in the container: an error, and nothing in the host dir.
  const r2 = await cli(['cp', join(h, marker), `${name}:/evil2/`]);
  t.not(r2.code, 0);
  t.deepEqual(await readdir(join(h, 'victim')), []);
  // Through a hostile tar too: the entry named like the link replaces it, never writes through it.
  const tarDir = join(h, 'tar');
  await mkdir(tarDir);
  await writeFile(join(tarDir, 'link'), 'replaced');
  const r3 = await cli(['cp', `${tarDir}/.`, `${name}:/w`]);
  t.is(r3.code, 0, r3.stderr);
  t.is(await sh('cat /w/link'), 'replaced');
  t.deepEqual(await readdir(join(h, 'victim')), []);
});

test('hostile: chmod through a symlink never reaches the host file', async (t) => {
  const { cli, name, sh } = await container(t);
  const h = await hostDir(t);
  const victim = join(h, 'victim');
  await writeFile(victim, 'host');
  await chmod(victim, 0o600);
  await sh(`mkdir -p /d && ln -s ${victim} /d/victim && ln -s ${victim} /d/victimdir`);
  const src = join(h, 'src');
  await mkdir(join(src, 'victimdir'), { recursive: true });
  await writeFile(join(src, 'victim'), 'new');
  await chmod(join(src, 'victim'), 0o777);
  await chmod(join(src, 'victimdir'), 0o777);
  // The CLI asks noOverwriteDirNonDir: the dir entry over the link is refused, the file replaces it.
  const r = await cli(['cp', `${src}/.`, `${name}:/d`]);
  t.not(r.code, 0);
  t.regex(r.stderr, /cannot overwrite non-directory/);
  t.is((await stat(victim)).mode & 0o777, 0o600);
  t.is(await readFile(victim, 'utf8'), 'host');
  await rm(join(src, 'victimdir'), { recursive: true });
  t.is((await cli(['cp', `${src}/.`, `${name}:/d`])).code, 0);
  t.is((await stat(victim)).mode & 0o777, 0o600);
  t.is(await sh('stat -c %a /d/victim; cat /d/victim'), '777\nnew');
});

test('hostile: compressed uploads are decompressed by the daemon, never by a tar or xz of the container', async (t) => {
  const { host, name, sh } = await container(t);
  const h = await hostDir(t);
  const marker = join(h, 'ran');
  const fake = `#!/bin/sh\ntouch ${marker}\ntouch /ran-in-container\nexit 1\n`;
  for (const bin of ['xz', 'tar', 'unpigz', 'gzip', 'bzip2', 'zstd']) {
    await sh(
      `for d in /bin /usr/bin /usr/local/bin /sbin; do mkdir -p $d; rm -f $d/${bin}; printf '%s' '${fake}' > $d/${bin}; chmod 755 $d/${bin}; done`,
    );
  }
  await mkdir(join(h, 'src'));
  await writeFile(join(h, 'src/payload'), 'payload\n');
  await sh('mkdir /up');
  for (const [flag, label] of [
    ['-cJf', 'xz'],
    ['-czf', 'gzip'],
    ['-cjf', 'bzip2'],
  ] as const) {
    const archive = join(h, `a.${label}`);
    await runOk('tar', [flag, archive, '-C', join(h, 'src'), 'payload']);
    const put = await api(host, 'PUT', `/v1.41/containers/${name}/archive?path=/up`, await readFile(archive), {
      headers: { 'content-type': 'application/x-tar' },
    });
    t.is(put.status, 200, `${label}: ${put.body}`);
    t.is(await sh('cat /up/payload && rm /up/payload'), 'payload\n', label);
  }
  const zst = await run('sh', ['-c', `tar -cf - -C ${join(h, 'src')} payload | zstd -q -c > ${join(h, 'a.zst')}`]);
  if (zst.code === 0) {
    const put = await api(host, 'PUT', `/v1.41/containers/${name}/archive?path=/up`, await readFile(join(h, 'a.zst')), {
      headers: { 'content-type': 'application/x-tar' },
    });
    t.is(put.status, 200, put.body);
  }
  // Corrupt compressed data is an archive error.
  for (const magic of [
    [0x1f, 0x8b, 0x08],
    [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
  ]) {
    const bad = await api(
      host,
      'PUT',
      `/v1.41/containers/${name}/archive?path=/up`,
      Buffer.concat([Buffer.from(magic), Buffer.alloc(600, 0x41)]),
      { headers: { 'content-type': 'application/x-tar' } },
    );
    t.is(bad.status, 500, bad.body);
    t.regex(String((bad.json as { message: string }).message), /^Error processing tar file/);
  }
  t.false(existsSync(marker), 'no binary of the container ran on the host');
  t.is(await sh('ls /ran-in-container 2>/dev/null || echo none'), 'none\n');
  await alive(t, host);
});

test('hostile: a container racing to swap a directory for a symlink to the host never gets a host read or write', async (t) => {
  const { host, cli, name, sh } = await container(t);
  const h = await hostDir(t);
  const secretDir = join(h, 'secretdir');
  await mkdir(secretDir);
  await writeFile(join(secretDir, 'secret'), 'HOST SECRET\n');
  // In the container, the same path holds harmless content; /race/d is swapped for a link to it
  // and to / in a loop.
  await sh(`mkdir -p ${secretDir} /race/d && echo container > ${secretDir}/secret && echo container > /race/d/secret`);
  await cli([
    'exec',
    '-d',
    name,
    'sh',
    '-c',
    `while :; do mv /race/d /race/t; ln -s ${secretDir} /race/d; rm /race/d; ln -s / /race/d; rm /race/d; mv /race/t /race/d; done`,
  ]);
  const out = join(h, 'out');
  await writeFile(join(h, 'w-file'), 'written\n');
  let ok = 0;
  for (let i = 0; i < 25; i++) {
    const got = join(out, String(i));
    await mkdir(got, { recursive: true });
    const r = await cli(['cp', `${name}:/race/d/.`, got]);
    if (r.code === 0) ok++;
    if (existsSync(join(got, 'secret'))) t.not(await readFile(join(got, 'secret'), 'utf8'), 'HOST SECRET\n');
    const w = await cli(['cp', join(h, 'w-file'), `${name}:/race/d/`]);
    if (w.code === 0) ok++;
  }
  t.log(`${ok} of 50 copies went through while racing`);
  t.deepEqual(await readdir(secretDir), ['secret'], 'nothing written into the host dir');
  t.is(await readFile(join(secretDir, 'secret'), 'utf8'), 'HOST SECRET\n');
  t.false(existsSync('/w-file'), 'nothing written at the host /');
  await alive(t, host);
});
