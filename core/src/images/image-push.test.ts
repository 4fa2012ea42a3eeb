import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FileContentStore } from '../content/content-store.js';
import { MemoryEventBus } from '../events/event-bus.js';
import { NotFoundError } from '../plugin-api/errors.js';
import type { Logger } from '../plugin-api/logger.js';
import { ImagePusher } from './image-push.js';
import type { ImageService } from './image-service.js';
import type { ImageRecord } from './image-types.js';
import { RegistryClient } from './registry-client.js';
import { MediaTypes } from './registry-manifest.js';
import { sha256 } from './testing/fake-registry.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as unknown as Logger;

async function setup(t: { teardown(fn: () => Promise<void>): void }, layerType: string, storeManifest: boolean) {
  const root = await mkdtemp(join(tmpdir(), 'skiff-image-push-'));
  const content = new FileContentStore(root);
  const registry = new RegistryClient();
  t.teardown(async () => {
    await registry.close();
    await rm(root, { recursive: true, force: true });
  });
  const put = async (b: Buffer) => {
    const d = sha256(b);
    const w = await content.writer(`t-${d}`, { digest: d, size: b.length });
    await w.write(b);
    await w.commit(b.length, d);
    return d;
  };
  const config = Buffer.from('{"rootfs":{"type":"layers","diff_ids":["sha256:' + 'a'.repeat(64) + '"]}}');
  const id = await put(config);
  const layer = {
    digest: sha256(randomBytes(8)),
    mediaType: layerType,
    size: 8,
    diffId: `sha256:${'a'.repeat(64)}`,
    chainId: `sha256:${'a'.repeat(64)}`,
  };
  let manifestDigest = sha256('not stored');
  if (storeManifest) {
    const doc = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.OciManifest,
        config: { mediaType: MediaTypes.OciConfig, digest: id, size: config.length },
        layers: [{ mediaType: layerType, digest: layer.digest, size: 8 }],
      }),
    );
    manifestDigest = await put(doc);
  }
  const image: ImageRecord = {
    id,
    config: JSON.parse(config.toString()),
    manifestDigest,
    layers: [layer],
    size: 8,
    created: '',
  };
  const images = {
    list: () => [image],
    names: () => ({ tags: ['127.0.0.1:5000/app:v1', '127.0.0.1:5000/app:v2'], digests: [] }),
  } as unknown as ImageService;
  return {
    pusher: new ImagePusher(images, content, registry, new MemoryEventBus(), silent),
    image,
    manifestDigest,
    configSize: config.length,
  };
}

test('plan: one tag, all tags, and dockerd’s messages for what is missing', async (t) => {
  const { pusher } = await setup(t, MediaTypes.DockerLayer, false);
  t.deepEqual(
    pusher.plan('127.0.0.1:5000/app', 'v2').tags.map((x) => x.tag),
    ['v2'],
  );
  t.deepEqual(
    pusher.plan('127.0.0.1:5000/app:v1', '').tags.map((x) => x.tag),
    ['v1'],
  );
  t.deepEqual(
    pusher.plan('127.0.0.1:5000/app', '').tags.map((x) => x.tag),
    ['v1', 'v2'],
  );
  t.throws(() => pusher.plan('127.0.0.1:5000/other', 'v1'), {
    instanceOf: NotFoundError,
    message: 'An image does not exist locally with the tag: 127.0.0.1:5000/other',
  });
  t.throws(() => pusher.plan('127.0.0.1:5000/app', 'v3'), { message: 'tag does not exist: 127.0.0.1:5000/app:v3' });
  t.throws(() => pusher.plan('127.0.0.1:5000/app', 'bad tag'), { message: /invalid tag/ });
  t.throws(() => pusher.plan(`127.0.0.1:5000/app@sha256:${'b'.repeat(64)}`, ''), { message: /digest reference/ });
});

test('the manifest is rebuilt from the record with the original media types, or reused when stored', async (t) => {
  const docker = await setup(t, MediaTypes.DockerLayer, false);
  const m = await docker.pusher.manifestFor(docker.image);
  t.is(m.mediaType, MediaTypes.DockerManifest);
  t.deepEqual(m.config, { mediaType: MediaTypes.DockerConfig, size: docker.configSize, digest: docker.image.id });
  const doc = JSON.parse(m.bytes.toString());
  t.is(doc.layers[0].mediaType, MediaTypes.DockerLayer);
  t.is(doc.schemaVersion, 2);

  const stored = await setup(t, MediaTypes.OciLayerGzip, true);
  const s = await stored.pusher.manifestFor(stored.image);
  t.is(s.mediaType, MediaTypes.OciManifest);
  t.is(sha256(s.bytes), stored.manifestDigest);
});
