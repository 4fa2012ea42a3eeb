import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { isHiddenPath, listChanges } from './fs-changes.js';

const execFileP = promisify(execFile);

async function trees(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-fs-changes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const lower = join(dir, 'lower');
  const upper = join(dir, 'upper');
  for (const d of ['bin', 'etc', 'usr/lib', 'var/empty']) await mkdir(join(lower, d), { recursive: true });
  await writeFile(join(lower, 'etc/passwd'), 'root\n');
  await writeFile(join(lower, 'usr/lib/lib.so'), 'lib');
  await symlink('busybox', join(lower, 'bin/sh'));
  await writeFile(join(lower, 'bin/busybox'), 'bb');
  // Same tree with the same times: cp -a keeps them to the nanosecond.
  await execFileP('cp', ['-a', lower, upper]);
  return { lower, upper };
}

test('an untouched copy has no changes', async (t) => {
  const { lower, upper } = await trees(t);
  t.deepEqual(await listChanges(lower, upper), []);
});

test('added, modified and deleted entries, parents first and sorted; a changed symlink target is a change', async (t) => {
  const { lower, upper } = await trees(t);
  await writeFile(join(upper, 'usr/lib/lib.so'), 'other');
  await unlink(join(upper, 'bin/sh'));
  await symlink('elsewhere', join(upper, 'bin/sh'));
  await rm(join(upper, 'var'), { recursive: true });
  await mkdir(join(upper, 'new/deep'), { recursive: true });
  await writeFile(join(upper, 'new/deep/f'), '');
  await chmod(join(upper, 'bin/busybox'), 0o700);
  const changes = (await listChanges(lower, upper)).map((c) => `${'CAD'[c.Kind]} ${c.Path}`);
  t.deepEqual(changes, [
    'C /bin',
    'C /bin/busybox',
    'C /bin/sh',
    'A /new',
    'A /new/deep',
    'A /new/deep/f',
    'C /usr',
    'C /usr/lib',
    'C /usr/lib/lib.so',
    'D /var',
  ]);
});

test('the engine mount points are hidden, and /etc is not changed by them alone', async (t) => {
  const { lower, upper } = await trees(t);
  for (const d of ['proc', 'sys', 'dev/pts']) await mkdir(join(upper, d), { recursive: true });
  for (const f of ['etc/hosts', 'etc/hostname', 'etc/resolv.conf', '.dockerenv']) await writeFile(join(upper, f), '');
  const later = new Date(Date.now() + 60_000);
  await utimes(join(upper, 'etc'), later, later);
  t.deepEqual(await listChanges(lower, upper), []);
  await writeFile(join(upper, 'etc/motd'), 'hi');
  t.deepEqual(await listChanges(lower, upper), [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/motd', Kind: 1 },
  ]);
});

test('an empty image: everything is added (but /etc, made by the engine); a file turned into a directory is a change', async (t) => {
  const { lower, upper } = await trees(t);
  const all = await listChanges(undefined, upper);
  t.true(all.every((c) => c.Kind === 1 || c.Path === '/etc'));
  t.true(all.some((c) => c.Path === '/etc/passwd' && c.Kind === 1));
  t.true(all.some((c) => c.Path === '/usr/lib/lib.so'));
  await rm(join(upper, 'etc/passwd'));
  await mkdir(join(upper, 'etc/passwd'));
  await writeFile(join(upper, 'etc/passwd/x'), '');
  t.deepEqual(await listChanges(lower, upper), [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/passwd', Kind: 0 },
    { Path: '/etc/passwd/x', Kind: 1 },
  ]);
});

test('isHiddenPath covers whole /proc, /sys and /dev subtrees only', (t) => {
  t.true(isHiddenPath('proc'));
  t.true(isHiddenPath('dev/shm/x'));
  t.true(isHiddenPath('etc/hosts'));
  t.false(isHiddenPath('etc/hosts.allow'));
  t.false(isHiddenPath('devices'));
  t.false(isHiddenPath('etc'));
});
