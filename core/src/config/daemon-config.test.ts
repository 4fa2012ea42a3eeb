import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig, parseCommandLine, parseConfigFile } from './daemon-config.js';

async function file(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-cfg-'));
  const f = join(dir, 'daemon.json');
  await writeFile(f, content);
  return f;
}

test('flags parse like dockerd and override the file', async (t) => {
  const f = await file(
    JSON.stringify({ 'storage-driver': 'overlay', 'insecure-registries': ['a:5000'], 'data-root': '/x' }),
  );
  const cl = parseCommandLine([
    '--config-file',
    f,
    '--root',
    '/r',
    '--exec-root',
    '/e',
    '-H',
    'unix:///tmp/s.sock',
    '--storage-driver',
    'vfs',
    '--insecure-registry',
    'b:5000',
    '--insecure-registry',
    'c:5000',
  ]);
  const cfg = await loadConfig(cl);
  t.is(cfg.dataRoot, '/r');
  t.is(cfg.execRoot, '/e');
  t.deepEqual(cfg.hosts, ['unix:///tmp/s.sock']);
  t.is(cfg.storageDriver, 'vfs');
  t.deepEqual(cfg.insecureRegistries, ['a:5000', 'b:5000', 'c:5000']);
  t.is(cfg.defaultRuntime, undefined, 'unset: skiffd picks runc (or crun) at start-up');
});

test('--data-root is accepted as a synonym of --root', (t) => {
  t.is(parseCommandLine(['--data-root', '/d']).overrides.dataRoot, '/d');
});

test('unknown keys in daemon.json are rejected, naming them', (t) => {
  const err = t.throws(() => parseConfigFile('{"storage-driver":"vfs","bogus":1,"nope":2}', '/f'), {
    instanceOf: ConfigError,
  });
  t.regex(err!.message, /don't match any configuration option: bogus, nope/);
});

test('malformed daemon.json is a clear error', (t) => {
  t.throws(() => parseConfigFile('{"a":', '/f'), {
    instanceOf: ConfigError,
    message: /unable to configure the skiff daemon with file \/f/,
  });
  t.throws(() => parseConfigFile('[1]', '/f'), { instanceOf: ConfigError });
});

test('unknown flags are rejected', (t) => {
  t.throws(() => parseCommandLine(['--no-such-flag']), { instanceOf: ConfigError });
});

test('a missing default config file is fine, a named one is not', async (t) => {
  await t.notThrowsAsync(loadConfig({ overrides: {}, help: false, version: false, configFile: undefined }));
  await t.throwsAsync(loadConfig(parseCommandLine(['--config-file', '/nonexistent/daemon.json'])), {
    instanceOf: ConfigError,
  });
});

test('values are type-checked', async (t) => {
  const f = await file('{"hosts": "unix:///x"}');
  await t.throwsAsync(loadConfig(parseCommandLine(['--config-file', f])), {
    message: /hosts must be a list of strings/,
  });
  const g = await file('{"default-runtime": "nope"}');
  await t.throwsAsync(loadConfig(parseCommandLine(['--config-file', g])), {
    message: /default runtime nope is not among/,
  });
  await t.throwsAsync(loadConfig(parseCommandLine(['-H', 'tcp://0.0.0.0:2375'])), {
    message: /only unix:\/\/ sockets/,
  });
});

test('pull tuning keys: dockerd names, defaults and bounds', async (t) => {
  const defaults = await loadConfig({ overrides: {}, help: false, version: false, configFile: undefined });
  t.is(defaults.maxConcurrentDownloads, 3);
  t.is(defaults.maxDownloadAttempts, 5);
  t.is(defaults.registryTimeout, 30);
  const f = await file('{"max-concurrent-downloads": 6, "max-download-attempts": 1, "registry-timeout": 2}');
  const c = await loadConfig(parseCommandLine(['--config-file', f]));
  t.deepEqual([c.maxConcurrentDownloads, c.maxDownloadAttempts, c.registryTimeout], [6, 1, 2]);
  for (const bad of [
    '{"max-concurrent-downloads": 0}',
    '{"max-download-attempts": "3"}',
    '{"registry-timeout": 1.5}',
  ]) {
    await t.throwsAsync(loadConfig(parseCommandLine(['--config-file', await file(bad)])), {
      instanceOf: ConfigError,
      message: /must be an integer from 1 to/,
    });
  }
});

test('detach-keys: a default detach sequence for the daemon; a bad one is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-cfg-'));
  const good = join(dir, 'good.json');
  await writeFile(good, JSON.stringify({ 'detach-keys': 'ctrl-x,y' }));
  t.is((await loadConfig(parseCommandLine(['--config-file', good]))).detachKeys, 'ctrl-x,y');
  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify({ 'detach-keys': 'ctrl-foo' }));
  await t.throwsAsync(loadConfig(parseCommandLine(['--config-file', bad])), {
    instanceOf: ConfigError,
    message: `detach-keys "ctrl-foo": Unknown character: 'ctrl-foo'`,
  });
});
