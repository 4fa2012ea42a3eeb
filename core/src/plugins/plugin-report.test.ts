import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConsoleLogger } from '../util/logger.js';
import { DriverRegistry } from './driver-registry.js';
import { loadPlugins } from './plugin-loader.js';
import { pluginReport } from './plugin-report.js';

async function pkg(nm: string, name: string, kind: string, code: string): Promise<void> {
  const dir = join(nm, name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '2.0.1',
      type: 'module',
      skiff: { apiVersion: 1, kind, name: name.replace(/\W/g, ''), entry: './index.js' },
    }),
  );
  await writeFile(join(dir, 'index.js'), code);
}

test('loaded, skipped and failed plugins, with capabilities only for drivers already started', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'skiff-report-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const nm = join(root, 'node_modules');
  const manifest = (kind: string, name: string, body: string) =>
    `export default { apiVersion: 1, kind: '${kind}', name: '${name}', register(r) { ${body} } };`;
  await pkg(
    nm,
    'used',
    'volume',
    manifest(
      'volume',
      'used',
      "r.provide(() => ({ name: 'used', capabilities: () => ({ scope: 'local', fast: true }) }))",
    ),
  );
  await pkg(
    nm,
    'idle',
    'volume',
    manifest('volume', 'idle', "r.provide(() => { throw new Error('must not be started'); })"),
  );
  await pkg(nm, 'skips', 'network', manifest('network', 'skips', "r.skip('needs a unicorn')"));
  await pkg(nm, 'throws', 'volume', manifest('volume', 'throws', "throw new Error('broken')"));
  const registry = new DriverRegistry();
  const status = await loadPlugins(
    ['used', 'idle', 'skips', 'throws', 'absent'].map((spec) => ({ spec, missingOk: false })),
    [nm],
    registry,
    {
      dataRoot: join(root, 'data'),
      execRoot: join(root, 'exec'),
      log: new ConsoleLogger('error', '', () => {}),
      settings: () => ({}),
      service: () => undefined,
    },
  );
  await registry.get('volume', 'used');
  const report = await pluginReport(status, registry, [nm]);
  const by = Object.fromEntries(report.map((r) => [r.Package, r]));
  t.deepEqual(by.used, {
    Package: 'used',
    Kind: 'volume',
    Name: 'used',
    Version: '2.0.1',
    State: 'loaded',
    Reason: '',
    Capabilities: { scope: 'local', fast: true },
  });
  t.like(by.idle, { State: 'loaded', Capabilities: null });
  t.like(by.skips, { Kind: 'network', Name: 'skips', Version: '2.0.1', State: 'skipped', Reason: 'needs a unicorn' });
  t.like(by.throws, { Kind: 'volume', State: 'failed', Capabilities: null });
  t.regex(by.throws?.Reason ?? '', /broken/);
  t.like(by.absent, { Kind: '', Name: '', Version: '', State: 'failed', Reason: 'package not found' });
});
