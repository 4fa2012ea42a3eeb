import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { copyUp, targetInRoot } from './mount-target.js';

async function tmp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-mount-target-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('targets are created inside the rootfs and returned without symlinks', async (t) => {
  const dir = await tmp(t);
  const root = join(dir, 'rootfs');
  await mkdir(join(root, 'srv/real'), { recursive: true });
  await symlink('/srv/real', join(root, 'link'));
  t.is(await targetInRoot(root, ['data', 'x'], true), '/data/x');
  t.true((await stat(join(root, 'data/x'))).isDirectory());
  t.is(await targetInRoot(root, ['link', 'sub'], true), '/srv/real/sub');
  t.is(await targetInRoot(root, ['etc', 'conf'], false), '/etc/conf');
  t.true((await stat(join(root, 'etc/conf'))).isFile());
});

test('symlinks in the image never lead a target out of the rootfs', async (t) => {
  const dir = await tmp(t);
  const root = join(dir, 'rootfs');
  const outside = join(dir, 'outside');
  await mkdir(root, { recursive: true });
  // Absolute and relative links that climb out: inside the container both mean the root.
  await symlink(outside, join(root, 'abs'));
  await symlink('../../../../../..', join(root, 'up'));
  await symlink('/', join(root, 'slash'));
  // A link to a path the rootfs lacks is refused (never created through), on the host or in the rootfs.
  await t.throwsAsync(targetInRoot(root, ['abs', 'x'], true), { instanceOf: InvalidParameterError });
  t.false(existsSync(outside), 'nothing made on the host');
  await mkdir(join(root, outside), { recursive: true });
  t.is(await targetInRoot(root, ['abs', 'x'], true), `${outside}/x`);
  t.false(existsSync(outside), 'nothing made on the host');
  t.true((await stat(join(root, outside, 'x'))).isDirectory());
  await t.throwsAsync(targetInRoot(root, ['up', 'y'], true), { instanceOf: InvalidParameterError });
  await t.throwsAsync(targetInRoot(root, ['slash'], true), { instanceOf: InvalidParameterError });
  await symlink('/etc/passwd', join(root, 'filelink'));
  await t.throwsAsync(targetInRoot(root, ['filelink'], false), { instanceOf: InvalidParameterError });
});

test('copy-up fills an empty volume with owners and modes, and leaves a used one alone', async (t) => {
  const dir = await tmp(t);
  const root = join(dir, 'rootfs');
  await mkdir(join(root, 'data/sub'), { recursive: true, mode: 0o750 });
  await writeFile(join(root, 'data/sub/f'), 'image content', { mode: 0o640 });
  await chown(join(root, 'data/sub/f'), 1234, 5678);
  await symlink('/etc/shadow', join(root, 'data/link'));
  const vol = join(dir, 'vol');
  await mkdir(vol);
  await copyUp(root, ['data'], vol);
  const st = await stat(join(vol, 'sub/f'));
  t.is(await readFile(join(vol, 'sub/f'), 'utf8'), 'image content');
  t.is(st.uid, 1234);
  t.is(st.gid, 5678);
  t.is(st.mode & 0o777, 0o640);
  t.is((await stat(join(vol, 'sub'))).mode & 0o777, 0o750);
  t.is((await stat(vol)).mode & 0o777, 0o750, 'the volume takes the mode of the image directory');
  await writeFile(join(root, 'data/new'), 'later');
  await copyUp(root, ['data'], vol);
  t.false(existsSync(join(vol, 'new')));
  const empty = join(dir, 'empty');
  await mkdir(empty);
  await copyUp(root, ['missing'], empty);
  await copyUp(root, ['data', 'sub', 'f'], empty);
  t.false(existsSync(join(empty, 'f')));
});
