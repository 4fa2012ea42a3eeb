import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { api, jsonLines } from '../harness/api.js';
import { docker } from '../harness/clients.js';
import { type Daemon, startDaemon } from '../harness/daemon.js';
import {
  foreignPlatform,
  hostPlatform,
  MediaTypes,
  pushImageSpec,
  pushIndex,
  randomLayer,
  sha256,
} from '../harness/image-builder.js';
import { type Registry, startRegistry } from '../harness/registry.js';
import { startTamperingProxy, type TamperingProxy } from '../harness/tampering-proxy.js';

// `docker pull` against skiffd through a proxy that tampers with a real registry's answers.
// skiffd runs with a 2 s registry timeout and 2 download attempts, so a stall fails quickly.

const uid = () => randomBytes(4).toString('hex');

let shared: Promise<{ registry: Registry; daemon: Daemon }> | undefined;
function setup(): Promise<{ registry: Registry; daemon: Daemon }> {
  shared ??= (async () => {
    const registry = await startRegistry();
    const daemon = await startDaemon({
      storageDriver: 'overlay',
      config: { 'registry-timeout': 2, 'max-download-attempts': 2 },
    }).catch(async (e: unknown) => {
      await registry.stop();
      throw e;
    });
    return { registry, daemon };
  })();
  return shared;
}
test.after.always(async () => {
  if (!shared) return;
  const { registry, daemon } = await shared;
  await daemon.stop();
  await registry.stop();
});

async function proxyFor(t: ExecutionContext): Promise<{ proxy: TamperingProxy; daemon: Daemon; registry: Registry }> {
  const { registry, daemon } = await setup();
  const proxy = await startTamperingProxy(registry.host);
  t.teardown(() => proxy.close());
  return { proxy, daemon, registry };
}

const smallLayers = (n: number, size = 64 * 1024) =>
  Array.from({ length: n }, (_, i) => randomLayer(`f${i}-${uid()}.bin`, size));

async function imageRefs(host: string): Promise<string[]> {
  const r = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'], { host });
  if (r.code !== 0) throw new Error(`docker images exited ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

/** After a failed pull: skiffd answers, lists no image for `repo`, and a clean pull works. */
async function recovers(t: ExecutionContext, d: Daemon, proxy: TamperingProxy, ref: string, repo: string) {
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
  t.false(
    (await imageRefs(d.dockerHost)).some((r) => r.includes(`/${repo}:`)),
    'a failed pull left an image behind',
  );
  proxy.setRule(undefined);
  const again = await docker(['pull', ref], { host: d.dockerHost });
  t.is(again.code, 0, `${again.stderr}\n--- skiffd:\n${d.output().slice(-3000)}`);
  t.true((await imageRefs(d.dockerHost)).some((r) => r.endsWith(`/${repo}:latest`)));
}

test('a multi-platform index pulls the host platform; --platform picks another', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `multi-${uid()}`;
  const host = hostPlatform();
  const foreign = foreignPlatform();
  const { indexDigest, images } = await pushIndex(proxy.host, repo, 'latest', [
    { platform: foreign, layers: smallLayers(1) },
    { platform: host, layers: smallLayers(2) },
  ]);
  const ref = `${proxy.host}/${repo}:latest`;

  const r = await docker(['pull', ref], { host: d.dockerHost });
  t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${d.output().slice(-3000)}`);
  t.regex(r.stdout, /Pull complete/);
  t.true(r.stdout.includes(`Digest: ${indexDigest}`), r.stdout);
  t.regex(r.stdout, /Status: Downloaded newer image for/);
  const inspect = await docker(['image', 'inspect', '--format', '{{.Id}} {{.Architecture}}', ref], {
    host: d.dockerHost,
  });
  t.is(inspect.stdout.trim(), `${images[1]!.configDigest} ${host.architecture}`);
  // The foreign image's blobs were never fetched.
  t.is(proxy.blobGets(images[0]!.layers[0]!.digest).length, 0);

  const again = await docker(['pull', ref], { host: d.dockerHost });
  t.regex(again.stdout, /Image is up to date for/);

  const other = await docker(['pull', '--platform', `${foreign.os}/${foreign.architecture}`, ref], {
    host: d.dockerHost,
  });
  t.is(other.code, 0, other.stderr);
  const inspect2 = await docker(['image', 'inspect', '--format', '{{.Id}} {{.Architecture}}', ref], {
    host: d.dockerHost,
  });
  t.is(inspect2.stdout.trim(), `${images[0]!.configDigest} ${foreign.architecture}`);

  const none = await docker(['pull', '--platform', 'linux/mips64le', ref], { host: d.dockerHost });
  t.not(none.code, 0);
  t.regex(none.stderr, /no matching manifest for linux\/mips64le in the manifest list entries/);
  const bad = await api(
    d.dockerHost,
    'POST',
    `/images/create?fromImage=${encodeURIComponent(ref)}&platform=linux%2F..`,
  );
  t.is(bad.status, 400);
});

test('progress follows dockerd: Waiting beyond 3 downloads, Downloading, Extracting, Pull complete', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `progress-${uid()}`;
  const layers = smallLayers(5, 300 * 1024);
  const pushed = await pushImageSpec(proxy.host, repo, 'latest', { layers, format: 'docker' });
  const res = await api(
    d.dockerHost,
    'POST',
    `/images/create?fromImage=${encodeURIComponent(`${proxy.host}/${repo}`)}&tag=latest`,
  );
  t.is(res.status, 200, res.body);
  const msgs = jsonLines(res.body);
  t.deepEqual(msgs[0], { status: 'Pulling from ' + repo, id: 'latest' });
  for (const l of layers) {
    const id = l.digest.slice(7, 19);
    const statuses = msgs.filter((m) => m.id === id).map((m) => m.status);
    t.is(statuses[0], 'Pulling fs layer');
    t.true(statuses.includes('Download complete'), `${id}: ${statuses.join(', ')}`);
    t.is(statuses.at(-1), 'Pull complete');
    const dl = msgs.find((m) => m.id === id && m.status === 'Downloading');
    t.truthy(dl);
    t.is((dl!.progressDetail as { total: number }).total, l.size);
    t.regex(String(dl!.progress), /^\[=*>? *\] +[\d.]+k?B\/[\d.]+kB$/);
    const ex = msgs.filter((m) => m.id === id && m.status === 'Extracting').at(-1);
    t.deepEqual(ex?.progressDetail, { current: l.size, total: l.size });
  }
  t.true(
    msgs.some((m) => m.status === 'Waiting'),
    'layers beyond the 3 concurrent downloads wait',
  );
  t.deepEqual(msgs.at(-2), { status: `Digest: ${pushed.manifestDigest}` });
  t.deepEqual(msgs.at(-1), { status: `Status: Downloaded newer image for ${proxy.host}/${repo}:latest` });
  t.false(msgs.some((m) => m.error));
});

test('a corrupted blob fails the pull with a verification error', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `corrupt-${uid()}`;
  const layers = smallLayers(2);
  await pushImageSpec(proxy.host, repo, 'latest', { layers });
  const bad = layers[1]!.digest;
  proxy.setRule((r) => (r.method === 'GET' && r.path.endsWith(`/blobs/${bad}`) ? { kind: 'corrupt' } : undefined));
  const ref = `${proxy.host}/${repo}:latest`;
  const r = await docker(['pull', ref], { host: d.dockerHost });
  t.is(r.code, 1);
  t.true(r.stderr.includes(`filesystem layer verification failed for digest ${bad}`), r.stderr);
  await recovers(t, d, proxy, ref, repo);
});

test('a manifest that lies about its digest is refused', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `liar-${uid()}`;
  await pushImageSpec(proxy.host, repo, 'latest', { layers: smallLayers(1) });
  const lie = sha256(Buffer.from('something else'));
  proxy.setRule((r) => (r.path.includes('/manifests/') ? { kind: 'lie-digest', digest: lie } : undefined));
  const ref = `${proxy.host}/${repo}:latest`;
  const r = await docker(['pull', ref], { host: d.dockerHost });
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`Error response from daemon: manifest verification failed for digest ${lie}`));
  await recovers(t, d, proxy, ref, repo);
});

test('layers that do not match the diff IDs of the config are refused', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `diffids-${uid()}`;
  const layers = smallLayers(2);
  const wrong = sha256(randomBytes(16));
  await pushImageSpec(proxy.host, repo, 'bad', { layers, diffIds: [layers[0]!.diffId, wrong] });
  await pushImageSpec(proxy.host, repo, 'latest', { layers });
  const r = await docker(['pull', `${proxy.host}/${repo}:bad`], { host: d.dockerHost });
  t.is(r.code, 1);
  t.true(r.stderr.includes(`layer ${layers[1]!.digest} does not match its diff ID: expected ${wrong}`), r.stderr);
  await recovers(t, d, proxy, `${proxy.host}/${repo}:latest`, repo);
});

test('a huge manifest, a schema 1 manifest and an ambiguous one are refused', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `hostile-${uid()}`;
  await pushImageSpec(proxy.host, repo, 'latest', { layers: smallLayers(1) });
  const ref = `${proxy.host}/${repo}:latest`;
  const cases: Array<{ body: Buffer; contentType: string; error: RegExp }> = [
    {
      body: Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [], pad: 'x'.repeat(5 * 1024 * 1024) })),
      contentType: MediaTypes.OciManifest,
      error: /too large/,
    },
    {
      body: Buffer.from(JSON.stringify({ schemaVersion: 1, name: repo, tag: 'latest', fsLayers: [] })),
      contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
      error: /schema 1, which is not supported/,
    },
    {
      body: Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.OciIndex,
          manifests: [],
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(Buffer.alloc(1)), size: 1 }],
        }),
      ),
      contentType: MediaTypes.OciIndex,
      error: /must not have "layers"/,
    },
  ];
  for (const c of cases) {
    proxy.setRule((r) => (r.path.includes('/manifests/') ? { kind: 'replace', ...c } : undefined));
    const r = await docker(['pull', ref], { host: d.dockerHost });
    t.is(r.code, 1);
    t.regex(r.stderr, c.error);
  }
  await recovers(t, d, proxy, ref, repo);
});

test('a registry stalling mid-layer times out, skiffd answers meanwhile, the next pull resumes', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `stall-${uid()}`;
  const layers = [randomLayer(`a-${uid()}`, 64 * 1024), randomLayer(`b-${uid()}`, 512 * 1024, 'none')];
  await pushImageSpec(proxy.host, repo, 'latest', { layers });
  const stuck = layers[1]!.digest;
  proxy.setRule((r) =>
    r.method === 'GET' && r.path.endsWith(`/blobs/${stuck}`) ? { kind: 'stall', bytes: 200 * 1024 } : undefined,
  );
  const ref = `${proxy.host}/${repo}:latest`;
  const stalled = proxy.nextStall();
  const pulling = docker(['pull', ref], { host: d.dockerHost });
  await stalled;
  // The pull hangs on the registry: the API does not.
  t.is((await api(d.dockerHost, 'GET', '/_ping', undefined, { timeoutMs: 5_000 })).status, 200);
  const ps = await docker(['ps'], { host: d.dockerHost, timeoutMs: 10_000 });
  t.is(ps.code, 0, ps.stderr);

  const r = await pulling;
  t.is(r.code, 1);
  t.regex(r.stderr, /timeout|timed out/i);
  t.true(proxy.blobGets(stuck).length >= 2, 'the stalled download was retried');
  const before = proxy.blobGets(layers[0]!.digest).length;
  await recovers(t, d, proxy, ref, repo);
  // The completed layer was reused and the stalled one resumed where it stopped.
  t.is(proxy.blobGets(layers[0]!.digest).length, before);
  t.regex(proxy.blobGets(stuck).at(-1)?.range ?? '', /^bytes=[1-9]\d*-$/);
});

test('a blob two concurrent pulls need is fetched once', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `shared-${uid()}`;
  const base = randomLayer(`base-${uid()}`, 1024 * 1024);
  await pushImageSpec(proxy.host, repo, 'one', { layers: [base, ...smallLayers(1)] });
  await pushImageSpec(proxy.host, repo, 'two', { layers: [base, ...smallLayers(1)] });
  proxy.setRule((r) => (r.path.endsWith(`/blobs/${base.digest}`) ? { kind: 'delay', ms: 500 } : undefined));
  const [a, b] = await Promise.all(
    ['one', 'two'].map((tag) => docker(['pull', `${proxy.host}/${repo}:${tag}`], { host: d.dockerHost })),
  );
  t.is(a!.code, 0, a!.stderr);
  t.is(b!.code, 0, b!.stderr);
  t.is(proxy.blobGets(base.digest).length, 1);
});

// Serial: the limit is the daemon's, and this file's other pulls share it.
test.serial('max-concurrent-downloads bounds the downloads of the whole daemon, not of each pull', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `bound-${uid()}`;
  const layers = smallLayers(6);
  await pushImageSpec(proxy.host, repo, 'one', { layers: layers.slice(0, 3) });
  await pushImageSpec(proxy.host, repo, 'two', { layers: layers.slice(3) });
  const isLayer = (path: string) => layers.some((l) => path.endsWith(`/blobs/${l.digest}`));
  proxy.setRule((r) => (isLayer(r.path) ? { kind: 'delay', ms: 300 } : undefined));
  const pulls = await Promise.all(
    ['one', 'two'].map((tag) => docker(['pull', `${proxy.host}/${repo}:${tag}`], { host: d.dockerHost })),
  );
  for (const p of pulls) t.is(p.code, 0, p.stderr);
  // Six layers wanted at once; three at a time allowed (dockerd's default), across both pulls.
  t.is(
    proxy.peakConcurrent((r) => r.method === 'GET' && isLayer(r.path)),
    3,
  );
});

test('rmi during a pull that reuses the image’s layers leaves them to the pull', async (t) => {
  const { proxy, daemon: d } = await proxyFor(t);
  const repo = `pinned-${uid()}`;
  const [base, slow] = [randomLayer(`base-${uid()}`, 64 * 1024), randomLayer(`top-${uid()}`, 64 * 1024)];
  await pushImageSpec(proxy.host, repo, 'old', { layers: [base], cmd: ['/x'] });
  await pushImageSpec(proxy.host, repo, 'new', { layers: [base, slow], cmd: ['/x'] });
  const host = d.dockerHost;
  t.is((await docker(['pull', `${proxy.host}/${repo}:old`], { host })).code, 0);

  proxy.setRule((r) => (r.path.endsWith(`/blobs/${slow.digest}`) ? { kind: 'delay', ms: 1500 } : undefined));
  const pulling = docker(['pull', `${proxy.host}/${repo}:new`], { host });
  while (proxy.blobGets(slow.digest).length === 0) await new Promise((r) => setTimeout(r, 20));
  // The only image standing on `base` goes away while the new pull counts on it being there.
  const rmi = await docker(['rmi', `${proxy.host}/${repo}:old`], { host });
  t.is(rmi.code, 0, rmi.stderr);
  const pulled = await pulling;
  t.is(pulled.code, 0, pulled.stderr);

  // A container's snapshot stands on every layer; save reads every layer and blob back.
  const created = await docker(['create', `${proxy.host}/${repo}:new`], { host });
  t.is(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  t.teardown(() => docker(['rm', '-f', id], { host }));
  const saved = await docker(['save', `${proxy.host}/${repo}:new`], { host });
  t.is(saved.code, 0, saved.stderr);
});
