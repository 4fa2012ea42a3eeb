import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FileContentStore } from '../content/content-store.js';
import type { Descriptor } from '../plugin-api/content.js';
import { UnauthorizedError, UpstreamError } from '../plugin-api/errors.js';
import { parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';
import { RegistryPusher } from './registry-push.js';
import { FakeRegistry, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, sha256 } from './testing/fake-registry.js';
import { type RegistryFixture, startRegistry } from './testing/registry-fixture.js';

// Push-side protocol against Debian's real registry, and credential hygiene against fakes.

let registry: RegistryFixture;
let root: string;

test.before(async () => {
  registry = await startRegistry();
  root = await mkdtemp(join(tmpdir(), 'skiff-push-'));
});

test.after.always(async () => {
  await registry?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

function newClient(t: ExecutionContext, opts: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient {
  const c = new RegistryClient({ userAgent: 'skiff-test', timeoutMs: 15_000, ...opts });
  t.teardown(() => c.close());
  return c;
}

async function storeWith(blobs: { bytes: Buffer; mediaType: string }[]) {
  const store = new FileContentStore(join(root, randomBytes(4).toString('hex')));
  const descs: Descriptor[] = [];
  for (const b of blobs) {
    const digest = sha256(b.bytes);
    const w = await store.writer(`t-${digest}`, { digest, size: b.bytes.length });
    await w.write(b.bytes);
    await w.commit(b.bytes.length, digest);
    descs.push({ mediaType: b.mediaType, digest, size: b.bytes.length });
  }
  return { store, descs };
}

test('chunked and monolithic uploads, HEAD, cross-repository mount, manifest PUT', async (t) => {
  const layerBytes = randomBytes(300 * 1024 + 17);
  const config = Buffer.from(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const { store, descs } = await storeWith([
    { bytes: layerBytes, mediaType: OCI_LAYER },
    { bytes: config, mediaType: OCI_CONFIG },
  ]);
  const [layer, cfg] = descs as [Descriptor, Descriptor];
  const client = newClient(t);
  const pusher = new RegistryPusher(client, store, { chunkSize: 64 * 1024 });
  const repo = `push-${randomBytes(3).toString('hex')}`;
  const a = client.repository(parseReference(`${registry.host}/${repo}/a`), undefined, { push: true });

  t.false(await pusher.blobExists(a, layer));
  const progress: number[] = [];
  await pusher.uploadBlob(a, layer, undefined, { onProgress: (c) => progress.push(c) });
  t.is(progress.at(-1), layer.size);
  t.true(await pusher.blobExists(a, layer));
  await pusher.uploadBlob(a, cfg, undefined);

  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [layer] }),
  );
  const digest = await pusher.putManifest(a, 'v1', OCI_MANIFEST, manifest);
  t.is(digest, sha256(manifest));
  const resolved = await client.resolve(parseReference(`${registry.host}/${repo}/a:v1`));
  t.is(resolved.manifestDigest, digest);

  // Mounting into a second repository links the blob without sending it.
  const b = client.repository(parseReference(`${registry.host}/${repo}/b`), undefined, {
    push: true,
    mountFrom: [`${repo}/a`],
  });
  t.deepEqual(await pusher.mountBlob(b, layer.digest, `${repo}/a`), { mounted: true });
  t.true(await pusher.blobExists(b, layer));

  // A blob the source does not have: the registry opens an ordinary upload instead.
  const { store: other, descs: extra } = await storeWith([{ bytes: randomBytes(1000), mediaType: OCI_LAYER }]);
  const otherPusher = new RegistryPusher(client, other);
  const r = await otherPusher.mountBlob(b, extra[0]!.digest, `${repo}/a`);
  t.false(r.mounted);
  await otherPusher.uploadBlob(b, extra[0]!, r.mounted ? undefined : r.location);
  t.true(await otherPusher.blobExists(b, extra[0]!));
});

test('a blob missing from the content store or with the wrong size is a clear error', async (t) => {
  const { store, descs } = await storeWith([{ bytes: randomBytes(100), mediaType: OCI_LAYER }]);
  const client = newClient(t);
  const pusher = new RegistryPusher(client, store);
  const s = client.repository(parseReference(`${registry.host}/missing-blobs`), undefined, { push: true });
  const ghost = { mediaType: OCI_LAYER, digest: sha256('ghost'), size: 5 };
  await t.throwsAsync(pusher.uploadBlob(s, ghost, undefined), { message: /not in the local content store/ });
  await t.throwsAsync(pusher.uploadBlob(s, { ...descs[0]!, size: 99 }, undefined), { message: /has 100 bytes/ });
});

test('an upload Location on another origin never receives the credentials', async (t) => {
  const elsewhere = await new FakeRegistry({
    route: (req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 201;
        res.end();
      });
      return true;
    },
  }).start();
  t.teardown(() => elsewhere.close());
  const reg = await new FakeRegistry({
    auth: { kind: 'basic', username: 'u', password: 'p' },
    route: (req, res, url) => {
      if (req.method !== 'POST' || !url.pathname.endsWith('/blobs/uploads/')) return false;
      if (!req.headers.authorization) return false;
      res.statusCode = 202;
      res.setHeader('location', `http://${elsewhere.host}/upload/abc?_state=x`);
      res.end();
      return true;
    },
  }).start();
  t.teardown(() => reg.close());
  const { store, descs } = await storeWith([{ bytes: randomBytes(64), mediaType: OCI_LAYER }]);
  const client = newClient(t);
  const s = client.repository(parseReference(`${reg.host}/x`), { username: 'u', password: 'p' }, { push: true });
  await new RegistryPusher(client, store).uploadBlob(s, descs[0]!, undefined);
  const put = elsewhere.log.find((l) => l.method === 'PUT');
  t.truthy(put);
  t.is(put?.authorization, undefined);
  t.true(reg.log.some((l) => l.method === 'POST' && l.authorization?.startsWith('Basic ')));
});

test('login: basic and bearer, right and wrong credentials, realm must be https unless insecure', async (t) => {
  const basic = await new FakeRegistry({ auth: { kind: 'basic', username: 'u', password: 'p' } }).start();
  t.teardown(() => basic.close());
  const client = newClient(t);
  t.deepEqual(await client.login({ username: 'u', password: 'p', serveraddress: basic.host }), { identityToken: '' });
  const wrong = await t.throwsAsync(
    client.login({ username: 'u', password: 'x', serveraddress: `http://${basic.host}/` }),
  );
  t.true(wrong instanceof UnauthorizedError);
  t.is(wrong?.message, `login attempt to http://${basic.host}/v2/ failed with status: 401 Unauthorized`);

  const bearer = await new FakeRegistry({ auth: { kind: 'bearer', username: 'u', password: 'p' } }).start();
  t.teardown(() => bearer.close());
  await client.login({ username: 'u', password: 'p', serveraddress: bearer.host });
  const q = bearer.tokenRequests.at(-1)?.query;
  t.is(q?.get('offline_token'), 'true');
  t.is(q?.get('account'), 'u');
  const denied = await t.throwsAsync(client.login({ username: 'u', password: 'x', serveraddress: bearer.host }));
  t.true(denied instanceof UnauthorizedError);
  t.regex(denied?.message ?? '', /unauthorized: incorrect username or password/);

  const plainRealm = await new FakeRegistry({
    auth: { kind: 'bearer', username: 'u', password: 'p', realm: 'http://tokens.example.test/token' },
  }).start();
  t.teardown(() => plainRealm.close());
  const refused = await t.throwsAsync(client.login({ username: 'u', password: 'p', serveraddress: plainRealm.host }));
  t.true(refused instanceof UpstreamError);
  t.regex(refused?.message ?? '', /must be https/);
  await t.throwsAsync(client.login({ username: 'u', password: 'p', serveraddress: 'bad host/with space' }), {
    message: /invalid registry address/,
  });
});

test('tokens are cached per scope set: a push session asks for pull,push and the mount source', async (t) => {
  const reg = await new FakeRegistry({ auth: { kind: 'bearer' } }).start();
  t.teardown(() => reg.close());
  reg.addImage('lib/src', 'v1');
  const client = newClient(t);
  const pull = parseReference(`${reg.host}/lib/src:v1`);
  await client.resolve(pull);
  await client.resolve(pull);
  t.is(reg.tokenRequests.length, 1);
  const s = client.repository(parseReference(`${reg.host}/lib/dst`), undefined, { push: true, mountFrom: ['lib/src'] });
  await client.request(s, 'GET', '/v2/', {}).then((r) => r.res.body.dump());
  t.is(reg.tokenRequests.length, 2);
  t.deepEqual(reg.tokenRequests[1]!.query.getAll('scope'), ['repository:lib/dst:pull,push', 'repository:lib/src:pull']);
});
