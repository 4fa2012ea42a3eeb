import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import test, { type ExecutionContext } from 'ava';
import tar from 'tar-stream';
import { FileContentStore } from '../content/content-store.js';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { archivePathParts, ingestArchive } from './archive-reader.js';
import { planLoad } from './image-load.js';

const sha = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

type Entry = { name: string; data?: string | Buffer; type?: 'file' | 'symlink' | 'link' | 'directory'; link?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type: e.type ?? 'file', ...(e.link ? { linkname: e.link } : {}) };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type && e.type !== 'file') pack.entry(header, cb);
      else pack.entry(header, Buffer.from(e.data ?? ''), cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function store(t: ExecutionContext): Promise<FileContentStore> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-load-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return new FileContentStore(root);
}

const blobCount = async (s: FileContentStore) =>
  (await readdir(join(s.root, 'blobs', 'sha256')).catch(() => [] as string[])).length;

/** A one-layer image: its layer tar, config and the names of both in a docker-archive. */
async function dockerImage() {
  const layer = await tarOf([{ name: 'hello.txt', data: 'hi\n' }]);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: [sha(layer)] },
    history: [{ created_by: 'test' }],
  });
  const configName = `${sha(config).slice(7)}.json`;
  return { layer, config, configName, layerName: `${sha(layer).slice(7)}/layer.tar` };
}

async function plan(t: ExecutionContext, entries: Entry[] | Buffer) {
  const s = await store(t);
  const body = Buffer.isBuffer(entries) ? entries : await tarOf(entries);
  const archive = await ingestArchive(s, Readable.from([body]));
  return { plans: await planLoad(archive), archive, store: s };
}

test('archivePathParts resolves . and .. lexically and refuses escapes', (t) => {
  t.deepEqual(archivePathParts('./a/b/../c'), ['a', 'c']);
  t.deepEqual(archivePathParts('/manifest.json'), ['manifest.json']);
  t.deepEqual(archivePathParts('a//b/'), ['a', 'b']);
  for (const bad of ['..', '../x', 'a/../../x', '', 'a\0b']) {
    t.throws(() => archivePathParts(bad), { instanceOf: InvalidParameterError }, bad);
  }
});

test('a docker-archive is planned with its names, layers, media types and digests', async (t) => {
  const img = await dockerImage();
  const manifest = JSON.stringify([
    { Config: img.configName, RepoTags: ['spy/a:v1', 'b:latest'], Layers: [img.layerName] },
  ]);
  const { plans } = await plan(t, [
    { name: img.layerName.split('/')[0]!, type: 'directory' },
    { name: img.layerName, data: img.layer },
    { name: img.configName, data: img.config },
    { name: 'manifest.json', data: manifest },
  ]);
  t.is(plans.length, 1);
  const p = plans[0]!;
  t.is(p.id, sha(img.config));
  t.is(p.manifestDigest, '');
  t.deepEqual(
    p.names.map((n) => `${n.domain}/${n.path}:${n.tag}`),
    ['docker.io/spy/a:v1', 'docker.io/library/b:latest'],
  );
  t.is(p.layers[0]?.digest, sha(img.layer));
  t.is(p.layers[0]?.diffId, sha(img.layer));
  t.is(p.layers[0]?.chainId, sha(img.layer));
  t.is(p.layers[0]?.mediaType, 'application/vnd.docker.image.rootfs.diff.tar');
});

test('gzip-compressed layers and symlinked duplicates (as old docker save writes them) are followed', async (t) => {
  const img = await dockerImage();
  const gz = gzipSync(img.layer);
  const manifest = JSON.stringify([{ Config: img.configName, RepoTags: null, Layers: ['dup/layer.tar'] }]);
  const { plans } = await plan(t, [
    { name: 'orig/layer.tar', data: gz },
    { name: 'dup/layer.tar', type: 'symlink', link: '../orig/layer.tar' },
    { name: img.configName, data: img.config },
    { name: 'manifest.json', data: manifest },
  ]);
  t.is(plans[0]?.layers[0]?.digest, sha(gz));
  t.is(plans[0]?.layers[0]?.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  t.deepEqual(plans[0]?.names, []);
});

test('an OCI layout archive is planned from index.json, verifying blob digests', async (t) => {
  const img = await dockerImage();
  const gz = gzipSync(img.layer);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(img.config), size: img.config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }],
  });
  const index = (name: string, digest = sha(manifest)) =>
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': name },
        },
      ],
    });
  const blob = (d: string) => `blobs/sha256/${d.slice(7)}`;
  const files = (idx: string): Entry[] => [
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: idx },
    { name: blob(sha(manifest)), data: manifest },
    { name: blob(sha(img.config)), data: img.config },
    { name: blob(sha(gz)), data: gz },
  ];
  const { plans } = await plan(t, files(index('spy/oci:v2')));
  t.is(plans[0]?.manifestDigest, sha(manifest));
  t.is(plans[0]?.layers[0]?.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  t.deepEqual(plans[0]?.names, [{ domain: 'docker.io', path: 'spy/oci', tag: 'v2' }]);
  // A bare tag names no repository: the image loads untagged.
  t.deepEqual((await plan(t, files(index('latest')))).plans[0]?.names, []);

  // A blob stored under another digest's name is refused.
  const lying = files(index('x:y')).map((e) => (e.name === blob(sha(gz)) ? { ...e, data: Buffer.from('not it') } : e));
  await t.throwsAsync(plan(t, lying), { instanceOf: InvalidParameterError, message: /does not match its digest/ });
  const other = sha('something else');
  await t.throwsAsync(plan(t, files(index('x:y', other))), {
    instanceOf: InvalidParameterError,
    message: /is missing/,
  });
});

test('hostile docker-archives are InvalidParameterErrors naming the problem', async (t) => {
  const img = await dockerImage();
  const base = (manifest: unknown, extra: Entry[] = []): Entry[] => [
    { name: img.layerName, data: img.layer },
    { name: img.configName, data: img.config },
    { name: 'manifest.json', data: typeof manifest === 'string' ? manifest : JSON.stringify(manifest) },
    ...extra,
  ];
  const good = { Config: img.configName, RepoTags: ['a:b'], Layers: [img.layerName] };
  const cases: [string, Entry[] | Buffer, RegExp][] = [
    ['garbage', Buffer.from('x'.repeat(3000)), /invalid archive/],
    ['empty', Buffer.alloc(0), /contains no files/],
    ['no manifest', [{ name: 'a', data: 'b' }], /neither manifest.json/],
    ['manifest not JSON', base('{nope'), /manifest.json is not valid JSON/],
    ['manifest not a list', base({}), /manifest.json is not a list/],
    ['config escaping', base([{ ...good, Config: '../../etc/passwd' }]), /escapes the archive/],
    ['absent layer', base([{ ...good, Layers: ['nope/layer.tar'] }]), /"nope\/layer.tar" is missing/],
    ['too many layers', base([{ ...good, Layers: [img.layerName, img.layerName] }]), /2 layers but its config has 1/],
    ['bad tag', base([{ ...good, RepoTags: ['UPPER:case'] }]), /RepoTags\[0\]/],
    ['digest tag', base([{ ...good, RepoTags: [`a@${sha('x')}`] }]), /is not a name:tag/],
    ['config not JSON', base([{ ...good, Config: 'c.json' }], [{ name: 'c.json', data: '[' }]), /not valid JSON/],
    [
      'config without diff ids',
      base([{ ...good, Config: 'c.json' }], [{ name: 'c.json', data: '{"rootfs":{}}' }]),
      /has no rootfs.diff_ids/,
    ],
    [
      'symlink out of the archive',
      base([{ ...good, Layers: ['l'] }], [{ name: 'l', type: 'symlink', link: '../../etc/shadow' }]),
      /escapes the archive/,
    ],
    [
      'symlink loop',
      base(
        [{ ...good, Layers: ['l1'] }],
        [
          { name: 'l1', type: 'symlink', link: 'l2' },
          { name: 'l2', type: 'symlink', link: 'l1' },
        ],
      ),
      /too many levels of links/,
    ],
    ['entry escaping', [{ name: '../x', data: 'y' }], /escapes the archive/],
  ];
  for (const [what, entries, message] of cases) {
    const s = await store(t);
    const body = Buffer.isBuffer(entries) ? entries : await tarOf(entries);
    await t.throwsAsync(
      (async () => planLoad(await ingestArchive(s, Readable.from([body]))))(),
      { instanceOf: InvalidParameterError, message },
      what,
    );
  }
});

test('a failed ingest keeps no blobs; discard keeps only what is asked for', async (t) => {
  const s = await store(t);
  const body = await tarOf([
    { name: 'a', data: 'one' },
    { name: 'b', data: 'two' },
  ]);
  const truncated = body.subarray(0, 700);
  await t.throwsAsync(ingestArchive(s, Readable.from([truncated])), { instanceOf: InvalidParameterError });
  t.is(await blobCount(s), 0);

  const archive = await ingestArchive(s, Readable.from([body]));
  t.is(await blobCount(s), 2);
  await archive.discard((d) => d === sha('one'));
  t.is(await blobCount(s), 1);
  t.true(await s.has(sha('one')));
});
