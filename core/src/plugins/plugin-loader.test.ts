import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConsoleLogger } from '../util/logger.js';
import { DriverRegistry } from './driver-registry.js';
import { loadPlugins, type PluginHost } from './plugin-loader.js';
import { pluginReport } from './plugin-report.js';

interface Fixture {
  name: string;
  field?: unknown;
  code?: string;
}

async function fixtures(list: Fixture[]): Promise<{ nm: string; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-plugins-'));
  const nm = join(root, 'node_modules');
  for (const f of list) {
    const dir = join(nm, f.name);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({
        name: f.name,
        version: '1.2.3',
        type: 'module',
        skiff: f.field ?? { apiVersion: 1, kind: 'volume', name: f.name.replace(/\W/g, ''), entry: './index.js' },
      }),
    );
    if (f.code !== undefined) await writeFile(join(dir, 'index.js'), f.code);
  }
  return { nm, root };
}

function host(root: string, lines: string[] = []): PluginHost {
  return {
    dataRoot: join(root, 'data'),
    execRoot: join(root, 'exec'),
    log: new ConsoleLogger('debug', '', (l) => lines.push(l)),
    settings: () => ({ answer: 42 }),
    service: () => undefined,
  };
}

const volumeDriver = `{ name: 'v', capabilities: () => ({ scope: 'local' }) }`;

test('good, throwing, skipping and incompatible plugins each get one outcome', async (t) => {
  const { nm, root } = await fixtures([
    {
      name: 'skiff-plugin-good',
      code: `export default { apiVersion: 1, kind: 'volume', name: 'skiffplugingood', register(r) { if (r.settings.answer !== 42) throw new Error('no settings'); r.provide(() => (${volumeDriver})); } };`,
    },
    {
      name: 'skiff-plugin-throws',
      code: `export default { apiVersion: 1, kind: 'volume', name: 'skiffpluginthrows', register() { throw new Error('kaboom'); } };`,
    },
    {
      name: 'skiff-plugin-skips',
      code: `export default { apiVersion: 1, kind: 'volume', name: 'skiffpluginskips', register(r) { r.skip('needs a unicorn'); } };`,
    },
    {
      name: 'skiff-plugin-future',
      field: { apiVersion: 99, kind: 'volume', name: 'future', entry: './index.js' },
      code: 'throw new Error("must never run")',
    },
    {
      name: 'skiff-plugin-kind',
      field: { apiVersion: 1, kind: 'teleporter', name: 'k', entry: './index.js' },
      code: '',
    },
    { name: 'skiff-plugin-escape', field: { apiVersion: 1, kind: 'volume', name: 'e', entry: '../../etc/passwd' } },
    { name: 'skiff-plugin-noexport', code: 'export const x = 1;' },
    { name: 'skiff-plugin-syntax', code: 'export default {' },
    {
      name: 'skiff-plugin-lies',
      code: `export default { apiVersion: 1, kind: 'volume', name: 'other', register(r) { r.provide(() => ({})); } };`,
    },
  ]);
  const registry = new DriverRegistry();
  const names = ['good', 'throws', 'skips', 'future', 'kind', 'escape', 'noexport', 'syntax', 'lies', 'absent'];
  const status = await loadPlugins(
    names.map((n) => ({ spec: `skiff-plugin-${n}`, missingOk: false })),
    [nm],
    registry,
    host(root),
  );
  const by = Object.fromEntries(status.map((s) => [s.state === 'loaded' ? s.pkg.packageName : s.packageName, s]));
  t.is(by['skiff-plugin-good']!.state, 'loaded');
  t.deepEqual(by['skiff-plugin-throws'], {
    state: 'failed',
    spec: 'skiff-plugin-throws',
    packageName: 'skiff-plugin-throws',
    reason: 'register() failed: kaboom',
  });
  t.deepEqual(by['skiff-plugin-skips'], {
    state: 'skipped',
    spec: 'skiff-plugin-skips',
    packageName: 'skiff-plugin-skips',
    reason: 'needs a unicorn',
  });
  t.regex(
    (by['skiff-plugin-future'] as { reason: string }).reason,
    /unsupported plugin apiVersion 99 \(this skiffd speaks 1\)/,
  );
  t.regex((by['skiff-plugin-kind'] as { reason: string }).reason, /unknown plugin kind "teleporter"/);
  t.regex((by['skiff-plugin-escape'] as { reason: string }).reason, /invalid entry/);
  t.regex((by['skiff-plugin-noexport'] as { reason: string }).reason, /does not export a manifest/);
  t.regex((by['skiff-plugin-syntax'] as { reason: string }).reason, /cannot import/);
  t.regex((by['skiff-plugin-lies'] as { reason: string }).reason, /disagrees with package.json/);
  t.deepEqual(by['skiff-plugin-absent'], {
    state: 'failed',
    spec: 'skiff-plugin-absent',
    packageName: 'skiff-plugin-absent',
    reason: 'package not found',
  });
  t.deepEqual(registry.names('volume'), ['skiffplugingood']);
  const driver = await registry.get('volume', 'skiffplugingood');
  t.is(driver.name, 'v');
});

test('missing first-party packages are silently absent', async (t) => {
  const { nm, root } = await fixtures([]);
  const status = await loadPlugins(
    [{ spec: '@skiff/nothing', missingOk: true }],
    [nm],
    new DriverRegistry(),
    host(root),
  );
  t.deepEqual(status, []);
});

test('a driver factory that throws is reported with the package name, and the driver is disabled', async (t) => {
  const { nm, root } = await fixtures([
    {
      name: 'skiff-plugin-badfactory',
      code: `export default { apiVersion: 1, kind: 'volume', name: 'skiffpluginbadfactory', register(r) { r.provide(() => { globalThis.badFactoryCalls = (globalThis.badFactoryCalls ?? 0) + 1; throw new Error('no disk'); }); } };`,
    },
  ]);
  const seen: string[] = [];
  const registry = new DriverRegistry((kind, instance, err) => seen.push(`${kind} ${instance}: ${err.message}`));
  const status = await loadPlugins([{ spec: 'skiff-plugin-badfactory', missingOk: false }], [nm], registry, host(root));
  await t.throwsAsync(registry.get('volume', 'skiffpluginbadfactory'), {
    message: 'plugin skiff-plugin-badfactory: driver failed to start: no disk',
  });
  // Disabled: the next get fails at once, without running the factory again; the failure is reported.
  await t.throwsAsync(registry.get('volume', 'skiffpluginbadfactory'), { message: /driver failed to start: no disk/ });
  t.is((globalThis as { badFactoryCalls?: number }).badFactoryCalls, 1);
  t.deepEqual(seen, ['volume skiffpluginbadfactory: plugin skiff-plugin-badfactory: driver failed to start: no disk']);
  const [entry] = await pluginReport(status, registry, [nm]);
  t.is(entry?.Package, 'skiff-plugin-badfactory');
  t.is(entry?.State, 'failed');
  t.regex(entry?.Reason ?? '', /driver failed to start: no disk/);
  await t.throwsAsync(registry.get('volume', 'nope'), {
    message: /no volume driver named "nope" \(available: skiffpluginbadfactory\)/,
  });
});

test('two packages cannot provide the same driver', async (t) => {
  const code = (n: string) =>
    `export default { apiVersion: 1, kind: 'volume', name: 'same', register(r) { r.provide(() => ({ name: '${n}' })); } };`;
  const { nm, root } = await fixtures([
    { name: 'p-one', field: { apiVersion: 1, kind: 'volume', name: 'same', entry: './index.js' }, code: code('1') },
    { name: 'p-two', field: { apiVersion: 1, kind: 'volume', name: 'same', entry: './index.js' }, code: code('2') },
  ]);
  const status = await loadPlugins(
    [
      { spec: 'p-one', missingOk: false },
      { spec: 'p-two', missingOk: false },
    ],
    [nm],
    new DriverRegistry(),
    host(root),
  );
  t.is(status[0]!.state, 'loaded');
  t.regex((status[1] as { reason: string }).reason, /provided by both p-one and p-two/);
});

test('plugins may only ask for services they declared', async (t) => {
  const { nm, root } = await fixtures([
    {
      name: 'p-greedy',
      field: { apiVersion: 1, kind: 'volume', name: 'greedy', entry: './index.js' },
      code: `export default { apiVersion: 1, kind: 'volume', name: 'greedy', register(r) { r.get(Symbol.for('skiff.content-store/1')); } };`,
    },
  ]);
  const [s] = await loadPlugins([{ spec: 'p-greedy', missingOk: false }], [nm], new DriverRegistry(), host(root));
  t.regex((s as { reason: string }).reason, /was not listed in requires/);
});
