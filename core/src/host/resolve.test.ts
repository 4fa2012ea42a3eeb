import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { resolveDirInRoot, splitRelativePath } from './resolve.js';

test('splitRelativePath normalises and refuses escapes', (t) => {
  t.deepEqual(splitRelativePath('./a//b/./c/'), ['a', 'b', 'c']);
  t.deepEqual(splitRelativePath('.'), []);
  for (const bad of ['/etc', '../x', 'a/../../b', 'a/..', 'a\0b']) {
    t.throws(() => splitRelativePath(bad), { instanceOf: InvalidParameterError }, bad);
  }
});

test('resolveDirInRoot follows symlinks inside the root only', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'skiff-resolve-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  await mkdir(join(root, 'usr/lib'), { recursive: true });
  await mkdir(join(base, 'outside'));
  await symlink('usr/lib', join(root, 'lib'));
  await symlink('/usr', join(root, 'abs'));
  await symlink('../outside', join(root, 'out'));
  await symlink('/nowhere', join(root, 'dangling'));
  await symlink('loop2', join(root, 'loop1'));
  await symlink('loop1', join(root, 'loop2'));
  await writeFile(join(root, 'file'), '');

  t.is(await resolveDirInRoot(root, ['lib']), join(root, 'usr/lib'));
  t.is(await resolveDirInRoot(root, ['abs', 'lib']), join(root, 'usr/lib'));
  t.is(await resolveDirInRoot(root, []), root);
  t.is(await resolveDirInRoot(root, ['missing', 'x']), undefined);
  t.is(await resolveDirInRoot(root, ['lib', 'new', 'deeper'], { create: true }), join(root, 'usr/lib/new/deeper'));
  for (const bad of [['out'], ['dangling'], ['loop1'], ['file', 'x']]) {
    await t.throwsAsync(
      resolveDirInRoot(root, bad, { create: true }),
      { instanceOf: InvalidParameterError },
      bad.join('/'),
    );
  }
});
