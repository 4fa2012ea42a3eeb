import test from 'ava';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Logger } from '../plugin-api/logger.js';
import type { Runtime } from '../plugin-api/runtime.js';
import { DriverRegistry } from '../plugins/driver-registry.js';
import { DefaultRuntimeError, startDefaultRuntime } from './default-runtime.js';

/** A `linux` runtime driver that starts for the binaries in `working` and refuses the others. */
function registry(working: string[]): DriverRegistry {
  const r = new DriverRegistry();
  r.add('runtime', 'linux', {
    packageName: 'fake-runtime',
    factory: (opts) => {
      if (!working.includes(opts.path as string)) throw new Error(`${String(opts.path)} cannot run containers here`);
      return { binary: opts.path } as unknown as Runtime;
    },
  });
  return r;
}

function logger(lines: string[]): Logger {
  const log = {
    info: (m: string) => lines.push(m),
    warn: () => {},
    error: () => {},
    debug: () => {},
    child: () => log,
  };
  return log as unknown as Logger;
}

const runtimes = { runc: { path: 'runc' }, crun: { path: 'crun' } };
const config = (o: Partial<DaemonConfig> = {}) => ({ runtimes, ...o }) as DaemonConfig;

test('unset: runc where it starts, recorded in the config', async (t) => {
  const cfg = config();
  const rt = (await startDefaultRuntime(cfg, registry(['runc', 'crun']), logger([]))) as unknown as {
    binary: string;
  };
  t.is(rt.binary, 'runc');
  t.is(cfg.defaultRuntime, 'runc');
});

test('unset: crun when runc cannot start, with the reason logged', async (t) => {
  const cfg = config();
  const lines: string[] = [];
  await startDefaultRuntime(cfg, registry(['crun']), logger(lines));
  t.is(cfg.defaultRuntime, 'crun');
  t.regex(lines.join('\n'), /default runtime crun; passed over: runtime "runc" failed to start: runc cannot run/);
});

test('unset and nothing starts: the last candidate’s error', async (t) => {
  await t.throwsAsync(startDefaultRuntime(config(), registry([]), logger([])), {
    instanceOf: DefaultRuntimeError,
    message: /runtime "crun" failed to start: crun cannot run containers here/,
  });
});

test('named: that runtime or its error, never another', async (t) => {
  const cfg = config({ defaultRuntime: 'runc' });
  await t.throwsAsync(startDefaultRuntime(cfg, registry(['crun']), logger([])), {
    instanceOf: DefaultRuntimeError,
    message: /runtime "runc" failed to start/,
  });
  t.is(cfg.defaultRuntime, 'runc');
});

test('a runtime whose driver is missing says which driver, and why it is missing', async (t) => {
  const cfg = config({ runtimes: { vm: { runtimeType: 'vm' } }, defaultRuntime: 'vm' });
  await t.throwsAsync(startDefaultRuntime(cfg, registry([]), logger([]), ' (@skiff/runtime-vm: no qemu)'), {
    message: 'default runtime "vm" needs the "vm" runtime driver, which is not available (@skiff/runtime-vm: no qemu)',
  });
});
