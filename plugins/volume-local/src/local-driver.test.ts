import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { mountsUnder, run } from '@skiff/core/host';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '@skiff/core/plugin-api';
import { LocalVolumeDriver } from './local-driver.js';

async function setup(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-volume-local-'));
  t.teardown(async () => {
    for (const mp of await mountsUnder(dir)) await run('umount', ['-l', mp]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, driver: new LocalVolumeDriver(join(dir, 'root'), join(dir, 'state')) };
}

async function isMounted(path: string): Promise<boolean> {
  return (await mountsUnder(path)).includes(path);
}

test('create, get, list and remove; create of an existing name returns it unchanged', async (t) => {
  const { dir, driver } = await setup(t);
  t.deepEqual(await driver.list(), []);
  const v = await driver.create('data_1', {}, { team: 'x' });
  t.is(v.mountpoint, join(dir, 'root', 'data_1', '_data'));
  t.deepEqual(v.labels, { team: 'x' });
  t.true(existsSync(v.mountpoint));
  const again = await driver.create('data_1', {}, { other: 'y' });
  t.deepEqual(again.labels, { team: 'x' });
  t.is(again.createdAt.getTime(), v.createdAt.getTime());
  t.deepEqual(
    (await driver.list()).map((x) => x.name),
    ['data_1'],
  );
  // No temp files are left beside the metadata.
  t.deepEqual((await readdir(join(dir, 'root', 'data_1'))).sort(), ['_data', 'meta.json']);
  await driver.remove('data_1');
  await t.throwsAsync(driver.get('data_1'), { instanceOf: NotFoundError });
  await t.throwsAsync(driver.remove('data_1'), { instanceOf: NotFoundError });
  t.false(existsSync(join(dir, 'root', 'data_1')));
});

test('bad names and options are refused before anything is written', async (t) => {
  const { dir, driver } = await setup(t);
  for (const name of ['a', 'x/y', '..', '../escape', '.hidden', '-dash', '', 'a\0b']) {
    await t.throwsAsync(driver.create(name, {}, {}), { instanceOf: InvalidParameterError }, JSON.stringify(name));
  }
  await t.throwsAsync(driver.create('opts1', { foo: 'bar' }, {}), {
    instanceOf: InvalidParameterError,
    message: 'invalid option: "foo"',
  });
  await t.throwsAsync(driver.create('opts2', { type: 'tmpfs' }, {}), {
    instanceOf: InvalidParameterError,
    message: 'missing required option: "device"',
  });
  await t.throwsAsync(driver.create('opts3', { o: 'size=1m' }, {}), { instanceOf: InvalidParameterError });
  await t.throwsAsync(driver.mount('../x', 'c1'), { instanceOf: InvalidParameterError });
  t.false(existsSync(join(dir, 'root')) && (await readdir(join(dir, 'root'))).length > 0);
});

test('mounts are counted per caller: remove is refused while any caller holds the volume', async (t) => {
  const { driver } = await setup(t);
  const v = await driver.create('shared', {}, {});
  t.is((await driver.mount('shared', 'c1')).path, v.mountpoint);
  await driver.mount('shared', 'c1');
  await driver.mount('shared', 'c2');
  t.deepEqual(await driver.holders('shared'), ['c1', 'c2']);
  await t.throwsAsync(driver.remove('shared'), { instanceOf: ConflictError });
  await driver.unmount('shared', 'c1');
  await t.throwsAsync(driver.remove('shared'), { instanceOf: ConflictError });
  await driver.unmount('shared', 'not-a-holder');
  await driver.unmount('shared', 'c2');
  await driver.remove('shared');
  await t.throwsAsync(driver.mount('shared', 'c1'), { instanceOf: NotFoundError });
});

test('a device volume is mounted by the first caller and unmounted by the last; holders survive a restart', async (t) => {
  const { dir, driver } = await setup(t);
  const v = await driver.create('tmp', { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' }, {});
  t.false(await isMounted(v.mountpoint));
  await driver.mount('tmp', 'c1');
  t.true(await isMounted(v.mountpoint));
  await writeFile(join(v.mountpoint, 'f'), 'x');
  await driver.mount('tmp', 'c2');
  t.is((await mountsUnder(v.mountpoint)).length, 1);
  // A new driver over the same directories (a daemon restart) knows who holds the volume.
  const restarted = new LocalVolumeDriver(join(dir, 'root'), join(dir, 'state'));
  await t.throwsAsync(restarted.remove('tmp'), { instanceOf: ConflictError });
  await restarted.unmount('tmp', 'c1');
  t.true(await isMounted(v.mountpoint));
  await restarted.unmount('tmp', 'c2');
  t.false(await isMounted(v.mountpoint));
  t.false(existsSync(join(v.mountpoint, 'f')));
  await restarted.remove('tmp');
});

test('a device mount that fails leaves no holder and no mount behind', async (t) => {
  const { dir, driver } = await setup(t);
  const v = await driver.create('broken', { type: 'ext4', device: join(dir, 'no-such-device') }, {});
  await t.throwsAsync(driver.mount('broken', 'c1'), { instanceOf: SystemError });
  t.deepEqual(await driver.holders('broken'), []);
  t.false(await isMounted(v.mountpoint));
  await driver.remove('broken');
  t.false(existsSync(join(dir, 'root', 'broken')));
});

test('remove never deletes the content of a host directory still bound on the volume', async (t) => {
  const { dir, driver } = await setup(t);
  const host = join(dir, 'host');
  await run('mkdir', ['-p', host]);
  await writeFile(join(host, 'keep'), 'precious');
  const v = await driver.create('bound', { type: 'none', device: host, o: 'bind' }, {});
  await driver.mount('bound', 'c1');
  t.is(await readFile(join(v.mountpoint, 'keep'), 'utf8'), 'precious');
  // After a reboot-like loss of the holders (fresh state dir) the bind is still there: remove unmounts it first.
  const lost = new LocalVolumeDriver(join(dir, 'root'), join(dir, 'state-after-reboot'));
  await lost.remove('bound');
  t.is(await readFile(join(host, 'keep'), 'utf8'), 'precious');
  t.false(existsSync(join(dir, 'root', 'bound')));
});
