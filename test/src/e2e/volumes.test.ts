import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api, docker, driverDaemons } from '../harness/index.js';
import { type Layer, layerOf, MediaTypes, pushBlob, pushManifest } from '../harness/image-builder.js';
import { startRestartableDaemon } from '../harness/restartable.js';

// Volumes through the docker CLI: named and anonymous volumes, binds, --mount, copy-up, rm -v, the volume API.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const cli = (...args: string[]) => docker(args, { host: d.dockerHost });
  return { d, reg, cli };
}

/** Tags `busybox:<tag>`: busybox with `Volumes` set in its config, and an extra layer if given. */
async function pushVolumeImage(registryHost: string, tag: string, volumes: Record<string, object>, extra?: Layer) {
  const accept = { accept: MediaTypes.OciManifest };
  const manifest = (await (
    await fetch(`http://${registryHost}/v2/busybox/manifests/latest`, { headers: accept })
  ).json()) as {
    config: { digest: string; size: number; mediaType: string };
    layers: Array<{ digest: string; size: number; mediaType: string }>;
  };
  const config = (await (await fetch(`http://${registryHost}/v2/busybox/blobs/${manifest.config.digest}`)).json()) as {
    config: Record<string, unknown>;
    rootfs: { diff_ids: string[] };
  };
  config.config.Volumes = volumes;
  if (extra) {
    await pushBlob(registryHost, 'busybox', extra);
    manifest.layers.push({ digest: extra.digest, size: extra.size, mediaType: extra.mediaType });
    config.rootfs.diff_ids.push(extra.diffId);
  }
  const bytes = Buffer.from(JSON.stringify(config));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await pushBlob(registryHost, 'busybox', { bytes, size: bytes.length, digest });
  manifest.config = { ...manifest.config, digest, size: bytes.length };
  await pushManifest(registryHost, 'busybox', tag, Buffer.from(JSON.stringify(manifest)), MediaTypes.OciManifest);
  return `${registryHost}/busybox:${tag}`;
}

/** A layer with the symlinks `/escape -> <target>` and `/up -> ../../../../..` (made with tar(1)). */
async function symlinkLayer(target: string): Promise<Layer> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-vol-layer-'));
  try {
    await symlink(target, join(dir, 'escape'));
    await symlink('../../../../..', join(dir, 'up'));
    const tar = await new Promise<Buffer>((resolve, reject) => {
      execFile('tar', ['-C', dir, '-cf', '-', 'escape', 'up'], { encoding: 'buffer' }, (err, out) =>
        err ? reject(err) : resolve(out),
      );
    });
    return layerOf(tar);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a named volume keeps data across containers; ro mounts are read-only; 409 while in use', async (t) => {
  const { reg, cli } = await setup();
  const vol = `data-${uid()}`;
  const w = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '-v',
    `${vol}:/data`,
    reg.image,
    'sh',
    '-c',
    'echo hello > /data/f',
  );
  t.is(w.code, 0, w.stderr);
  const r = await cli('run', '--rm', '--network', 'none', '-v', `${vol}:/data:ro`, reg.image, 'cat', '/data/f');
  t.is(r.stdout, 'hello\n', r.stderr);
  const ro = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '-v',
    `${vol}:/data:ro`,
    reg.image,
    'sh',
    '-c',
    'echo x > /data/g',
  );
  t.not(ro.code, 0);
  t.regex(ro.stderr, /Read-only file system/);

  const holder = `hold-${uid()}`;
  t.is((await cli('create', '--name', holder, '--network', 'none', '-v', `${vol}:/data`, reg.image, 'true')).code, 0);
  const busy = await cli('volume', 'rm', vol);
  t.not(busy.code, 0);
  t.regex(busy.stderr, /volume is in use/);
  const insp = JSON.parse((await cli('inspect', holder)).stdout) as Array<{ Mounts: Array<Record<string, unknown>> }>;
  t.like(insp[0]!.Mounts[0], { Type: 'volume', Name: vol, Destination: '/data', Driver: 'local', RW: true });
  t.is((await cli('rm', holder)).code, 0);
  t.is((await cli('volume', 'rm', vol)).code, 0);
  t.not((await cli('volume', 'inspect', vol)).code, 0);
});

test('binds: -v creates a missing source, --mount type=bind refuses it; readonly and tmpfs mounts', async (t) => {
  const { reg, cli } = await setup();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-vol-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'in'), 'from host\n');
  const r = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '-v',
    `${dir}:/h`,
    reg.image,
    'sh',
    '-c',
    'cat /h/in; echo back > /h/out',
  );
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'from host\n');
  t.is(await readFile(join(dir, 'out'), 'utf8'), 'back\n');
  const missing = join(dir, 'made', 'by', 'v');
  t.is((await cli('run', '--rm', '--network', 'none', '-v', `${missing}:/m`, reg.image, 'true')).code, 0);
  t.true((await stat(missing)).isDirectory());
  const refused = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '--mount',
    `type=bind,src=${join(dir, 'nope')},dst=/m`,
    reg.image,
    'true',
  );
  t.not(refused.code, 0);
  t.regex(refused.stderr, /bind source path does not exist/);
  const ro = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '--mount',
    `type=bind,src=${dir},dst=/h,readonly`,
    reg.image,
    'sh',
    '-c',
    'touch /h/x',
  );
  t.not(ro.code, 0);
  const tmp = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '--mount',
    'type=tmpfs,dst=/t,tmpfs-size=1048576',
    reg.image,
    'sh',
    '-c',
    'grep " /t " /proc/mounts',
  );
  t.is(tmp.code, 0, tmp.stderr);
  t.regex(tmp.stdout, /tmpfs \/t tmpfs .*size=1024k/);
});

test('image VOLUME: a new anonymous volume is populated from the image; rm -v removes it', async (t) => {
  const { reg, cli } = await setup();
  const image = await pushVolumeImage(reg.host, `vol-${uid()}`, { '/etc': {} });
  const name = `anon-${uid()}`;
  const run = await cli(
    'run',
    '--name',
    name,
    '--network',
    'none',
    image,
    'sh',
    '-c',
    'ls /etc; grep " /etc " /proc/mounts',
  );
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /passwd/);
  const insp = JSON.parse((await cli('inspect', name)).stdout) as Array<{
    Mounts: Array<{ Name: string; Source: string; Type: string }>;
  }>;
  const m = insp[0]!.Mounts.find((x) => x.Type === 'volume');
  t.truthy(m);
  const ls = await cli('volume', 'ls', '-q');
  t.true(ls.stdout.split('\n').includes(m!.Name));
  t.true((await stat(join(m!.Source, 'passwd'))).isFile());
  t.is((await cli('rm', '-v', name)).code, 0);
  t.false((await cli('volume', 'ls', '-q')).stdout.split('\n').includes(m!.Name));
});

test('image Volumes with .. and hostile -v/--mount input are refused', async (t) => {
  const { d, reg, cli } = await setup();
  const image = await pushVolumeImage(reg.host, `evil-${uid()}`, { '/../../tmp/skiff-escape': {} });
  const evil = await cli('create', '--network', 'none', image, 'true');
  t.not(evil.code, 0);
  for (const args of [
    ['-v', 'a/b:/x'],
    ['-v', 'vol:/x:bogus'],
    ['-v', 'vol:relative'],
    ['--mount', 'type=tmpfs,src=x,dst=/t'],
    ['--volume-driver', 'nosuch', '-v', `vd-${uid()}:/d`],
  ]) {
    const r = await cli('create', '--network', 'none', ...args, reg.image, 'true');
    t.not(r.code, 0, args.join(' '));
  }
  // The CLI makes relative -v sources absolute; the API must refuse them (they would be volume names).
  for (const bind of ['../x:/x', 'x:/../../etc', '/tmp:/', ':/x', 'vol:/x:ro,rw']) {
    const r = await api(d.dockerHost, 'POST', '/v1.41/containers/create', {
      Image: reg.image,
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'none', Binds: [bind] },
    });
    t.is(r.status, 400, `${bind}: ${r.body}`);
  }
});

test('volume API: create with options, ls filters, inspect, prune; bad names and options', async (t) => {
  const { d, reg, cli } = await setup();
  const image = reg.image;
  const a = `api-${uid()}`;
  const info = JSON.parse((await api(d.dockerHost, 'GET', '/v1.41/info')).body) as { Plugins: { Volume: string[] } };
  t.deepEqual(info.Plugins.Volume, ['local']);
  const c = await cli('volume', 'create', '--label', 'team=x', a);
  t.is(c.code, 0, c.stderr);
  const fill = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '-v',
    `${a}:/v`,
    image,
    'sh',
    '-c',
    'head -c 5000 /dev/zero > /v/f',
  );
  t.is(fill.code, 0, fill.stderr);
  const insp = JSON.parse((await cli('volume', 'inspect', a)).stdout) as Array<Record<string, unknown>>;
  t.like(insp[0], { Name: a, Driver: 'local', Scope: 'local', Labels: { team: 'x' } });
  t.true(String(insp[0]!.Mountpoint).endsWith(`/${a}/_data`));
  const f = await cli('volume', 'ls', '-q', '--filter', 'label=team=x', '--filter', `name=${a}`);
  t.is(f.stdout.trim(), a);
  const dangling = await cli('volume', 'ls', '-q', '--filter', 'dangling=true');
  t.true(dangling.stdout.split('\n').includes(a));
  for (const bad of ['a', 'x/y', '..', '.hidden']) {
    const r = await api(d.dockerHost, 'POST', '/v1.41/volumes/create', { Name: bad });
    t.is(r.status, 400, bad);
  }
  const opt = await api(d.dockerHost, 'POST', '/v1.41/volumes/create', {
    Name: `o-${uid()}`,
    DriverOpts: { bogus: '1' },
  });
  t.is(opt.status, 400);
  const tmpfs = `tmpfs-${uid()}`;
  t.is((await cli('volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', tmpfs)).code, 0);
  const tr = await cli('run', '--rm', '--network', 'none', '-v', `${tmpfs}:/t`, image, 'grep', ' /t ', '/proc/mounts');
  t.is(tr.code, 0, tr.stderr);
  t.regex(tr.stdout, /^tmpfs \/t tmpfs .*size=1024k/);
  t.is((await api(d.dockerHost, 'GET', `/v1.41/volumes/no-such-${uid()}`)).status, 404);
  t.is((await api(d.dockerHost, 'DELETE', `/v1.41/volumes/no-such-${uid()}?force=1`)).status, 204);
  const prune = await api(
    d.dockerHost,
    'POST',
    `/v1.41/volumes/prune?filters=${encodeURIComponent('{"label":{"team=x":true}}')}`,
  );
  t.is(prune.status, 200);
  t.deepEqual(JSON.parse(prune.body), { VolumesDeleted: [a], SpaceReclaimed: 5000 });
  await cli('volume', 'rm', tmpfs);
});

test('--volumes-from shares mounts (ro override); -v /path and --rm anonymous volumes go with the container', async (t) => {
  const { d, reg, cli } = await setup();
  const src = `src-${uid()}`;
  const vol = `shared-${uid()}`;
  t.is(
    (await cli('create', '--name', src, '--network', 'none', '-v', `${vol}:/shared`, '-v', '/anon', reg.image, 'true'))
      .code,
    0,
  );
  const w = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '--volumes-from',
    src,
    reg.image,
    'sh',
    '-c',
    'echo 1 > /shared/a && echo 2 > /anon/b',
  );
  t.is(w.code, 0, w.stderr);
  const ro = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '--volumes-from',
    `${src}:ro`,
    reg.image,
    'sh',
    '-c',
    'cat /shared/a /anon/b; touch /shared/c',
  );
  t.is(ro.stdout, '1\n2\n');
  t.not(ro.code, 0);
  const insp = JSON.parse((await cli('inspect', src)).stdout) as Array<{
    Mounts: Array<{ Name: string; Destination: string }>;
  }>;
  const anon = insp[0]!.Mounts.find((m) => m.Destination === '/anon')!.Name;
  t.regex(anon, /^[0-9a-f]{64}$/);
  // The borrowers were removed with --rm: the anonymous volume belongs to src and survives them.
  t.is((await api(d.dockerHost, 'GET', `/v1.41/volumes/${anon}`)).status, 200);
  t.is((await api(d.dockerHost, 'DELETE', `/v1.41/volumes/${anon}`)).status, 409);
  t.is((await cli('rm', '-v', src)).code, 0);
  t.is((await api(d.dockerHost, 'GET', `/v1.41/volumes/${anon}`)).status, 404);
  t.is((await api(d.dockerHost, 'GET', `/v1.41/volumes/${vol}`)).status, 200, 'named volumes stay after rm -v');
  t.is((await cli('volume', 'rm', vol)).code, 0);

  const before = new Set((await cli('volume', 'ls', '-q')).stdout.split('\n'));
  const tmp = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '-v',
    '/scratch',
    reg.image,
    'sh',
    '-c',
    'touch /scratch/x',
  );
  t.is(tmp.code, 0, tmp.stderr);
  const after = (await cli('volume', 'ls', '-q')).stdout.split('\n').filter((n) => n && !before.has(n));
  t.deepEqual(after, [], 'docker run --rm removed its anonymous volume');
});

test('a running container holds its volume: rm is refused, prune leaves it; stop and rm release it', async (t) => {
  const { d, reg, cli } = await setup();
  const vol = `busy-${uid()}`;
  const name = `runner-${uid()}`;
  const label = `t${uid()}`;
  t.is((await cli('volume', 'create', '--label', label, vol)).code, 0);
  t.is(
    (await cli('run', '-d', '--name', name, '--network', 'none', '-v', `${vol}:/v`, reg.image, 'sleep', '600')).code,
    0,
  );
  t.teardown(async () => {
    await cli('rm', '-f', name);
    await cli('volume', 'rm', '-f', vol);
  });
  const del = await api(d.dockerHost, 'DELETE', `/v1.41/volumes/${vol}?force=1`);
  t.is(del.status, 409);
  t.regex(JSON.parse(del.body).message as string, /volume is in use/);
  const filters = encodeURIComponent(JSON.stringify({ label: { [label]: true } }));
  const prune = await api(d.dockerHost, 'POST', `/v1.41/volumes/prune?filters=${filters}`);
  t.deepEqual((JSON.parse(prune.body) as { VolumesDeleted: string[] }).VolumesDeleted, []);
  const ls = await cli('volume', 'ls', '-q', '--filter', `label=${label}`, '--filter', 'dangling=false');
  t.is(ls.stdout.trim(), vol);
  t.is((await cli('rm', '-f', name)).code, 0);
  const prune2 = await api(d.dockerHost, 'POST', `/v1.41/volumes/prune?filters=${filters}`);
  t.deepEqual((JSON.parse(prune2.body) as { VolumesDeleted: string[] }).VolumesDeleted, [vol]);
});

test('symlinks in the image never take a mount out of the rootfs', async (t) => {
  const { reg, cli } = await setup();
  const hostDir = join(tmpdir(), `skiff-escape-${uid()}`);
  t.teardown(() => rm(hostDir, { recursive: true, force: true }));
  const image = await pushVolumeImage(reg.host, `links-${uid()}`, {}, await symlinkLayer(`/../../../..${hostDir}`));
  const vol = `esc-${uid()}`;
  t.teardown(async () => {
    await cli('volume', 'rm', '-f', vol);
  });
  // The link points at a directory the rootfs lacks: refused, and nothing appears on the host.
  const r = await cli('run', '--rm', '--network', 'none', '-v', `${vol}:/escape/sub`, image, 'true');
  t.not(r.code, 0);
  t.false(existsSync(hostDir));
  // A link climbing above the root is refused too (it could only mean the container's own root).
  const uniq = `skiff-up-${uid()}`;
  const up = await cli('run', '--rm', '--network', 'none', '-v', `${vol}:/up/${uniq}`, image, 'true');
  t.not(up.code, 0);
  t.false(existsSync(`/${uniq}`));
  const over = await cli('run', '--rm', '--network', 'none', '-v', `${vol}:/escape`, image, 'true');
  t.not(over.code, 0, 'a mount over a symlink whose target is missing is refused');
  t.false(existsSync(hostDir));
});

test('volumes, their data and who holds them survive a daemon restart', async (t) => {
  const reg = await registry();
  const rd = await startRestartableDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(() => rd.stop());
  const cli = (...args: string[]) => docker(args, { host: rd.current.dockerHost });
  t.is((await cli('pull', reg.image)).code, 0);
  const mem = `mem-${uid()}`;
  const disk = `disk-${uid()}`;
  t.is((await cli('volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=2m', mem)).code, 0);
  const run = await cli(
    'run',
    '-d',
    '--name',
    'holder',
    '--network',
    'none',
    '-v',
    `${mem}:/m`,
    '-v',
    `${disk}:/d`,
    reg.image,
    'sh',
    '-c',
    'echo kept > /d/f; echo mem > /m/f; exec sleep 600',
  );
  t.is(run.code, 0, run.stderr);
  await rd.restart('sigterm');
  t.is((await cli('run', '--rm', '--network', 'none', '-v', `${disk}:/d`, reg.image, 'cat', '/d/f')).stdout, 'kept\n');
  // The running container still holds the device volume: its tmpfs stays mounted and shared.
  t.is((await cli('run', '--rm', '--network', 'none', '-v', `${mem}:/m`, reg.image, 'cat', '/m/f')).stdout, 'mem\n');
  // …and that second user, gone now, did not unmount it under the holder.
  t.is((await cli('run', '--rm', '--network', 'none', '-v', `${mem}:/m`, reg.image, 'cat', '/m/f')).stdout, 'mem\n');
  t.not((await cli('volume', 'rm', mem)).code, 0);
  const mounted = async () => (await readFile('/proc/self/mountinfo', 'utf8')).includes(`/${mem}/_data `);
  t.true(await mounted());
  t.is((await cli('rm', '-f', 'holder')).code, 0);
  t.false(await mounted(), 'the last holder gone, the device is unmounted');
  const rm1 = await cli('volume', 'rm', mem, disk);
  t.is(rm1.code, 0, rm1.stderr);
  t.is((await cli('volume', 'ls', '-q')).stdout, '');
});
