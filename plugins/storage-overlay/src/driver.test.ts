import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MOUNT_DATA_MAX, planMount } from '@skiff/core/host';
import { InvalidParameterError, type PluginRegistrar, SnapshotLabels } from '@skiff/core/plugin-api';
import { graphDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import { OverlayDriver } from './driver.js';
import { MAX_LAYERS, overlayMounts, shortId } from './layout.js';
import plugin from './plugin.js';
import { overlayUnsupported } from './support.js';

const unsupported = await overlayUnsupported(tmpdir());

if (unsupported) {
  test('overlay: skipped on this host', (t) => {
    t.log(unsupported);
    t.pass();
  });
} else {
  graphDriverSuite(test, 'overlay', async (root) => new OverlayDriver(root));
}

const root = `/var/lib/skiff/${'long-data-root-'.repeat(8)}plugins/overlay/s`;
const lowers = (n: number) => Array.from({ length: n }, () => `${root}/${shortId()}/fs`);

test('overlay: the deepest allowed stack fits one page once lowerdirs are relative', (t) => {
  const mounts = overlayMounts({
    lowers: lowers(MAX_LAYERS),
    upper: { fs: `${root}/u/fs`, work: `${root}/u/work` },
    extraOptions: ['index=off'],
  });
  const [m] = mounts;
  t.is(m?.type, 'overlay');
  t.true(m!.options.join(',').length > MOUNT_DATA_MAX, 'absolute form is over a page');
  const plan = planMount(m!, '/mnt');
  t.is(plan.cwd, root);
  t.true((plan.args[3] as string).length <= MOUNT_DATA_MAX);
  t.is(shortId().length, 10);
});

test('overlay: mounts by shape', (t) => {
  const up = { fs: `${root}/u/fs`, work: `${root}/u/work` };
  t.deepEqual(overlayMounts({ lowers: [], upper: up }), [{ type: 'bind', source: up.fs, options: ['rbind', 'rw'] }]);
  const [one] = lowers(1);
  t.deepEqual(overlayMounts({ lowers: [one!] }), [{ type: 'bind', source: one, options: ['rbind', 'ro'] }]);
  const two = lowers(2);
  t.deepEqual(overlayMounts({ lowers: two }), [
    { type: 'overlay', source: 'overlay', options: [`lowerdir=${two.join(':')}`, 'ro'] },
  ]);
  t.deepEqual(overlayMounts({ lowers: two, upper: up })[0]?.options, [
    `lowerdir=${two.join(':')}`,
    `upperdir=${up.fs}`,
    `workdir=${up.work}`,
  ]);
  t.throws(() => overlayMounts({ lowers: lowers(MAX_LAYERS + 1), upper: up }), { instanceOf: InvalidParameterError });
  t.throws(() => overlayMounts({ lowers: ['/a,b/fs'], upper: up }), { instanceOf: InvalidParameterError });
  t.throws(() => overlayMounts({ lowers: [] }), { instanceOf: InvalidParameterError });
});

test('overlay: capabilities are honest', (t) => {
  const caps = new OverlayDriver('/nonexistent').capabilities();
  t.true(caps.copyOnWrite);
  t.true(caps.maxLayers <= 500 && caps.maxLayers >= 100);
});

test('overlay: a parentless snapshot is a bind, a child an overlay on its parent', async (t) => {
  if (unsupported) return t.pass();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-ovl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const d = new OverlayDriver(dir);
  const [base] = await d.prepare('base-tmp');
  t.is(base?.type, 'bind');
  await d.commit('base', 'base-tmp');
  const [child] = await d.prepare('child', 'base');
  t.is(child?.type, 'overlay');
  const lower = child?.options.find((o) => o.startsWith('lowerdir='))?.slice('lowerdir='.length) ?? '';
  t.regex(lower, /\/l\/[a-z2-7]{10}$/, 'lowerdirs are short links');
  t.is(await realpath(lower), base!.source);
  await d.remove('child');
  await d.remove('base');
  t.deepEqual(await readdir(join(dir, 's')), []);
  t.deepEqual(await readdir(join(dir, 'l')), []);
});

test('overlay: unpack and --rm (volatile-labelled) snapshots mount volatile, a container kept after exit does not', async (t) => {
  if (unsupported) return t.pass();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-ovl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const d = new OverlayDriver(dir);
  await d.prepare('base-tmp');
  await d.commit('base', 'base-tmp');
  const volatile = async (key: string, labels?: Record<string, string>) =>
    (await d.prepare(key, 'base', labels ? { labels } : {}))[0]!.options.includes('volatile');
  const kernel = release().split('.').map(Number);
  const supported = kernel[0]! > 5 || (kernel[0] === 5 && kernel[1]! >= 10);
  t.is(await volatile('rm', { [SnapshotLabels.Volatile]: 'true' }), supported);
  t.is(await volatile('unpack', { [SnapshotLabels.Unpack]: 'true' }), supported);
  t.false(await volatile('kept'));
});

test('overlay: register skips or provides', async (t) => {
  let provided = false;
  let skipped: string | undefined;
  const r = {
    name: 'overlay',
    kind: 'storage',
    settings: {},
    log: { warn() {} },
    paths: { root: join(tmpdir(), 'skiff-ovl-register'), state: '/nonexistent' },
    provide() {
      provided = true;
    },
    skip(reason: string): never {
      skipped = reason;
      throw new Error(reason);
    },
  } as unknown as PluginRegistrar<'storage'>;
  await Promise.resolve(plugin.register(r)).catch(() => {});
  if (unsupported) t.regex(skipped ?? '', /overlayfs not supported/);
  else t.true(provided && skipped === undefined);
});
