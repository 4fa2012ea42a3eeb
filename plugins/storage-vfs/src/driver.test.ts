import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withMounted } from '@skiff/core/host';
import type { PluginRegistrar } from '@skiff/core/plugin-api';
import { graphDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import { VfsDriver } from './driver.js';
import plugin from './plugin.js';

graphDriverSuite(test, 'vfs', async (root) => new VfsDriver(root));

test('vfs: mounts are plain binds the caller can use without mounting', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'skiff-vfs-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const d = new VfsDriver(root);
  const [m] = await d.prepare('a');
  t.is(m?.type, 'bind');
  t.deepEqual(m?.options, ['rbind', 'rw']);
  t.true(m?.source.startsWith(join(root, 'dir')));
  t.is(await withMounted([m!], async (dir) => dir), m?.source);
});

test('vfs: orphaned trees from an interrupted prepare are collected on open', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'skiff-vfs-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const d = new VfsDriver(root);
  await d.prepare('kept');
  await mkdir(join(root, 'dir', 'deadbeefdeadbeef'));
  await writeFile(join(root, 'dir', 'deadbeefdeadbeef', 'junk'), 'x');
  const d2 = new VfsDriver(root);
  t.is((await d2.list()).length, 1);
  t.is((await readdir(join(root, 'dir'))).length, 1);
});

test('vfs: the plugin provides a VfsDriver on its root', async (t) => {
  let factory: (() => unknown) | undefined;
  const r = {
    name: 'vfs',
    kind: 'storage',
    settings: {},
    log: { warn() {} },
    paths: { root: '/nonexistent/vfs', state: '/nonexistent/state' },
    provide(f: () => unknown) {
      factory = f;
    },
  } as unknown as PluginRegistrar<'storage'>;
  await plugin.register(r);
  t.is(plugin.kind, 'storage');
  t.true(factory?.() instanceof VfsDriver);
});
