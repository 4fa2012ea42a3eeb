import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import test from 'ava';
import { FileContentStore } from '../content/content-store.js';
import { NotFoundError, UpstreamError } from '../plugin-api/errors.js';
import { parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { MediaTypes } from './registry-manifest.js';
import { pushTinyImage, type RegistryFixture, startRegistry } from './testing/registry-fixture.js';

// Against Debian's real Distribution registry, with images built by umoci and pushed by skopeo.

let registry: RegistryFixture;
let root: string;

test.before(async () => {
  registry = await startRegistry();
  root = await mkdtemp(join(tmpdir(), 'skiff-real-registry-'));
});

test.after.always(async () => {
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

function newClient(t: { teardown(fn: () => Promise<void>): void }): RegistryClient {
  const c = new RegistryClient({ userAgent: 'skiff-test', timeoutMs: 15_000 });
  t.teardown(() => c.close());
  return c;
}

test('resolves and pulls an OCI image pushed by skopeo', async (t) => {
  const digest = await pushTinyImage(registry.host, 'tiny', 'v1', { files: { '/hello.txt': 'hello skiff\n' } });
  const c = newClient(t);
  const ref = parseReference(`${registry.host}/tiny:v1`);
  const r = await c.resolve(ref);
  t.is(r.manifestDigest, digest);
  t.is(r.mediaType, MediaTypes.OciManifest);
  t.is(r.layers.length, 1);

  const store = new FileContentStore(join(root, 'oci'));
  await c.pullBlob(ref, r.config, store);
  const config = JSON.parse((await store.readBytes(r.config.digest)).toString());
  t.is(config.os, 'linux');
  t.is(config.rootfs.diff_ids.length, 1);

  const sizes: number[] = [];
  await c.pullBlob(ref, r.layers[0]!, store, { onProgress: (cur) => sizes.push(cur) });
  t.is(sizes.at(-1), r.layers[0]!.size);
  const tar = gunzipSync(await store.readBytes(r.layers[0]!.digest));
  t.true(tar.includes(Buffer.from('hello skiff\n')));
  t.deepEqual(await c.pullBlob(ref, r.layers[0]!, store), { alreadyExists: true });

  // By digest, too.
  const byDigest = await c.resolve(parseReference(`${registry.host}/tiny@${digest}`));
  t.is(byDigest.manifestDigest, digest);
});

test('resolves a Docker schema 2 image', async (t) => {
  const digest = await pushTinyImage(registry.host, 'dockerfmt', 'v1', { format: 'v2s2' });
  const r = await newClient(t).resolve(parseReference(`${registry.host}/dockerfmt:v1`));
  t.is(r.manifestDigest, digest);
  t.is(r.mediaType, MediaTypes.DockerManifest);
  t.is(r.config.mediaType, MediaTypes.DockerConfig);
  t.is(r.layers[0]?.mediaType, MediaTypes.DockerLayer);
});

test('picks the platform manifest from an index stored in the registry', async (t) => {
  const amd = await pushTinyImage(registry.host, 'multi', 'amd64', { architecture: 'amd64' });
  const arm = await pushTinyImage(registry.host, 'multi', 'arm64', { architecture: 'arm64' });
  const c = newClient(t);
  const sizeOf = async (tag: string) =>
    (await c.resolve(parseReference(`${registry.host}/multi:${tag}`))).manifestBytes.length;
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.OciIndex,
    manifests: [
      {
        mediaType: MediaTypes.OciManifest,
        digest: amd,
        size: await sizeOf('amd64'),
        platform: { os: 'linux', architecture: 'amd64' },
      },
      {
        mediaType: MediaTypes.OciManifest,
        digest: arm,
        size: await sizeOf('arm64'),
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
    ],
  });
  const put = await fetch(`http://${registry.host}/v2/multi/manifests/v1`, {
    method: 'PUT',
    headers: { 'content-type': MediaTypes.OciIndex },
    body: index,
  });
  t.is(put.status, 201, await put.text());
  const indexDigest = put.headers.get('docker-content-digest');

  const ref = parseReference(`${registry.host}/multi:v1`);
  const onArm = await c.resolve(ref, { platform: { os: 'linux', architecture: 'arm64' } });
  t.is(onArm.manifestDigest, arm);
  t.is(onArm.indexDigest, indexDigest ?? undefined);
  const onAmd = await c.resolve(ref, { platform: { os: 'linux', architecture: 'amd64' } });
  t.is(onAmd.manifestDigest, amd);
  await t.throwsAsync(c.resolve(ref, { platform: { os: 'linux', architecture: 'riscv64' } }), {
    instanceOf: NotFoundError,
    message: 'no matching manifest for linux/riscv64 in the manifest list entries',
  });
});

test('an unknown repository or tag is a 404 with dockerd wording', async (t) => {
  const c = newClient(t);
  await t.throwsAsync(c.resolve(parseReference(`${registry.host}/nope`)), {
    instanceOf: NotFoundError,
    message: `manifest for ${registry.host}/nope:latest not found: manifest unknown: manifest unknown`,
  });
});

test('a stopped registry is reported as connection refused', async (t) => {
  const other = await startRegistry();
  await other.stop();
  const err = await t.throwsAsync(newClient(t).resolve(parseReference(`${other.host}/x:v1`)), {
    instanceOf: UpstreamError,
  });
  t.is(err?.message, `Get "http://${other.host}/v2/": dial tcp ${other.host}: connect: connection refused`);
});
