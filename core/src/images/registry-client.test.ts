import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { FileContentStore } from '../content/content-store.js';
import { InvalidParameterError, NotFoundError, UpstreamError } from '../plugin-api/errors.js';
import { type ImageReference, parseReference } from './reference.js';
import { RegistryClient, type RegistryClientOptions } from './registry-client.js';
import { RegistryUnavailableError } from './registry-errors.js';
import {
  FakeRegistry,
  type FakeRegistryOptions,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  sendError,
  sha256,
} from './testing/fake-registry.js';

async function fake(t: ExecutionContext, options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
  const reg = await new FakeRegistry(options).start();
  t.teardown(() => reg.close());
  return reg;
}

function client(t: ExecutionContext, options: RegistryClientOptions = {}): RegistryClient {
  const c = new RegistryClient({ userAgent: 'skiff-test', timeoutMs: 10_000, ...options });
  t.teardown(() => c.close());
  return c;
}

async function store(t: ExecutionContext): Promise<FileContentStore> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-regclient-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return new FileContentStore(root);
}

const ref = (reg: FakeRegistry, rest: string): ImageReference => parseReference(`${reg.host}/${rest}`);

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

test('resolves a tag to an OCI manifest and pulls its blobs into the content store', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('app', 'v1');
  const c = client(t);
  const r = await c.resolve(ref(reg, 'app:v1'));
  t.is(r.manifestDigest, img.digest);
  t.is(r.mediaType, OCI_MANIFEST);
  t.is(r.indexDigest, undefined);
  t.deepEqual(r.config, img.config);
  t.deepEqual(r.layers, [img.layer]);
  t.is(sha256(r.manifestBytes), img.digest);
  t.true(reg.log.some((l) => l.path === '/v2/app/manifests/v1' && (l.accept ?? '').includes(OCI_INDEX)));

  const cs = await store(t);
  const progress: number[] = [];
  t.deepEqual(
    await c.pullBlob(ref(reg, 'app:v1'), r.layers[0]!, cs, {
      onProgress: (cur, total) => {
        t.is(total, img.layer.size);
        progress.push(cur);
      },
    }),
    { alreadyExists: false },
  );
  t.is(progress.at(-1), img.layer.size);
  t.deepEqual(
    [...progress].sort((a, b) => a - b),
    progress,
  );
  t.true((await cs.readBytes(img.layer.digest)).equals(reg.blobs.get(img.layer.digest)!));
  t.deepEqual(await c.pullBlob(ref(reg, 'app'), r.layers[0]!, cs), { alreadyExists: true });
  t.is(reg.log.filter((l) => l.path.includes('/blobs/')).length, 1);
});

test('the tag defaults to latest and a digest reference is verified against the bytes', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('app', 'latest');
  const c = client(t);
  t.is((await c.resolve(ref(reg, 'app'))).manifestDigest, img.digest);
  const byDigest = await c.resolve(ref(reg, `app@${img.digest}`));
  t.is(byDigest.manifestDigest, img.digest);
  t.true(reg.log.some((l) => l.path === `/v2/app/manifests/${img.digest}`));
});

test('a manifest list resolves to the platform manifest', async (t) => {
  const reg = await fake(t);
  const amd = reg.addImage('multi', '', { architecture: 'amd64' });
  const arm = reg.addImage('multi', '', { architecture: 'arm64' });
  const armv6 = reg.addImage('multi', '', { architecture: 'arm' });
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: amd.digest, size: amd.size, platform: { os: 'linux', architecture: 'amd64' } },
      {
        mediaType: OCI_MANIFEST,
        digest: arm.digest,
        size: arm.size,
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
      {
        mediaType: OCI_MANIFEST,
        digest: armv6.digest,
        size: armv6.size,
        platform: { os: 'linux', architecture: 'arm', variant: 'v6' },
      },
      {
        mediaType: OCI_MANIFEST,
        digest: amd.digest,
        size: amd.size,
        platform: { os: 'unknown', architecture: 'unknown' },
      },
    ],
  };
  const indexDigest = reg.addManifest('multi', ['v1'], index, OCI_INDEX);
  const c = client(t);

  const onAmd = await c.resolve(ref(reg, 'multi:v1'), { platform: { os: 'linux', architecture: 'amd64' } });
  t.is(onAmd.manifestDigest, amd.digest);
  t.is(onAmd.indexDigest, indexDigest);
  t.is(onAmd.indexMediaType, OCI_INDEX);
  t.deepEqual(onAmd.index?.manifests.length, 4);
  t.deepEqual(onAmd.layers, [amd.layer]);

  const onArm = await c.resolve(ref(reg, 'multi:v1'), { platform: { os: 'linux', architecture: 'arm64' } });
  t.is(onArm.manifestDigest, arm.digest);
  // An armv7 CPU runs armv6 images when there is no v7 one.
  const onArm7 = await c.resolve(ref(reg, `multi@${indexDigest}`), {
    platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
  });
  t.is(onArm7.manifestDigest, armv6.digest);
  t.is(onArm7.indexDigest, indexDigest);

  const err = await t.throwsAsync(
    c.resolve(ref(reg, 'multi:v1'), { platform: { os: 'linux', architecture: 's390x' } }),
    {
      instanceOf: NotFoundError,
    },
  );
  t.is(err?.message, 'no matching manifest for linux/s390x in the manifest list entries');
});

test('a missing manifest is a 404 with dockerd wording', async (t) => {
  const reg = await fake(t);
  const c = client(t);
  const err = await t.throwsAsync(c.resolve(ref(reg, 'nope')), { instanceOf: NotFoundError });
  t.is(err?.message, `manifest for ${reg.host}/nope:latest not found: manifest unknown: manifest unknown`);
  t.is(err?.status, 404);
});

test('a lying registry: wrong Docker-Content-Digest, wrong bytes for a digest, list size mismatch', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('liar', 'v1');
  const entry = reg.manifests.get('liar/v1')!;
  const other = sha256('something else');
  reg.manifests.set('liar/v1', { ...entry, digestHeader: other });
  const c = client(t);
  await t.throwsAsync(c.resolve(ref(reg, 'liar:v1')), {
    instanceOf: UpstreamError,
    message: `manifest verification failed for digest ${other}`,
  });
  reg.manifests.set('liar/v1', { ...entry, digestHeader: 'sha256:../../x' });
  await t.throwsAsync(c.resolve(ref(reg, 'liar:v1')), {
    instanceOf: UpstreamError,
    message: /invalid Docker-Content-Digest/,
  });

  // Pull by digest: the registry serves other bytes under that digest.
  const tampered = Buffer.from(entry.body.toString().replace('"schemaVersion":2', '"schemaVersion":2,"x":1'));
  reg.manifests.set(`liar/${img.digest}`, { body: tampered, type: OCI_MANIFEST, digestHeader: img.digest });
  await t.throwsAsync(c.resolve(ref(reg, `liar@${img.digest}`)), {
    instanceOf: UpstreamError,
    message: `manifest verification failed for digest ${img.digest}`,
  });

  // A list whose entry has the right digest but the wrong size.
  const good = reg.addImage('liar', 'good');
  reg.addManifest(
    'liar',
    ['list'],
    {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: good.digest,
          size: good.size + 1,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    },
    OCI_INDEX,
  );
  await t.throwsAsync(c.resolve(ref(reg, 'liar:list'), { platform: { os: 'linux', architecture: 'amd64' } }), {
    instanceOf: UpstreamError,
    message: /size mismatch/,
  });
});

test('malformed and unsupported manifests are rejected with clear errors', async (t) => {
  const reg = await fake(t);
  const c = client(t, { maxManifestBytes: 64 * 1024 });
  const cfg = reg.addBlob(Buffer.from('{}'), OCI_CONFIG);
  const layer = reg.addBlob(Buffer.from('layer'));
  const cases: Array<[string, Buffer | object, string, RegExp]> = [
    ['json', Buffer.from('{"schemaVersion":2,'), OCI_MANIFEST, /not valid JSON/],
    ['array', Buffer.from('[1,2]'), OCI_MANIFEST, /not a JSON object/],
    ['noconfig', { schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }, OCI_MANIFEST, /config is not an object/],
    ['nolayers', { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg }, OCI_MANIFEST, /layers is missing/],
    [
      'baddigest',
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...cfg, digest: 'sha256:../../etc/passwd' }, layers: [] },
      OCI_MANIFEST,
      /config.digest is missing or invalid/,
    ],
    [
      'badsize',
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [{ ...layer, size: -1 }] },
      OCI_MANIFEST,
      /layers\[0\].size/,
    ],
    [
      'bigsize',
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [{ ...layer, size: 2 ** 60 }] },
      OCI_MANIFEST,
      /layers\[0\].size/,
    ],
    [
      'schema1',
      { schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] },
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
      /schema 1, which is not supported/,
    ],
    [
      'schemaver',
      { schemaVersion: 3, mediaType: OCI_MANIFEST, config: cfg, layers: [] },
      OCI_MANIFEST,
      /unsupported schemaVersion 3/,
    ],
    [
      'unknowntype',
      { schemaVersion: 2, mediaType: 'application/vnd.example+json' },
      'application/vnd.example+json',
      /unsupported manifest media type/,
    ],
    [
      'ambiguous',
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [], manifests: [] },
      OCI_MANIFEST,
      /must not have "manifests"/,
    ],
    [
      'ambiguous2',
      { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], layers: [] },
      OCI_INDEX,
      /must not have "layers"/,
    ],
    [
      'mismatch',
      { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] },
      OCI_MANIFEST,
      /does not match the Content-Type/,
    ],
    [
      'helm',
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { ...cfg, mediaType: 'application/vnd.cncf.helm.config.v1+json' },
        layers: [],
      },
      OCI_MANIFEST,
      /not a container image/,
    ],
    [
      'oddlayer',
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [{ ...layer, mediaType: 'text/plain' }] },
      OCI_MANIFEST,
      /unsupported media type text\/plain/,
    ],
    [
      'sha512',
      {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { ...cfg, digest: `sha512:${'a'.repeat(128)}` },
        layers: [],
      },
      OCI_MANIFEST,
      /unsupported blob digest/,
    ],
    ['huge', Buffer.alloc(100 * 1024, 0x20), OCI_MANIFEST, /too large/],
  ];
  for (const [tag, doc, type, message] of cases) {
    reg.addManifest('bad', [tag], doc, type);
    const err = await t.throwsAsync(c.resolve(ref(reg, `bad:${tag}`)), { instanceOf: UpstreamError }, tag);
    t.regex(err?.message ?? '', message, tag);
  }
});

test('a manifest with no mediaType is typed from Content-Type (as umoci writes them)', async (t) => {
  const reg = await fake(t);
  const cfg = reg.addBlob(Buffer.from('{}'), OCI_CONFIG);
  reg.addManifest('plain', ['v1'], { schemaVersion: 2, config: cfg, layers: [] }, OCI_MANIFEST);
  const r = await client(t).resolve(ref(reg, 'plain:v1'));
  t.is(r.mediaType, OCI_MANIFEST);
  t.deepEqual(r.layers, []);
});

test('bearer token flow: anonymous, then credentials, then wrong credentials', async (t) => {
  const reg = await fake(t, { auth: { kind: 'bearer', username: 'alice', password: 's3cret' } });
  const img = reg.addImage('private/app', 'v1');
  const c = client(t);
  const r = await c.resolve(ref(reg, 'private/app:v1'), { auth: { username: 'alice', password: 's3cret' } });
  t.is(r.manifestDigest, img.digest);
  const tokenReq = reg.tokenRequests.at(-1)!;
  t.is(tokenReq.query.get('scope'), 'repository:private/app:pull');
  t.is(tokenReq.query.get('service'), 'fake.registry');
  t.is(tokenReq.authorization, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
  const manifestReq = reg.log.filter((l) => l.path === '/v2/private/app/manifests/v1').at(-1)!;
  t.is(manifestReq.authorization, 'Bearer tok-repository:private/app:pull');

  // The token is reused for blobs: no further token requests.
  const before = reg.tokenRequests.length;
  const cs = await store(t);
  await c.pullBlob(ref(reg, 'private/app'), r.layers[0]!, cs, { auth: { username: 'alice', password: 's3cret' } });
  t.is(reg.tokenRequests.length, before);

  // `auth` (base64 user:pass, as in config.json) works too.
  const viaAuthField = client(t);
  await viaAuthField.resolve(ref(reg, 'private/app:v1'), {
    auth: { auth: Buffer.from('alice:s3cret').toString('base64') },
  });

  const wrong = client(t);
  const err = await t.throwsAsync(
    wrong.resolve(ref(reg, 'private/app:v1'), { auth: { username: 'alice', password: 'nope' } }),
    {
      instanceOf: UpstreamError,
    },
  );
  t.regex(err?.message ?? '', /^unauthorized: incorrect username or password/);
});

test('bearer token flow for anonymous pulls, and identity tokens are exchanged by POST', async (t) => {
  const reg = await fake(t, { auth: { kind: 'bearer' } });
  reg.addImage('public', 'v1');
  await client(t).resolve(ref(reg, 'public:v1'));
  t.is(reg.tokenRequests.at(-1)?.authorization, undefined);
  t.is(reg.tokenRequests.at(-1)?.method, 'GET');

  await client(t).resolve(ref(reg, 'public:v1'), { auth: { identitytoken: 'refresh-me' } });
  const post = reg.tokenRequests.at(-1)!;
  t.is(post.method, 'POST');
  const form = new URLSearchParams(post.body);
  t.is(form.get('grant_type'), 'refresh_token');
  t.is(form.get('refresh_token'), 'refresh-me');
  t.is(form.get('scope'), 'repository:public:pull');
});

test('a token realm over plain HTTP to a host that is not insecure is refused before any request', async (t) => {
  const reg = await fake(t, { auth: { kind: 'bearer', realm: 'http://auth.registry.example/token' } });
  reg.addImage('x', 'v1');
  const err = await t.throwsAsync(client(t).resolve(ref(reg, 'x:v1'), { auth: { username: 'a', password: 'b' } }), {
    instanceOf: UpstreamError,
  });
  t.regex(err?.message ?? '', /refusing token realm http:\/\/auth.registry.example\/token/);
  t.is(reg.tokenRequests.length, 0);
});

test('basic auth challenge', async (t) => {
  const reg = await fake(t, { auth: { kind: 'basic', username: 'bob', password: 'pw' } });
  const img = reg.addImage('b', 'v1');
  const r = await client(t).resolve(ref(reg, 'b:v1'), { auth: { username: 'bob', password: 'pw' } });
  t.is(r.manifestDigest, img.digest);
  const err = await t.throwsAsync(client(t).resolve(ref(reg, 'b:v1')), { instanceOf: UpstreamError });
  t.is(err?.message, 'unauthorized: authentication required');
});

test('connection refused reads like dockerd', async (t) => {
  const port = await closedPort();
  const err = await t.throwsAsync(client(t).resolve(parseReference(`127.0.0.1:${port}/x`)), {
    instanceOf: RegistryUnavailableError,
  });
  t.true(err instanceof UpstreamError);
  t.is(err?.message, `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`);
});

test('a registry that accepts connections and never answers times out', async (t) => {
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  const { port } = srv.address() as { port: number };
  const err = await t.throwsAsync(client(t, { timeoutMs: 300 }).resolve(parseReference(`127.0.0.1:${port}/x`)), {
    instanceOf: RegistryUnavailableError,
  });
  t.regex(err?.message ?? '', /^Get "http:\/\/127\.0\.0\.1:\d+\/v2\/": timeout/);
});

test('a registry that stalls mid-blob times out; the partial download is kept for resumption', async (t) => {
  let stall = true;
  const reg = await fake(t, {
    route: (_req, res, url) => {
      if (!url.pathname.includes('/blobs/') || !stall) return false;
      const blob = reg.blobs.get(url.pathname.split('/').at(-1)!)!;
      res.setHeader('content-length', blob.length);
      res.write(blob.subarray(0, 1000));
      return true; // and never finish
    },
  });
  const img = reg.addImage('stall', 'v1', { layerSize: 50_000 });
  const c = client(t, { timeoutMs: 300, blobRetries: 0 });
  const cs = await store(t);
  const err = await t.throwsAsync(c.pullBlob(ref(reg, 'stall'), img.layer, cs), {
    instanceOf: RegistryUnavailableError,
  });
  t.regex(err?.message ?? '', /timeout reading the response body/);
  t.deepEqual(
    (await cs.ingests()).map((i) => i.offset),
    [1000],
  );
  stall = false;
  await c.pullBlob(ref(reg, 'stall'), img.layer, cs);
  t.is(reg.log.at(-1)?.range, 'bytes=1000-');
  t.true(await cs.has(img.layer.digest));
});

test('a truncated blob download is resumed with a Range request', async (t) => {
  let truncations = 1;
  const reg = await fake(t, {
    route: (_req, res, url) => {
      if (!url.pathname.includes('/blobs/') || truncations === 0) return false;
      truncations--;
      const blob = reg.blobs.get(url.pathname.split('/').at(-1)!)!;
      res.setHeader('content-length', blob.length);
      res.write(blob.subarray(0, 20_000), () => res.destroy());
      return true;
    },
  });
  const img = reg.addImage('trunc', 'v1', { layerSize: 100_000 });
  const cs = await store(t);
  const progress: number[] = [];
  await client(t).pullBlob(ref(reg, 'trunc'), img.layer, cs, { onProgress: (c) => progress.push(c) });
  t.true((await cs.readBytes(img.layer.digest)).equals(reg.blobs.get(img.layer.digest)!));
  const blobReqs = reg.log.filter((l) => l.path.includes('/blobs/'));
  t.is(blobReqs.length, 2);
  t.regex(blobReqs[1]!.range ?? '', /^bytes=\d+-$/);
  t.is(progress.at(-1), 100_000);
});

test('a registry that always truncates fails with a clear error after the retries', async (t) => {
  const reg = await fake(t, {
    route: (req, res, url) => {
      if (!url.pathname.includes('/blobs/')) return false;
      const blob = reg.blobs.get(url.pathname.split('/').at(-1)!)!;
      // Claims the right length, sends a little less and ends cleanly.
      const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.statusCode = start ? 206 : 200;
      if (start) res.setHeader('content-range', `bytes ${start}-${blob.length - 1}/${blob.length}`);
      res.setHeader('content-length', blob.length - start);
      res.write(blob.subarray(start, start + 10), () => res.destroy());
      return true;
    },
  });
  const img = reg.addImage('trunc', 'v1', { layerSize: 1000 });
  const cs = await store(t);
  const err = await t.throwsAsync(client(t, { blobRetries: 2 }).pullBlob(ref(reg, 'trunc'), img.layer, cs), {
    instanceOf: RegistryUnavailableError,
  });
  t.truthy(err?.message);
  t.is(reg.log.filter((l) => l.path.includes('/blobs/')).length, 3);
  t.false(await cs.has(img.layer.digest));
  t.deepEqual(
    (await cs.ingests()).map((i) => i.offset),
    [30],
  );
});

test('a registry that ignores Range is handled by skipping the prefix', async (t) => {
  let first = true;
  const reg = await fake(t, {
    honourRange: false,
    route: (_req, res, url) => {
      if (!url.pathname.includes('/blobs/') || !first) return false;
      first = false;
      const blob = reg.blobs.get(url.pathname.split('/').at(-1)!)!;
      res.setHeader('content-length', blob.length);
      res.write(blob.subarray(0, 3000), () => res.destroy());
      return true;
    },
  });
  const img = reg.addImage('norange', 'v1', { layerSize: 10_000 });
  const cs = await store(t);
  await client(t).pullBlob(ref(reg, 'norange'), img.layer, cs);
  t.true((await cs.readBytes(img.layer.digest)).equals(reg.blobs.get(img.layer.digest)!));
});

test('a blob whose bytes do not match its digest is rejected and not kept', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('bad', 'v1');
  reg.blobs.set(img.layer.digest, randomBytes(img.layer.size));
  reg.blobs.set(img.config.digest, Buffer.alloc(img.config.size, 0x20));
  const cs = await store(t);
  const c = client(t);
  await t.throwsAsync(c.pullBlob(ref(reg, 'bad'), img.layer, cs), {
    instanceOf: UpstreamError,
    message: `filesystem layer verification failed for digest ${img.layer.digest}`,
  });
  await t.throwsAsync(c.pullBlob(ref(reg, 'bad'), img.config, cs), {
    instanceOf: UpstreamError,
    message: `image config verification failed for digest ${img.config.digest}`,
  });
  t.false(await cs.has(img.layer.digest));
  t.deepEqual(await cs.ingests(), []);
});

test('a blob longer than its descriptor is cut off', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('long', 'v1');
  reg.blobs.set(img.layer.digest, randomBytes(img.layer.size + 10));
  const cs = await store(t);
  const err = await t.throwsAsync(client(t).pullBlob(ref(reg, 'long'), img.layer, cs), { instanceOf: UpstreamError });
  t.regex(err?.message ?? '', /Content-Length/);

  // Without a Content-Length (chunked), the stream itself stops it.
  const reg2 = await fake(t, {
    route: (_req, res, url) => {
      if (!url.pathname.includes('/blobs/')) return false;
      res.write(randomBytes(img.layer.size));
      res.end(randomBytes(10));
      return true;
    },
  });
  const err2 = await t.throwsAsync(client(t).pullBlob(ref(reg2, 'long'), img.layer, cs), { instanceOf: UpstreamError });
  t.regex(err2?.message ?? '', /more than the \d+ bytes expected/);
  t.false(await cs.has(img.layer.digest));
});

test('blob redirects are followed without leaking credentials to the other origin', async (t) => {
  // Assigned once the registry below exists; read by the storage route.
  // eslint-disable-next-line prefer-const
  let source: FakeRegistry | undefined;
  const storage = await fake(t, {
    route: (_req, res, url) => {
      const blob = source?.blobs.get(url.pathname.split('/').at(-1)!);
      if (!url.pathname.startsWith('/storage/') || !blob) return false;
      res.end(blob);
      return true;
    },
  });
  const reg = await fake(t, {
    auth: { kind: 'bearer' },
    route: (req, res, url) => {
      const m = /\/blobs\/(.+)$/.exec(url.pathname);
      if (!m || !req.headers.authorization) return false;
      res.statusCode = 307;
      res.setHeader('location', `http://${storage.host}/storage/${m[1]}?X-Signature=secret`);
      res.end();
      return true;
    },
  });
  const img = reg.addImage('redir', 'v1');
  source = reg;
  const cs = await store(t);
  await client(t).pullBlob(ref(reg, 'redir'), img.layer, cs);
  t.true(await cs.has(img.layer.digest));
  const hop = storage.log.find((l) => l.path.startsWith('/storage/'))!;
  t.truthy(hop);
  t.is(hop.authorization, undefined);
});

test('redirect loops and redirects to other schemes are refused', async (t) => {
  const reg = await fake(t, {
    route: (_req, res, url) => {
      if (url.pathname.includes('/blobs/loop')) {
        res.statusCode = 302;
        res.setHeader('location', url.pathname);
        res.end();
        return true;
      }
      if (url.pathname.includes('/blobs/')) {
        res.statusCode = 302;
        res.setHeader('location', 'file:///etc/passwd');
        res.end();
        return true;
      }
      return false;
    },
  });
  const img = reg.addImage('r', 'v1');
  const c = client(t);
  await t.throwsAsync(c.fetchBlob(ref(reg, 'r'), img.layer), {
    instanceOf: UpstreamError,
    message: /refusing redirect to file: URL/,
  });
});

test('the caller can abort; the abort reason is thrown, not an upstream error', async (t) => {
  const reg = await fake(t, { route: (_req, _res, url) => url.pathname.includes('/manifests/') });
  const ac = new AbortController();
  const c = client(t);
  const pending = c.resolve(ref(reg, 'x:v1'), { signal: ac.signal });
  const reason = new Error('client went away');
  // Abort once the request reached the server.
  const wait = setInterval(() => {
    if (reg.log.some((l) => l.path.includes('/manifests/'))) {
      clearInterval(wait);
      ac.abort(reason);
    }
  }, 5);
  t.teardown(() => clearInterval(wait));
  const err = await t.throwsAsync(pending);
  t.is(err, reason);
});

test('concurrent pulls of one blob share a single download', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('shared', 'v1', { layerSize: 200_000 });
  const cs = await store(t);
  const c = client(t);
  const results = await Promise.all([1, 2, 3].map(() => c.pullBlob(ref(reg, 'shared'), img.layer, cs)));
  t.is(results.length, 3);
  t.is(reg.log.filter((l) => l.path.includes('/blobs/')).length, 1);
  t.true(await cs.has(img.layer.digest));
});

test('fetchBlob streams from an offset and validates its arguments', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('f', 'v1', { layerSize: 5000 });
  const c = client(t);
  const tail = await buffer(await c.fetchBlob(ref(reg, 'f'), img.layer, { offset: 4000 }));
  t.true(tail.equals(reg.blobs.get(img.layer.digest)!.subarray(4000)));
  t.is((await buffer(await c.fetchBlob(ref(reg, 'f'), img.layer, { offset: 5000 }))).length, 0);
  await t.throwsAsync(c.fetchBlob(ref(reg, 'f'), img.layer, { offset: 5001 }), { instanceOf: InvalidParameterError });
  await t.throwsAsync(c.fetchBlob(ref(reg, 'f'), { ...img.layer, digest: 'sha256:../../x' }), {
    instanceOf: InvalidParameterError,
  });
  await t.throwsAsync(c.fetchBlob({ domain: reg.host, path: '../../x' }, img.layer), {
    instanceOf: InvalidParameterError,
  });
  const missing = await t.throwsAsync(c.fetchBlob(ref(reg, 'f'), { ...img.layer, digest: sha256('nope') }), {
    instanceOf: UpstreamError,
  });
  t.is(missing?.message, 'blob unknown: blob unknown to registry');
});

test('an insecure registry is reached over HTTPS without verification when it offers TLS', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=skiff-test',
    '-addext',
    'subjectAltName=DNS:skiff-test',
  ]);
  const tls = {
    key: await readFile(join(dir, 'key.pem'), 'utf8'),
    cert: await readFile(join(dir, 'cert.pem'), 'utf8'),
  };
  const reg = await fake(t, { tls });
  const img = reg.addImage('secure', 'v1');
  const r = await client(t).resolve(ref(reg, 'secure:v1'));
  t.is(r.manifestDigest, img.digest);
  t.true(reg.log.every((l) => l.tls));
});

test('a 5xx from the registry is an upstream error', async (t) => {
  const reg = await fake(t, {
    route: (_req, res, url) => {
      if (!url.pathname.includes('/manifests/')) return false;
      sendError(res, 503, 'UNAVAILABLE', 'service unavailable');
      return true;
    },
  });
  const err = await t.throwsAsync(client(t).resolve(ref(reg, 'x')), { instanceOf: UpstreamError });
  t.is(err?.message, 'unavailable: service unavailable');
});

test('a resumed ingest with a bad prefix is thrown away and downloaded again', async (t) => {
  const reg = await fake(t);
  const img = reg.addImage('prefix', 'v1', { layerSize: 10_000 });
  const cs = await store(t);
  const w = await cs.writer(`pull-${img.layer.digest}`, { digest: img.layer.digest, size: img.layer.size });
  await w.write(randomBytes(4000));
  await w.close();
  await client(t).pullBlob(ref(reg, 'prefix'), img.layer, cs);
  t.true((await cs.readBytes(img.layer.digest)).equals(reg.blobs.get(img.layer.digest)!));
  const ranges = reg.log.filter((l) => l.path.includes('/blobs/')).map((l) => l.range);
  t.deepEqual(ranges, ['bytes=4000-', undefined]);
});
