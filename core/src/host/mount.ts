import { mkdtemp, realpath, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { InvalidParameterError, SystemError } from '../plugin-api/errors.js';
import type { Mount } from '../plugin-api/mount.js';
import { run } from './exec.js';
import { isErrno } from './fs.js';
import { mountsUnder } from './mountinfo.js';
import { resolveDirInRoot, splitRelativePath } from './resolve.js';

/**
 * mount(2) copies at most one page of option data; longer overlay options fail with EINVAL or
 * are silently truncated. Leave room for the terminating NUL.
 */
export const MOUNT_DATA_MAX = 4095;

const BIND_FLAGS = new Set(['bind', 'rbind']);

/** mount(8)'s option words that are mount(2) flags: [flag, whether the word clears it]. */
const FLAG_WORDS: Record<string, [number, boolean]> = {
  ro: [0x1, false],
  rw: [0x1, true],
  nosuid: [0x2, false],
  suid: [0x2, true],
  nodev: [0x4, false],
  dev: [0x4, true],
  noexec: [0x8, false],
  exec: [0x8, true],
  sync: [0x10, false],
  async: [0x10, true],
  dirsync: [0x80, false],
  noatime: [0x400, false],
  atime: [0x400, true],
  nodiratime: [0x800, false],
  diratime: [0x800, true],
  relatime: [0x200000, false],
  norelatime: [0x200000, true],
  strictatime: [0x1000000, false],
};

/** Splits mount(8)-style options into mount(2) flags and the filesystem's data string. */
export function splitMountOptions(options: readonly string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const word = FLAG_WORDS[o];
    if (word) flags = word[1] ? flags & ~word[0] : flags | word[0];
    else if (o !== 'defaults') data.push(o);
  }
  return { flags, data: data.join(',') };
}

type Syscalls = typeof import('./in-root/syscalls.js');
let syscalls: Promise<Syscalls | undefined> | undefined;

/**
 * The mount(2)/umount2(2) wrappers (koffi, loaded on first use), or undefined where they cannot
 * load: then mount(8) does the work. Calling them directly spares the daemon a fork per mount,
 * which costs more the larger the daemon is.
 */
function directMounts(): Promise<Syscalls | undefined> {
  syscalls ??= import('./in-root/syscalls.js').catch(() => undefined);
  return syscalls;
}

function isBind(m: Mount): boolean {
  return m.type === 'bind' || m.options.some((o) => BIND_FLAGS.has(o));
}

/**
 * The directory a caller can use as the rootfs without mounting anything: the source of a
 * single writable bind mount at the root (what copy-based drivers return). Read-only binds are
 * left to a real mount so the kernel enforces read-only.
 */
export function rootfsPath(mounts: readonly Mount[]): string | undefined {
  if (mounts.length !== 1) return undefined;
  const [m] = mounts as [Mount];
  if (m.target !== undefined && splitRelativePath(m.target).length > 0) return undefined;
  if (!isBind(m) || m.options.includes('ro')) return undefined;
  return m.source;
}

/** Longest common directory of absolute paths (by whole components). */
export function commonDir(paths: readonly string[]): string {
  if (paths.length === 0) return '/';
  let parts = (paths[0] as string).split('/');
  for (const p of paths.slice(1)) {
    const q = p.split('/');
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  // A lowerdir itself can't be the cwd-relative "" path: use its parent.
  let dir = parts.join('/') || '/';
  if (paths.includes(dir)) dir = dirname(dir);
  return dir;
}

export interface PlannedMount {
  args: string[];
  cwd?: string;
}

/**
 * Plans the mount(8) invocation for one mount. Overlay option strings longer than a page are
 * shortened by making the lowerdirs relative to their common directory and running mount there,
 * as moby's overlay2 does; SystemError if even that does not fit.
 */
export function planMount(m: Mount, dest: string): PlannedMount {
  if (isBind(m)) {
    const opts = [...m.options];
    if (!opts.some((o) => BIND_FLAGS.has(o))) opts.unshift('rbind');
    return { args: ['-o', opts.join(','), '--', m.source, dest] };
  }
  let options = m.options.join(',');
  let cwd: string | undefined;
  if (options.length > MOUNT_DATA_MAX && m.type === 'overlay') {
    const lowerOpt = m.options.find((o) => o.startsWith('lowerdir='));
    if (lowerOpt) {
      const lowers = lowerOpt.slice('lowerdir='.length).split(':');
      if (lowers.every((l) => isAbsolute(l))) {
        cwd = commonDir(lowers);
        const rel = lowers.map((l) => relative(cwd as string, l)).join(':');
        options = m.options.map((o) => (o === lowerOpt ? `lowerdir=${rel}` : o)).join(',');
      }
    }
  }
  if (options.length > MOUNT_DATA_MAX) {
    throw new SystemError(
      `${m.type} mount options are ${options.length} bytes, over the ${MOUNT_DATA_MAX}-byte page limit`,
    );
  }
  const args = ['-t', m.type];
  if (options) args.push('-o', options);
  args.push('--', m.source, dest);
  return cwd ? { args, cwd } : { args };
}

/**
 * Performs `mounts` onto `target` in order (each `Mount.target` is resolved inside `target`
 * without leaving it). On failure, whatever was mounted is unmounted again.
 */
export async function mountAll(mounts: readonly Mount[], target: string): Promise<void> {
  const done: string[] = [];
  try {
    for (const m of mounts) {
      const dest =
        m.target === undefined
          ? target
          : ((await resolveDirInRoot(target, splitRelativePath(m.target), { create: true })) as string);
      const plan = planMount(m, dest);
      const sys = !isBind(m) && !plan.cwd ? await directMounts() : undefined;
      if (sys) {
        const { flags, data } = splitMountOptions(m.options);
        sys.mount(m.source, dest, m.type, flags, data);
      } else {
        await run('mount', plan.args, plan.cwd ? { cwd: plan.cwd } : {});
      }
      done.push(dest);
    }
  } catch (e) {
    for (const d of done.reverse()) await unmountAll(d).catch(() => {});
    throw e;
  }
}

/**
 * Unmounts everything at or below `target`, topmost first. Nothing mounted (or no such
 * directory) is fine; a busy mount is detached lazily instead.
 */
export async function unmountAll(target: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(target);
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return;
    throw e;
  }
  let points = await mountsUnder(real);
  if (points.length === 0) return;
  const sys = await directMounts();
  try {
    if (sys) for (const mp of points) await sys.umount2Async(mp);
    else await run('umount', ['--', ...points]);
    return;
  } catch {
    // Fall through: some were busy or already gone; detach what is left.
  }
  points = await mountsUnder(real);
  for (const mp of points) {
    try {
      if (sys) sys.umount2(mp, sys.MNT_DETACH);
      else await run('umount', ['-l', '--', mp]);
    } catch (e) {
      if ((await mountsUnder(mp)).includes(mp)) throw e;
    }
  }
}

/**
 * Runs `fn` with the snapshot's root directory: directly when the mounts are a plain writable
 * bind, else mounted on a fresh private temp dir that is always unmounted and removed afterwards.
 */
export async function withMounted<T>(mounts: readonly Mount[], fn: (dir: string) => Promise<T>): Promise<T> {
  if (mounts.length === 0) throw new InvalidParameterError('no mounts to mount');
  const direct = rootfsPath(mounts);
  if (direct !== undefined) return fn(direct);
  const dir = await mkdtemp(`${tmpdir()}${sep}skiff-mnt-`);
  try {
    await mountAll(mounts, dir);
    return await fn(dir);
  } finally {
    await unmountAll(dir);
    await rmdir(dir);
  }
}
