import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { api, jsonLines } from './api.js';
import { busyboxLayout, inspectRemote, pushImage } from './busybox.js';
import { mountsUnder, unmountUnder } from './cleanup.js';
import { freePort, run, runOk } from './proc.js';
import { startRegistry } from './registry.js';

// The harness parts that do not need skiffd: the registry, the busybox image, push, the raw client.

test('busyboxLayout builds one OCI layout and reuses it', async (t) => {
  const [a, b] = await Promise.all([busyboxLayout(), busyboxLayout()]);
  t.is(a, b);
  t.true(existsSync(path.join(a, 'index.json')));
  const index = JSON.parse(await readFile(path.join(a, 'index.json'), 'utf8')) as {
    manifests: Array<{ annotations?: Record<string, string> }>;
  };
  t.deepEqual(
    index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']),
    ['latest'],
  );
  t.is(await busyboxLayout(), a);
});

test('registry serves a pushed busybox image (OCI and schema 2)', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.stop());
  t.regex(registry.host, /^127\.0\.0\.1:\d+$/);
  const layout = await busyboxLayout();

  await pushImage(layout, `${registry.host}/busybox:latest`);
  const info = (await inspectRemote(`${registry.host}/busybox:latest`)) as {
    Architecture: string;
    Os: string;
    Layers: string[];
    Env: string[];
  };
  t.is(info.Os, 'linux');
  t.is(info.Layers.length, 1);
  t.true(info.Env.some((e) => e.startsWith('PATH=')));
  const manifest = await inspectRemote(`${registry.host}/busybox:latest`, true);
  // umoci omits the (optional) OCI manifest mediaType; the config's media type tells the format.
  t.is((manifest.config as { mediaType: string }).mediaType, 'application/vnd.oci.image.config.v1+json');

  await pushImage(layout, `${registry.host}/busybox:v2s2`, { format: 'v2s2' });
  const v2 = await inspectRemote(`${registry.host}/busybox:v2s2`, true);
  t.is(v2.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');

  // The config must carry Cmd ["sh"]: read it straight from the registry API.
  const cfgDigest = (manifest.config as { digest: string }).digest;
  const cfg = (await (await fetch(`http://${registry.host}/v2/busybox/blobs/${cfgDigest}`)).json()) as {
    config: { Cmd: string[] };
  };
  t.deepEqual(cfg.config.Cmd, ['sh']);
});

test('the image runs: its rootfs has busybox and the applets', async (t) => {
  const layout = await busyboxLayout();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-unpack-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const copy = path.join(dir, 'layout');
  await runOk('cp', ['-a', layout, copy]);
  await runOk('umoci', ['unpack', '--image', `${copy}:latest`, path.join(dir, 'bundle')]);
  const r = await runOk('chroot', [path.join(dir, 'bundle/rootfs'), 'sh', '-c', 'echo hi from $(which echo)']);
  t.is(r.stdout, 'hi from /bin/echo\n');
});

test('pushing to a registry that is down fails with skopeo naming it', async (t) => {
  const port = await freePort();
  const err = await t.throwsAsync(pushImage(await busyboxLayout(), `127.0.0.1:${port}/busybox:latest`));
  t.regex(err?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('a stopped registry releases its port and storage', async (t) => {
  const registry = await startRegistry();
  await registry.stop();
  t.false(existsSync(registry.dir));
  await t.throwsAsync(fetch(`http://${registry.host}/v2/`));
});

test('api() speaks raw HTTP over a unix socket and sends malformed bodies verbatim', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-api-'));
  const sock = path.join(dir, 's.sock');
  const seen: Array<{ method?: string; url?: string; type?: string; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], body });
      res.setHeader('Content-Type', 'application/json');
      res.end(req.url === '/stream' ? '{"status":"a"}\n{"errorDetail":{"message":"x"}}\n' : '{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  const a = await api(`unix://${sock}`, 'POST', '/containers/create', '{"Image": bad');
  t.is(a.status, 200);
  t.deepEqual(a.json, { ok: true });
  t.deepEqual(seen[0], { method: 'POST', url: '/containers/create', type: 'application/json', body: '{"Image": bad' });
  const s = await api(`unix://${sock}`, 'GET', '/stream');
  t.deepEqual(jsonLines(s.body), [{ status: 'a' }, { errorDetail: { message: 'x' } }]);
  await t.throwsAsync(api(`unix://${path.join(dir, 'nope.sock')}`, 'GET', '/_ping'), { code: 'ENOENT' });
});

test('unmountUnder removes nested mounts below a directory', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-mnt-'));
  t.teardown(async () => {
    await unmountUnder([dir]);
    await rm(dir, { recursive: true, force: true });
  });
  await runOk('mount', ['-t', 'tmpfs', 'none', dir]);
  await runOk('mkdir', [path.join(dir, 'inner')]);
  await runOk('mount', ['-t', 'tmpfs', 'none', path.join(dir, 'inner')]);
  t.is((await mountsUnder([dir])).length, 2);
  await unmountUnder([dir]);
  t.deepEqual(await mountsUnder([dir]), []);
  t.not((await run('mountpoint', ['-q', dir])).code, 0);
});
