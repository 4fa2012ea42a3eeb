import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  api,
  type Daemon,
  docker,
  driverDaemons,
  runOk,
  type StorageDriverName,
  startDaemon,
} from '../harness/index.js';

// Image management with the real docker CLI: tag, rmi, history, images filters, save/load
// (docker-archive and OCI layout), import, prune — once per storage driver.

const drivers: StorageDriverName[] = ['vfs', 'overlay'];
const uid = () => randomBytes(4).toString('hex');

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

async function tmpDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-e2e-img-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A tarball of a tiny rootfs: busybox-static as /bin/busybox with sh, cat, echo and sleep, and
 * /etc/msg holding `msg` (so each test's layer, and its snapshot, is its own).
 */
async function rootfsTar(t: ExecutionContext, msg: string, opts: { gzip?: boolean } = {}): Promise<string> {
  const dir = await tmpDir(t);
  const root = path.join(dir, 'rootfs');
  await mkdir(path.join(root, 'bin'), { recursive: true });
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await copyFile('/bin/busybox', path.join(root, 'bin/busybox'));
  for (const applet of ['sh', 'cat', 'echo', 'sleep']) await symlink('busybox', path.join(root, 'bin', applet));
  await writeFile(path.join(root, 'etc/msg'), `${msg}\n`);
  const file = path.join(dir, opts.gzip ? 'rootfs.tgz' : 'rootfs.tar');
  await runOk('tar', ['-C', root, opts.gzip ? '-czf' : '-cf', file, '.']);
  return file;
}

async function ok(d: Daemon, args: string[], stdin?: Buffer): Promise<string> {
  const r = await docker(args, { host: d.dockerHost, ...(stdin ? { stdin } : {}) });
  if (r.code !== 0)
    throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}\n--- skiffd:\n${d.output()}`);
  return r.stdout;
}

/** `docker import FILE [NAME]` with `changes`; returns the image ID. */
async function importImage(d: Daemon, file: string, name?: string, changes: string[] = []): Promise<string> {
  const out = await ok(d, ['import', ...changes.flatMap((c) => ['--change', c]), file, ...(name ? [name] : [])]);
  const id = out.trim();
  if (!/^sha256:[0-9a-f]{64}$/.test(id)) throw new Error(`docker import printed ${JSON.stringify(out)}`);
  return id;
}

/** Keys of the graph driver's snapshots, read from its metadata files. */
async function snapshotKeys(d: Daemon, driver: StorageDriverName): Promise<string[]> {
  const meta = path.join(d.root, 'plugins', `storage-${driver}`, 'meta');
  const keys: string[] = [];
  for (const f of await readdir(meta)) {
    if (!f.endsWith('.json')) continue;
    // Other tests on the same daemon add and remove snapshots meanwhile.
    const text = await readFile(path.join(meta, f), 'utf8').catch(() => undefined);
    if (text !== undefined) keys.push((JSON.parse(text) as { key: string }).key);
  }
  return keys;
}

async function blobs(d: Daemon): Promise<string[]> {
  return readdir(path.join(d.root, 'content', 'blobs', 'sha256')).catch(() => []);
}

async function layersOf(d: Daemon, name: string): Promise<string[]> {
  return JSON.parse(await ok(d, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', name])) as string[];
}

async function pingOk(t: ExecutionContext, d: Daemon): Promise<void> {
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
}

/** A minimal ustar archive, for hostile inputs no tar tool would write. */
function tarball(entries: { name: string; data?: string | Buffer; type?: '0' | '2' | '5'; link?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write(e.type ?? '0', 156);
    if (e.link) h.write(e.link, 157, 100);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

for (const driver of drivers) {
  test(`${driver}: tag, history, inspect, then rmi untags and finally deletes the image and its snapshot`, async (t) => {
    const d = await daemonFor(driver);
    const name = `e2e-img-${uid()}`;
    const id = await importImage(d, await rootfsTar(t, name), `${name}:v1`);
    const [diffId] = await layersOf(d, `${name}:v1`);
    t.regex(diffId ?? '', /^sha256:[0-9a-f]{64}$/);
    const key = diffId!.slice('sha256:'.length);
    t.true((await snapshotKeys(d, driver)).includes(key), 'the imported layer is a snapshot');

    // docker tag sends repo=docker.io/… (normalised) and gets a 201.
    t.is(await ok(d, ['tag', `${name}:v1`, `spy/${name}:v9`]), '');
    const images = await ok(d, ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    t.true(images.includes(`spy/${name}:v9 ${id.slice(7, 19)}`), images);
    t.true(images.includes(`${name}:v1 ${id.slice(7, 19)}`), images);
    const tagged = await api(d.dockerHost, 'POST', `/images/${name}:v1/tag?repo=docker.io%2Fspy%2F${name}&tag=v10`);
    t.is(tagged.status, 201);
    t.is(tagged.body, '');

    const inspect = JSON.parse(await ok(d, ['image', 'inspect', `spy/${name}:v9`])) as Record<string, unknown>[];
    t.is(inspect[0]?.Id, id);
    t.deepEqual(
      [...(inspect[0]?.RepoTags as string[])].sort(),
      [`${name}:v1`, `spy/${name}:v10`, `spy/${name}:v9`].sort(),
    );

    const hist = await api(d.dockerHost, 'GET', `/images/${name}:v1/history`);
    t.is(hist.status, 200);
    const entries = hist.json as Record<string, unknown>[];
    t.is(entries.length, 1);
    t.is(entries[0]?.Id, id);
    t.is(entries[0]?.Comment, 'Imported from -');
    t.true((entries[0]?.Size as number) > 1000);
    t.deepEqual([...(entries[0]?.Tags as string[])].sort(), [...(inspect[0]?.RepoTags as string[])].sort());
    const histCli = await ok(d, ['history', '--format', '{{.ID}} {{.Comment}}', `${name}:v1`]);
    t.is(histCli.trim(), `${id.slice(7, 19)} Imported from -`);

    t.is((await ok(d, ['rmi', `spy/${name}:v9`])).trim(), `Untagged: spy/${name}:v9`);
    t.is((await ok(d, ['rmi', `spy/${name}:v10`])).trim(), `Untagged: spy/${name}:v10`);
    const out = await ok(d, ['rmi', `${name}:v1`]);
    t.deepEqual(out.trim().split('\n'), [`Untagged: ${name}:v1`, `Deleted: ${id}`, `Deleted: ${diffId}`]);
    t.false((await snapshotKeys(d, driver)).includes(key), 'the layer snapshot is gone');
    t.false((await blobs(d)).includes(key), 'the layer blob is gone');
    const gone = await docker(['image', 'inspect', `${name}:v1`], { host: d.dockerHost });
    t.is(gone.code, 1);
    t.regex(gone.stderr, /No such image/);
    const again = await docker(['rmi', `${name}:v1`], { host: d.dockerHost });
    t.is(again.code, 1);
    t.regex(again.stderr, /No such image/);
  });

  test(`${driver}: rmi conflicts with several tags and with containers, and -f untags as dockerd does`, async (t) => {
    const d = await daemonFor(driver);
    const name = `e2e-rmi-${uid()}`;
    const id = await importImage(d, await rootfsTar(t, name), `${name}:a`, ['CMD ["/bin/cat", "/etc/msg"]']);
    const short = id.slice(7, 19);
    await ok(d, ['tag', `${name}:a`, `${name}:b`]);

    const byId = await docker(['rmi', short], { host: d.dockerHost });
    t.is(byId.code, 1);
    t.regex(
      byId.stderr,
      new RegExp(
        `conflict: unable to delete ${short} \\(must be forced\\) - image is referenced in multiple repositories`,
      ),
    );
    t.is((await ok(d, ['rmi', `${name}:b`])).trim(), `Untagged: ${name}:b`);

    const ctr = `${name}-c`;
    const cid = (await ok(d, ['create', '--name', ctr, `${name}:a`])).trim();
    t.teardown(() => docker(['rm', '-f', ctr], { host: d.dockerHost }).then(() => {}));
    const used = await api(d.dockerHost, 'DELETE', `/images/${name}:a`);
    t.is(used.status, 409);
    t.deepEqual(used.json, {
      message: `conflict: unable to remove repository reference "${name}:a" (must force) - container ${cid.slice(0, 12)} is using its referenced image ${short}`,
    });
    const usedById = await docker(['rmi', short], { host: d.dockerHost });
    t.is(usedById.code, 1);
    t.regex(usedById.stderr, new RegExp(`image is being used by stopped container ${cid.slice(0, 12)}`));

    // dockerd: a forced rmi by name of an image a stopped container uses untags and deletes the
    // image record; the container keeps its layers and still runs.
    const forced = await ok(d, ['rmi', '-f', `${name}:a`]);
    t.deepEqual(forced.trim().split('\n'), [`Untagged: ${name}:a`, `Deleted: ${id}`]);
    t.is(await ok(d, ['start', '-a', ctr]), `${name}\n`);
    const ps = await ok(d, ['ps', '-a', '--filter', `name=${ctr}`, '--format', '{{.ID}}']);
    t.is(ps.trim(), cid.slice(0, 12));
  });

  test(`${driver}: a running container's image cannot be deleted, even forced; its tag can be`, async (t) => {
    const d = await daemonFor(driver);
    const name = `e2e-run-${uid()}`;
    const id = await importImage(d, await rootfsTar(t, name), name);
    const ctr = `${name}-c`;
    const cid = (await ok(d, ['run', '-d', '--name', ctr, name, '/bin/sleep', '300'])).trim();
    t.teardown(() => docker(['rm', '-f', ctr], { host: d.dockerHost }).then(() => {}));
    const r = await docker(['rmi', '-f', id], { host: d.dockerHost });
    t.is(r.code, 1);
    t.regex(
      r.stderr,
      new RegExp(
        `conflict: unable to delete ${id.slice(7, 19)} \\(cannot be forced\\) - image is being used by running container ${cid.slice(0, 12)}`,
      ),
    );
    t.is((await ok(d, ['rmi', '-f', name])).trim(), `Untagged: ${name}:latest`);
    const dangling = await ok(d, ['images', '-q', '--no-trunc', '--filter', 'dangling=true']);
    t.true(dangling.split('\n').includes(id), dangling);
  });

  test(`${driver}: docker images filters (reference, label, dangling, before, since) in both filter shapes`, async (t) => {
    const d = await daemonFor(driver);
    const n = uid();
    const tar = await rootfsTar(t, `filters-${n}`);
    const older = await importImage(d, tar, `e2e-flt-${n}/old:v1`, [`LABEL e2e.filter=${n} tier=old`]);
    const newer = await importImage(d, tar, `e2e-flt-${n}/new:v1`, [`LABEL e2e.filter=${n} tier=new`]);
    const untagged = await importImage(d, tar, undefined, [`LABEL e2e.filter=${n} tier=none`]);
    t.teardown(() => docker(['rmi', '-f', older, newer, untagged], { host: d.dockerHost }).then(() => {}));
    const ids = async (args: string[]) =>
      (await ok(d, ['images', '-q', '--no-trunc', ...args])).split('\n').filter(Boolean).sort();

    t.deepEqual(await ids([`e2e-flt-${n}/*`]), [older, newer].sort());
    t.deepEqual(await ids(['--filter', `reference=e2e-flt-${n}/new`]), [newer]);
    t.deepEqual(await ids(['--filter', `reference=e2e-flt-${n}/*:v1`]), [older, newer].sort());
    t.deepEqual(await ids(['--filter', `label=e2e.filter=${n}`]), [older, newer, untagged].sort());
    t.deepEqual(await ids(['--filter', `label=e2e.filter=${n}`, '--filter', 'label=tier=old']), [older]);
    t.deepEqual(await ids(['--filter', `label=e2e.filter=${n}`, '--filter', 'dangling=true']), [untagged]);
    t.deepEqual(await ids(['--filter', `label=e2e.filter=${n}`, '--filter', 'dangling=false']), [older, newer].sort());
    t.deepEqual(
      await ids(['--filter', `label=e2e.filter=${n}`, '--filter', `since=${older}`]),
      [newer, untagged].sort(),
    );
    t.deepEqual(await ids(['--filter', `label=e2e.filter=${n}`, '--filter', `before=${newer}`]), [older]);

    // docker-py/dockerode send filters as {"key":["value"]}.
    const q = encodeURIComponent(JSON.stringify({ label: [`e2e.filter=${n}`], dangling: ['true'] }));
    const r = await api(d.dockerHost, 'GET', `/images/json?filters=${q}`);
    t.is(r.status, 200);
    const list = r.json as Record<string, unknown>[];
    t.deepEqual(
      list.map((i) => i.Id),
      [untagged],
    );
    t.deepEqual(list[0]?.RepoTags, ['<none>:<none>']);
    t.deepEqual(list[0]?.RepoDigests, ['<none>@<none>']);
    t.is(list[0]?.Containers, -1);
    t.is(list[0]?.SharedSize, -1);
    t.is(list[0]?.Size, list[0]?.VirtualSize);

    for (const bad of [{ dangling: ['maybe'] }, { bogus: ['x'] }, { reference: ['[z-a'] }]) {
      const b = await api(d.dockerHost, 'GET', `/images/json?filters=${encodeURIComponent(JSON.stringify(bad))}`);
      t.is(b.status, 400, JSON.stringify(bad));
    }
    const missing = await api(
      d.dockerHost,
      'GET',
      `/images/json?filters=${encodeURIComponent('{"before":["nosuch:img"]}')}`,
    );
    t.is(missing.status, 404);
  });

  test(`${driver}: docker save | docker load round trip, then the loaded image runs`, async (t) => {
    const d = await daemonFor(driver);
    const dir = await tmpDir(t);
    const name = `e2e-save-${uid()}`;
    const id = await importImage(d, await rootfsTar(t, name), `${name}:v1`);
    await ok(d, ['tag', `${name}:v1`, `${name}:v2`]);
    const [diffId] = await layersOf(d, `${name}:v1`);
    const file = path.join(dir, 'save.tar');
    await ok(d, ['save', '-o', file, name]);
    const listing = (await runOk('tar', ['-tf', file])).stdout.split('\n').filter(Boolean).sort();
    const hex = diffId!.slice(7);
    t.deepEqual(
      listing,
      [`${hex}/`, `${hex}/layer.tar`, `${id.slice(7)}.json`, 'manifest.json', 'repositories'].sort(),
    );
    const manifest = JSON.parse((await runOk('tar', ['-xOf', file, 'manifest.json'])).stdout) as {
      RepoTags: string[];
      Layers: string[];
    }[];
    t.deepEqual([...(manifest[0]?.RepoTags ?? [])].sort(), [`${name}:v1`, `${name}:v2`]);
    t.deepEqual(manifest[0]?.Layers, [`${hex}/layer.tar`]);

    await ok(d, ['rmi', `${name}:v1`, `${name}:v2`]);
    t.false((await snapshotKeys(d, driver)).includes(hex));
    const loaded = await ok(d, ['load', '-i', file]);
    t.deepEqual(loaded.trim().split('\n').sort(), [`Loaded image: ${name}:v1`, `Loaded image: ${name}:v2`]);
    t.true((await snapshotKeys(d, driver)).includes(hex));
    t.is(await ok(d, ['run', '--rm', `${name}:v2`, '/bin/cat', '/etc/msg']), `${name}\n`);

    // Saving by ID leaves the names out; the archive still loads (as an untagged image).
    const byId = await api(d.dockerHost, 'GET', `/images/${id.slice(7, 19)}/get`);
    t.is(byId.status, 200);
    t.is(byId.headers['content-type'], 'application/x-tar');
    const missing = await api(d.dockerHost, 'GET', '/images/get?names=nosuch%3Aimage');
    t.is(missing.status, 404);
    await ok(d, ['rmi', `${name}:v1`, `${name}:v2`]);
  });

  test(`${driver}: a pulled image saved and loaded on another daemon runs there; prune removes dangling then unused images`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const dir = await tmpDir(t);
    const file = path.join(dir, 'busybox.tar');
    await ok(d, ['save', '-o', file, reg.image]);

    const fresh = await startDaemon({ storageDriver: driver });
    t.teardown(() => fresh.stop().then(() => {}));
    const out = await ok(fresh, ['load', '-i', file]);
    t.is(out.trim(), `Loaded image: ${reg.image}`);
    t.is(await ok(fresh, ['run', '--rm', reg.image, 'echo', 'loaded']), 'loaded\n');

    // An OCI layout archive (skopeo oci-archive) with its name in the index annotations.
    const oci = path.join(dir, 'oci.tar');
    const ociName = `e2e-oci-${uid()}:v1`;
    await runOk('skopeo', [
      '--insecure-policy',
      'copy',
      '-q',
      `oci:${reg.layout}:latest`,
      `oci-archive:${oci}:${ociName}`,
    ]);
    t.is((await ok(fresh, ['load', '-i', oci])).trim(), `Loaded image: ${ociName}`);
    t.is(await ok(fresh, ['run', '--rm', ociName, 'echo', 'oci']), 'oci\n');

    const dangling = await importImage(fresh, await rootfsTar(t, 'dangling'));
    const pruned = await ok(fresh, ['image', 'prune', '-f']);
    t.regex(pruned, new RegExp(`deleted: ${dangling}`));
    t.regex(pruned, /Total reclaimed space: [1-9]/);
    t.deepEqual(
      (await ok(fresh, ['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean).sort(),
      [reg.image, ociName].sort(),
    );
    const all = await ok(fresh, ['image', 'prune', '-a', '-f']);
    t.regex(all, new RegExp(`untagged: ${reg.image}`));
    t.is((await ok(fresh, ['images', '-q'])).trim(), '');
    t.deepEqual(await snapshotKeys(fresh, driver), []);
    t.deepEqual(await blobs(fresh), []);
    await pingOk(t, fresh);
  });

  test(`${driver}: docker import with --change, gzip and stdin; fromSrc URLs are refused`, async (t) => {
    const d = await daemonFor(driver);
    const name = `e2e-imp-${uid()}`;
    const tgz = await rootfsTar(t, name, { gzip: true });
    await importImage(d, tgz, `${name}:v1`, [
      'ENV PATH=/bin GREETING="hello there"',
      'WORKDIR /etc',
      'LABEL e2e.imp=yes',
      'EXPOSE 8080/udp 80',
      'USER 0',
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD ["echo $GREETING from $(pwd); cat msg"]',
    ]);
    t.is(await ok(d, ['run', '--rm', `${name}:v1`]), `hello there from /etc\n${name}\n`);
    const cfg = JSON.parse(await ok(d, ['image', 'inspect', '--format', '{{json .Config}}', `${name}:v1`])) as Record<
      string,
      unknown
    >;
    t.deepEqual(cfg.Labels, { 'e2e.imp': 'yes' });
    t.deepEqual(cfg.ExposedPorts, { '80/tcp': {}, '8080/udp': {} });
    t.is(cfg.User, '0');

    // From stdin, untagged.
    const stdinId = (await ok(d, ['import', '-'], await readFile(await rootfsTar(t, `${name}-stdin`)))).trim();
    t.regex(stdinId, /^sha256:[0-9a-f]{64}$/);
    t.is(await ok(d, ['run', '--rm', stdinId, '/bin/cat', '/etc/msg']), `${name}-stdin\n`);

    const url = await docker(['import', 'http://127.0.0.1:1/rootfs.tar', `${name}:url`], { host: d.dockerHost });
    t.is(url.code, 1);
    t.regex(url.stderr, /not supported/);
    const badChange = await docker(['import', '--change', 'RUN echo hi', tgz, `${name}:bad`], { host: d.dockerHost });
    t.is(badChange.code, 1);
    t.regex(badChange.stderr, /RUN is not a valid change command/);
    const notTar = await api(
      d.dockerHost,
      'POST',
      `/images/create?fromSrc=-&repo=${name}:junk`,
      'not a tarball at all',
      {
        headers: { 'Content-Type': 'application/x-tar' },
      },
    );
    t.is(notTar.status, 400);
    const images = await ok(d, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    t.false(images.includes(`${name}:url`) || images.includes(`${name}:bad`) || images.includes(`${name}:junk`));
    await ok(d, ['rmi', `${name}:v1`, stdinId]);
    await pingOk(t, d);
  });

  test(`${driver}: hostile archives are refused with 400 and leave nothing behind`, async (t) => {
    // Its own daemon: blobs and snapshots are compared before and after.
    const d = await startDaemon({ storageDriver: driver });
    t.teardown(() => d.stop().then(() => {}));
    const dir = await tmpDir(t);
    const name = `e2e-hostile-${uid()}`;
    await importImage(d, await rootfsTar(t, name), `${name}:v1`);
    const file = path.join(dir, 'good.tar');
    await ok(d, ['save', '-o', file, `${name}:v1`]);
    const [diffId] = await layersOf(d, `${name}:v1`);
    const hex = diffId!.slice(7);
    const config = (await runOk('tar', ['-tf', file])).stdout
      .split('\n')
      .find((l) => l.endsWith('.json') && l !== 'manifest.json')!;
    const configText = (await runOk('tar', ['-xOf', file, config])).stdout;
    await ok(d, ['rmi', `${name}:v1`]);
    const before = { blobs: await blobs(d), snaps: await snapshotKeys(d, driver) };
    await runOk('tar', ['-xf', file, '-C', dir]);
    const layer = await readFile(path.join(dir, hex, 'layer.tar'));
    const manifest = (layers: string[], cfg = config) =>
      JSON.stringify([{ Config: cfg, RepoTags: [`${name}:evil`], Layers: layers }]);
    const lyingLayer = Buffer.concat([layer.subarray(0, layer.length - 1024), tarball([{ name: 'evil', data: 'x' }])]);
    const cases: [string, Buffer, RegExp][] = [
      ['not a tar', Buffer.from('garbage'.repeat(200)), /invalid archive/],
      ['no manifest', tarball([{ name: 'x', data: 'y' }]), /neither manifest.json/],
      ['entry escaping the archive', tarball([{ name: '../../etc/evil', data: 'x' }]), /escapes the archive/],
      [
        'manifest naming a file outside',
        tarball([{ name: 'manifest.json', data: manifest([`${hex}/layer.tar`], '../../etc/passwd') }]),
        /escapes the archive/,
      ],
      [
        'symlink leaving the archive',
        tarball([
          { name: config, data: configText },
          { name: 'l', type: '2', link: '../../../etc/passwd' },
          { name: 'manifest.json', data: manifest(['l']) },
        ]),
        /escapes the archive/,
      ],
      [
        'missing layer',
        tarball([
          { name: config, data: configText },
          { name: 'manifest.json', data: manifest(['nope/layer.tar']) },
        ]),
        /"nope\/layer.tar" is missing/,
      ],
      [
        'more layers than diff IDs',
        tarball([
          { name: config, data: configText },
          { name: `${hex}/layer.tar`, data: layer },
          { name: 'manifest.json', data: manifest([`${hex}/layer.tar`, `${hex}/layer.tar`]) },
        ]),
        /lists 2 layers but its config has 1 diff IDs/,
      ],
      [
        'wrong diff ID',
        tarball([
          { name: config, data: configText },
          { name: `${hex}/layer.tar`, data: lyingLayer },
          { name: 'manifest.json', data: manifest([`${hex}/layer.tar`]) },
        ]),
        /does not match its diff ID/,
      ],
    ];
    for (const [what, body, message] of cases) {
      const r = await api(d.dockerHost, 'POST', '/images/load?quiet=1', body, {
        headers: { 'Content-Type': 'application/x-tar' },
      });
      t.is(r.status, 400, `${what}: ${r.body}`);
      t.regex((r.json as { message?: string } | undefined)?.message ?? '', message, what);
    }
    const cli = await docker(['load'], { host: d.dockerHost, stdin: cases[7]![1] });
    t.is(cli.code, 1);
    t.regex(cli.stderr, /does not match its diff ID/);
    t.false((await ok(d, ['images'])).includes(`${name}`));
    t.deepEqual((await blobs(d)).sort(), before.blobs.sort());
    t.deepEqual((await snapshotKeys(d, driver)).sort(), before.snaps.sort());
    t.deepEqual(await readdir(path.join(d.root, 'content', 'ingest')).catch(() => []), []);
    await pingOk(t, d);
  });
}
