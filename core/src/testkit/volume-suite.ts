import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import { ConflictError, InvalidParameterError, NotFoundError, PluginSkipError } from '../plugin-api/errors.js';
import type { Logger } from '../plugin-api/logger.js';
import type { PluginManifest, PluginRegistrar } from '../plugin-api/manifest.js';
import type { VolumeDriver } from '../plugin-api/volume.js';

/** What the suite hands a volume driver factory; the same dirs again stand for a restarted daemon. */
export interface VolumeSuiteContext {
  root: string;
  state: string;
}

async function dirs(t: ExecutionContext): Promise<VolumeSuiteContext> {
  const base = await mkdtemp(join(tmpdir(), 'skiff-volume-suite-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  return { root: join(base, 'root'), state: join(base, 'state') };
}

/**
 * Conformance of a volume driver: create is idempotent, mounts are counted per caller and
 * survive a restart of the driver, remove is refused while mounted, bad names never touch disk.
 */
export function volumeDriverSuite(
  test: TestFn,
  name: string,
  factory: (ctx: VolumeSuiteContext) => Promise<VolumeDriver>,
): void {
  test(`${name}: create, get, list, remove`, async (t) => {
    const driver = await factory(await dirs(t));
    const v = await driver.create('suite-vol', {}, { k: 'v' });
    t.is(v.name, 'suite-vol');
    t.is(v.driver, driver.name);
    t.true(isAbsolute(v.mountpoint));
    t.true(v.createdAt instanceof Date && !Number.isNaN(v.createdAt.getTime()));
    t.deepEqual(v.labels, { k: 'v' });
    const again = await driver.create('suite-vol', {}, {});
    t.is(again.createdAt.getTime(), v.createdAt.getTime(), 'create of an existing volume returns it');
    t.is((await driver.get('suite-vol')).mountpoint, v.mountpoint);
    t.deepEqual(
      (await driver.list()).map((x) => x.name),
      ['suite-vol'],
    );
    await driver.remove('suite-vol');
    await t.throwsAsync(driver.get('suite-vol'), { instanceOf: NotFoundError });
    await t.throwsAsync(driver.remove('suite-vol'), { instanceOf: NotFoundError });
    await t.throwsAsync(driver.mount('suite-vol', 'c1'), { instanceOf: NotFoundError });
  });

  test(`${name}: mounts are counted per caller and outlive a restart of the driver`, async (t) => {
    const ctx = await dirs(t);
    const driver = await factory(ctx);
    await driver.create('held', {}, {});
    const { path } = await driver.mount('held', 'c1');
    await writeFile(join(path, 'f'), 'data');
    await driver.mount('held', 'c1');
    await driver.mount('held', 'c2');
    await t.throwsAsync(driver.remove('held'), { instanceOf: ConflictError });
    await driver.unmount('held', 'c1');
    await t.throwsAsync(driver.remove('held'), { instanceOf: ConflictError }, 'c1 counted once');
    const restarted = await factory(ctx);
    await t.throwsAsync(restarted.remove('held'), { instanceOf: ConflictError }, 'holders survive a restart');
    await restarted.unmount('held', 'never-mounted');
    await restarted.unmount('held', 'c2');
    t.is(await readFile(join((await restarted.mount('held', 'c3')).path, 'f'), 'utf8'), 'data');
    await restarted.unmount('held', 'c3');
    await restarted.remove('held');
  });

  test(`${name}: bad names are refused`, async (t) => {
    const driver = await factory(await dirs(t));
    for (const bad of ['../escape', 'a/b', '/abs', '..', '', 'x\0y']) {
      await t.throwsAsync(driver.create(bad, {}, {}), { instanceOf: InvalidParameterError }, JSON.stringify(bad));
    }
    t.deepEqual(await driver.list(), []);
  });
}

/** Runs a volume plugin's register() against a minimal registrar and returns its driver. */
export async function providedVolumeDriver(
  manifest: PluginManifest<'volume'>,
  paths: { root: string; state: string },
): Promise<VolumeDriver> {
  let factory: (() => VolumeDriver | Promise<VolumeDriver>) | undefined;
  const registrar: PluginRegistrar<'volume'> = {
    name: manifest.name,
    kind: 'volume',
    settings: {},
    log: silentLogger,
    paths,
    provide: (f) => {
      factory = () => f({});
    },
    get: (token: symbol) => {
      throw new Error(`service ${String(token.description)} is not available`);
    },
    skip: (reason: string): never => {
      throw new PluginSkipError(reason);
    },
  };
  await manifest.register(registrar);
  if (!factory) throw new Error(`plugin ${manifest.name} provided no driver`);
  return factory();
}

const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
