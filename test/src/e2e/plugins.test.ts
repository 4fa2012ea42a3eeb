import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api, expectStartFailure, startDaemon } from '../harness/index.js';

/** Writes a plugin package into a temp dir and returns its path (usable in daemon.json `plugins`). */
async function pluginPackage(name: string, skiff: object, code: string): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'skf-plugin-')), name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', skiff }));
  await writeFile(join(dir, 'index.js'), code);
  return dir;
}

const throwing = () =>
  pluginPackage(
    'skiff-plugin-throws',
    { apiVersion: 1, kind: 'volume', name: 'throws', entry: './index.js' },
    `export default { apiVersion: 1, kind: 'volume', name: 'throws', register() { throw new Error('the plugin exploded'); } };`,
  );
const future = () =>
  pluginPackage(
    'skiff-plugin-future',
    { apiVersion: 7, kind: 'volume', name: 'future', entry: './index.js' },
    `throw new Error('this code must never run');`,
  );

function linesAbout(output: string, pkg: string): string[] {
  return output.split('\n').filter((l) => l.includes(pkg));
}

test('broken optional plugins are reported in one line each and the daemon serves without them', async (t) => {
  const plugins = [await throwing(), await future()];
  const d = await startDaemon({ storageDriver: 'vfs', config: { plugins } });
  t.teardown(() => d.stop());
  const ping = await api(d.dockerHost, 'GET', '/_ping');
  t.is(ping.status, 200);
  const thrown = linesAbout(d.output(), 'skiff-plugin-throws');
  t.is(thrown.length, 1, d.output());
  t.regex(thrown[0]!, /plugin skiff-plugin-throws: register\(\) failed: the plugin exploded/);
  t.notRegex(d.output(), /\n\s+at /, 'no stack trace');
  const fut = linesAbout(d.output(), 'skiff-plugin-future');
  t.is(fut.length, 1, d.output());
  t.regex(fut[0]!, /unsupported plugin apiVersion 7 \(this skiffd speaks 1\)/);
});

test('a required plugin that fails stops the daemon with one line naming it', async (t) => {
  const dir = await throwing();
  const r = await expectStartFailure({ storageDriver: 'vfs', config: { 'required-plugins': [dir] } });
  t.is(r.code, 1);
  t.regex(r.output, /^skiffd: required plugin skiff-plugin-throws: register\(\) failed: the plugin exploded$/m);
  t.notRegex(r.output, /\n\s+at /);
  const r2 = await expectStartFailure({ storageDriver: 'vfs', config: { 'required-plugins': [await future()] } });
  t.regex(r2.output, /^skiffd: required plugin skiff-plugin-future: unsupported plugin apiVersion 7/m);
});

test('an unknown storage driver fails start-up naming it and the available drivers', async (t) => {
  const r = await expectStartFailure({ storageDriver: 'zfs' as 'vfs' });
  t.is(r.code, 1);
  t.regex(r.output, /^skiffd: unknown storage driver "zfs" \(available: [a-z, ]*vfs[a-z, ]*\)$/m);
});

test('a malformed config file fails start-up with a clear line', async (t) => {
  const r = await expectStartFailure({
    storageDriver: 'vfs',
    configText: '{"storage-driver": "vfs", "nonsense": true}',
  });
  t.is(r.code, 1);
  t.regex(
    r.output,
    /^skiffd: unable to configure the skiff daemon with file .*: the following directives don't match any configuration option: nonsense$/m,
  );
});
