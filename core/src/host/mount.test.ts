import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { InvalidParameterError, SystemError } from '../plugin-api/errors.js';
import type { Mount } from '../plugin-api/mount.js';
import {
  commonDir,
  MOUNT_DATA_MAX,
  mountAll,
  planMount,
  rootfsPath,
  splitMountOptions,
  unmountAll,
  withMounted,
} from './mount.js';
import { readMountInfo } from './mountinfo.js';
import { mountsUnder } from './mountinfo.js';

async function scratch(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-mount-'));
  t.teardown(async () => {
    await unmountAll(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

test('rootfsPath takes only a single writable root bind', (t) => {
  t.is(rootfsPath([{ type: 'bind', source: '/a', options: ['rbind', 'rw'] }]), '/a');
  t.is(rootfsPath([{ type: 'bind', source: '/a', options: ['rbind', 'ro'] }]), undefined);
  t.is(rootfsPath([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b'] }]), undefined);
  t.is(rootfsPath([{ type: 'bind', source: '/a', target: 'x', options: ['rbind'] }]), undefined);
  t.is(
    rootfsPath([
      { type: 'bind', source: '/a', options: ['rbind'] },
      { type: 'bind', source: '/b', target: 'x', options: ['rbind'] },
    ]),
    undefined,
  );
});

test('commonDir works on whole components', (t) => {
  t.is(commonDir(['/var/lib/s/abc/fs', '/var/lib/s/abd/fs']), '/var/lib/s');
  t.is(commonDir(['/var/lib/s/abc/fs']), '/var/lib/s/abc');
  t.is(commonDir(['/a/b', '/c/d']), '/');
});

test('planMount keeps short overlay options absolute and shortens long ones', (t) => {
  const short: Mount = {
    type: 'overlay',
    source: 'overlay',
    options: ['lowerdir=/r/s/a/fs:/r/s/b/fs', 'upperdir=/r/s/c/fs', 'workdir=/r/s/c/work'],
  };
  t.deepEqual(planMount(short, '/mnt'), {
    args: ['-t', 'overlay', '-o', short.options.join(','), '--', 'overlay', '/mnt'],
  });

  const root = `/var/lib/${'x'.repeat(60)}/s`;
  const lowers = Array.from({ length: 128 }, (_, i) => `${root}/${String(i).padStart(10, 'l')}/fs`);
  const long: Mount = {
    type: 'overlay',
    source: 'overlay',
    options: [`lowerdir=${lowers.join(':')}`, `upperdir=${root}/u/fs`, `workdir=${root}/u/work`],
  };
  t.true(long.options.join(',').length > MOUNT_DATA_MAX);
  const plan = planMount(long, '/mnt');
  t.is(plan.cwd, root);
  const opts = plan.args[3] as string;
  t.true(opts.length <= MOUNT_DATA_MAX);
  t.true(opts.startsWith(`lowerdir=${String(0).padStart(10, 'l')}/fs:`));
  t.true(opts.includes(`upperdir=${root}/u/fs`));

  const hopeless: Mount = {
    type: 'overlay',
    source: 'overlay',
    options: [`lowerdir=${Array.from({ length: 600 }, (_, i) => `/a${i}/${'y'.repeat(20)}`).join(':')}`],
  };
  t.throws(() => planMount(hopeless, '/mnt'), { instanceOf: SystemError });
  t.deepEqual(planMount({ type: 'bind', source: '/src', options: ['ro'] }, '/mnt').args, [
    '-o',
    'rbind,ro',
    '--',
    '/src',
    '/mnt',
  ]);
});

test('splitMountOptions turns flag words into mount(2) flags and keeps the rest as data', (t) => {
  t.deepEqual(splitMountOptions(['ro', 'nosuid', 'nodev', 'lowerdir=/a:/b', 'upperdir=/u', 'defaults']), {
    flags: 0x1 | 0x2 | 0x4,
    data: 'lowerdir=/a:/b,upperdir=/u',
  });
  t.deepEqual(splitMountOptions(['ro', 'rw', 'noexec', 'exec', 'size=64k']), { flags: 0, data: 'size=64k' });
  t.deepEqual(splitMountOptions([]), { flags: 0, data: '' });
});

test('mountAll applies flag words of a non-bind mount (tmpfs ro,nosuid with a size)', async (t) => {
  const dir = await scratch(t);
  await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['ro', 'nosuid', 'size=1m', 'mode=0750'] }], dir);
  t.teardown(() => unmountAll(dir));
  const mi = (await readMountInfo()).find((m) => m.mountPoint === dir);
  t.is(mi?.fsType, 'tmpfs');
  t.is((await stat(dir)).mode & 0o777, 0o750);
  await t.throwsAsync(writeFile(join(dir, 'f'), 'x'), { code: 'EROFS' });
  await unmountAll(dir);
  t.deepEqual(await mountsUnder(dir), []);
});

test('withMounted uses a writable bind directly and mounts everything else', async (t) => {
  const dir = await scratch(t);
  const src = join(dir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'f'), 'data');
  t.is(await withMounted([{ type: 'bind', source: src, options: ['rbind', 'rw'] }], async (d) => d), src);

  let seen = '';
  const err = await t.throwsAsync(
    withMounted([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], async (d) => {
      seen = d;
      t.is(await readFile(join(d, 'f'), 'utf8'), 'data');
      t.deepEqual(await mountsUnder(d), [d]);
      await writeFile(join(d, 'g'), 'x');
    }),
  );
  t.is((err as NodeJS.ErrnoException).code, 'EROFS');
  t.deepEqual(await mountsUnder(seen), []);
  await t.throwsAsync(stat(seen), { code: 'ENOENT' });
  await t.throwsAsync(
    withMounted([], async () => 1),
    { instanceOf: InvalidParameterError },
  );
});

test('mountAll mounts an overlay whose lowerdirs exceed a page, and nested targets', async (t) => {
  const dir = await scratch(t);
  // Long absolute paths: 100 lowers × ~90 bytes is over twice the page limit.
  const layers = join(dir, 'l'.repeat(60));
  const lowers: string[] = [];
  for (let i = 0; i < 100; i++) {
    const l = join(layers, `layer${String(i).padStart(3, '0')}`, 'fs');
    await mkdir(l, { recursive: true });
    await writeFile(join(l, `f${i}`), String(i));
    await writeFile(join(l, 'top'), String(i));
    lowers.push(l);
  }
  lowers.reverse(); // top first
  const upper = join(dir, 'u');
  const work = join(dir, 'w');
  const extra = join(dir, 'extra');
  await Promise.all([mkdir(upper), mkdir(work), mkdir(extra)]);
  await writeFile(join(extra, 'e'), 'e');
  const target = join(dir, 'mnt');
  await mkdir(target);
  const mounts: Mount[] = [
    {
      type: 'overlay',
      source: 'overlay',
      options: [`lowerdir=${lowers.join(':')}`, `upperdir=${upper}`, `workdir=${work}`],
    },
    { type: 'bind', source: extra, target: 'nested/extra', options: ['rbind', 'ro'] },
  ];
  t.true(mounts[0]!.options.join(',').length > MOUNT_DATA_MAX);
  await mountAll(mounts, target);
  t.is(await readFile(join(target, 'top'), 'utf8'), '99');
  t.is(await readFile(join(target, 'f0'), 'utf8'), '0');
  t.is(await readFile(join(target, 'nested/extra/e'), 'utf8'), 'e');
  await writeFile(join(target, 'new'), 'n');
  t.is(await readFile(join(upper, 'new'), 'utf8'), 'n');
  t.is((await mountsUnder(target)).length, 2);
  await unmountAll(target);
  t.deepEqual(await mountsUnder(target), []);
  await unmountAll(target); // idempotent
  await unmountAll(join(dir, 'does-not-exist'));
});

test('mountAll undoes earlier mounts when a later one fails', async (t) => {
  const dir = await scratch(t);
  const target = join(dir, 'mnt');
  await mkdir(target);
  await t.throwsAsync(
    mountAll(
      [
        { type: 'bind', source: dir, options: ['rbind'] },
        { type: 'bind', source: join(dir, 'missing'), target: 'x', options: ['rbind'] },
      ],
      target,
    ),
    { instanceOf: SystemError },
  );
  t.deepEqual(await mountsUnder(target), []);
  await t.throwsAsync(mountAll([{ type: 'bind', source: dir, target: '../escape', options: ['rbind'] }], target), {
    instanceOf: InvalidParameterError,
  });
});

test('unmountAll detaches a busy mount lazily', async (t) => {
  const dir = await scratch(t);
  const src = join(dir, 'src');
  const target = join(dir, 'mnt');
  await Promise.all([mkdir(src), mkdir(target)]);
  await writeFile(join(src, 'f'), 'x');
  await mountAll([{ type: 'bind', source: src, options: ['rbind'] }], target);
  const { open } = await import('node:fs/promises');
  const fh = await open(join(target, 'f'));
  t.teardown(() => fh.close());
  await unmountAll(target);
  t.deepEqual(await mountsUnder(target), []);
});
