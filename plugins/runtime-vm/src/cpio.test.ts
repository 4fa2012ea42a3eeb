import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cpioArchive } from './cpio.js';

test('busybox cpio unpacks the archive: files, modes, directories', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-cpio-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const archive = cpioArchive([
    { name: 'bin', mode: 0o40755 },
    { name: 'bin/tool', mode: 0o100755, data: Buffer.from('#!/bin/sh\necho hi\n') },
    { name: 'odd-name.txt', mode: 0o100644, data: Buffer.from('x') },
    { name: 'dev', mode: 0o40755 },
    { name: 'dev/console', mode: 0o20600, rdev: { major: 5, minor: 1 } },
  ]);
  t.is(archive.length % 4, 0);
  const listing = execFileSync('busybox', ['cpio', '-t'], {
    input: archive,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  t.deepEqual(listing.trim().split('\n'), ['bin', 'bin/tool', 'odd-name.txt', 'dev', 'dev/console']);
  execFileSync('busybox', ['cpio', '-i', '-d'], { input: archive, cwd: dir, stdio: ['pipe', 'ignore', 'ignore'] });
  t.is(await readFile(join(dir, 'bin/tool'), 'utf8'), '#!/bin/sh\necho hi\n');
  t.is((await stat(join(dir, 'bin/tool'))).mode & 0o777, 0o755);
  t.is(await readFile(join(dir, 'odd-name.txt'), 'utf8'), 'x');
  const dev = await stat(join(dir, 'dev/console'));
  t.true(dev.isCharacterDevice());
});
