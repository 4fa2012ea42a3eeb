import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DriverKinds,
  type DriverOptions,
  type Logger,
  type PluginRegistrar,
  PluginSkipError,
} from '@skiff/core/plugin-api';
import test from 'ava';
import { LinuxRuntime } from './linux-runtime.js';
import plugin from './plugin.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

function registrar(state: string, settings: Record<string, unknown> = {}) {
  let factory: ((o: DriverOptions) => DriverKinds['runtime'] | Promise<DriverKinds['runtime']>) | undefined;
  const r: PluginRegistrar<'runtime'> = {
    name: '@skiff/runtime-linux',
    kind: 'runtime',
    settings,
    log: silent,
    paths: { root: join(state, 'root'), state },
    provide(f) {
      factory = f;
    },
    get() {
      throw new Error('no services');
    },
    skip(reason): never {
      throw new PluginSkipError(reason);
    },
  };
  return { r, factory: () => factory };
}

test('the manifest provides a runc runtime with the configured path and args', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'skiff-rtplugin-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  t.like(plugin, { apiVersion: 1, kind: 'runtime', name: 'linux' });
  const { r, factory } = registrar(state);
  await plugin.register(r);
  const rt = await factory()!({ path: '/usr/sbin/runc', runtimeArgs: [] });
  t.true(rt instanceof LinuxRuntime);
  t.is(rt.name, 'linux');
  t.deepEqual(rt.capabilities(), { terminal: true, stdin: true, survivesDaemonRestart: true });
  await rt.close();
  await t.throwsAsync(async () => factory()!({ path: '/nonexistent/runc' }), {
    message: /OCI runtime \/nonexistent\/runc not found/,
  });
});

test('the plugin skips (not fails) when conmon is missing', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'skiff-rtplugin-'));
  t.teardown(() => rm(state, { recursive: true, force: true }));
  const { r } = registrar(state, { conmon: '/nonexistent/conmon' });
  await t.throwsAsync(async () => plugin.register(r), {
    instanceOf: PluginSkipError,
    message: /conmon not found at \/nonexistent\/conmon/,
  });
});
