import { constants as osConstants } from 'node:os';
import koffi from 'koffi';

/**
 * The few syscalls Node does not expose (openat2, mkdirat, symlinkat, mount, …), through
 * koffi. Each wrapper returns its result or throws an Error shaped like Node's own
 * (`code`, `errno`, `syscall`, `path`), so `isErrno(e, 'ENOENT')` works on both.
 *
 * Only linux-x64 and linux-arm64 are supported: both use the generic syscall number for
 * openat2 and the same open(2) flag values.
 */

export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EMPTY_PATH = 0x1000;

const SYS_OPENAT2 = 437;

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, n]) => [n as number, name] as const),
);

export type SysError = Error & { code: string; errno: number; syscall: string; path?: string };

function fail(syscall: string, path?: string): never {
  const errno = koffi.errno();
  const code = ERRNO_NAMES.get(errno) ?? `E${errno}`;
  const err = new Error(`${syscall}${path === undefined ? '' : ` ${JSON.stringify(path)}`}: ${code}`) as SysError;
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  throw err;
}

interface Libc {
  openat2: (nr: number, dirfd: number, path: string, how: Buffer, size: number) => number | bigint;
  openat: (dirfd: number, path: string, flags: number, mode: number) => number;
  mkdirat: (dirfd: number, path: string, mode: number) => number;
  fchownat: (dirfd: number, path: string, uid: number, gid: number, flags: number) => number;
  symlinkat: (target: string, dirfd: number, path: string) => number;
  readlinkat: (dirfd: number, path: string, buf: Buffer, size: number) => number | bigint;
  unlinkat: (dirfd: number, path: string, flags: number) => number;
  linkat: (olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: number) => number;
  utimensat: (dirfd: number, path: string, times: Buffer, flags: number) => number;
  mknodat: (dirfd: number, path: string, mode: number, dev: bigint) => number;
  mount: (source: string, target: string, fstype: string, flags: number, data: string | null) => number;
  umount2: (target: string, flags: number) => number;
}

let libc: Libc | undefined;

function lib(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64'))
    throw new Error(`fd-relative file operations need Linux on x64 or arm64, not ${process.platform}/${process.arch}`);
  const c = koffi.load('libc.so.6');
  libc = {
    openat2: c.func('long syscall(long nr, int dirfd, const char *path, void *how, size_t size)'),
    openat: c.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)'),
    mkdirat: c.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
    fchownat: c.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
    symlinkat: c.func('int symlinkat(const char *target, int dirfd, const char *path)'),
    readlinkat: c.func('long readlinkat(int dirfd, const char *path, void *buf, size_t size)'),
    unlinkat: c.func('int unlinkat(int dirfd, const char *path, int flags)'),
    linkat: c.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
    utimensat: c.func('int utimensat(int dirfd, const char *path, void *times, int flags)'),
    mknodat: c.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
    mount: c.func(
      'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
    ),
    umount2: c.func('int umount2(const char *target, int flags)'),
  } as Libc;
  return libc;
}

/**
 * openat2(2). `resolve` is a set of RESOLVE_* flags; RESOLVE_IN_ROOT and RESOLVE_BENEATH make
 * the kernel keep the whole lookup below `dirfd`, atomically with respect to concurrent renames
 * and symlink swaps.
 */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  for (;;) {
    const fd = Number(lib().openat2(SYS_OPENAT2, dirfd, path, how, how.length));
    if (fd >= 0) return fd;
    // RESOLVE_IN_ROOT / RESOLVE_BENEATH lookups give up when a rename races them: retry.
    if (koffi.errno() !== osConstants.errno.EAGAIN) fail('openat2', path);
  }
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  const fd = lib().openat(dirfd, path, flags | O_CLOEXEC, mode);
  if (fd < 0) fail('openat', path);
  return fd;
}

export function mkdirat(dirfd: number, path: string, mode: number): void {
  if (lib().mkdirat(dirfd, path, mode) < 0) fail('mkdirat', path);
}

/** fchownat(2) with AT_SYMLINK_NOFOLLOW; an empty `path` changes `dirfd` itself (AT_EMPTY_PATH). */
export function lchownat(dirfd: number, path: string, uid: number, gid: number): void {
  const flags = AT_SYMLINK_NOFOLLOW | (path === '' ? AT_EMPTY_PATH : 0);
  if (lib().fchownat(dirfd, path, uid, gid, flags) < 0) fail('fchownat', path);
}

export function symlinkat(target: string, dirfd: number, path: string): void {
  if (lib().symlinkat(target, dirfd, path) < 0) fail('symlinkat', path);
}

/** readlinkat(2); with an empty `path`, reads the symlink `dirfd` was opened on (O_PATH|O_NOFOLLOW). */
export function readlinkat(dirfd: number, path: string): string {
  for (let size = 256; ; size *= 4) {
    const buf = Buffer.alloc(size);
    const n = Number(lib().readlinkat(dirfd, path, buf, size));
    if (n < 0) fail('readlinkat', path);
    if (n < size) return buf.subarray(0, n).toString('utf8');
    if (size > 65536) throw new Error(`readlinkat ${JSON.stringify(path)}: target too long`);
  }
}

export function unlinkat(dirfd: number, path: string, removeDir = false): void {
  if (lib().unlinkat(dirfd, path, removeDir ? AT_REMOVEDIR : 0) < 0) fail('unlinkat', path);
}

/** linkat(2) without following a symlink at `oldpath`. */
export function linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string): void {
  if (lib().linkat(olddirfd, oldpath, newdirfd, newpath, 0) < 0) fail('linkat', newpath);
}

/** utimensat(2) with AT_SYMLINK_NOFOLLOW; times in nanoseconds since the epoch. */
export function lutimensat(dirfd: number, path: string, atimeNs: bigint, mtimeNs: bigint): void {
  const times = Buffer.alloc(32);
  times.writeBigInt64LE(atimeNs / 1_000_000_000n, 0);
  times.writeBigInt64LE(atimeNs % 1_000_000_000n, 8);
  times.writeBigInt64LE(mtimeNs / 1_000_000_000n, 16);
  times.writeBigInt64LE(mtimeNs % 1_000_000_000n, 24);
  if (lib().utimensat(dirfd, path, times, AT_SYMLINK_NOFOLLOW) < 0) fail('utimensat', path);
}

export function mknodat(dirfd: number, path: string, mode: number, dev: bigint): void {
  if (lib().mknodat(dirfd, path, mode, dev) < 0) fail('mknodat', path);
}

/** makedev(3) of glibc. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** mount(2): `data` is the filesystem's option string (at most a page). */
export function mount(source: string, target: string, fstype: string, flags: number, data: string): void {
  if (lib().mount(source, target, fstype, flags, data === '' ? null : data) < 0) fail('mount', target);
}

export const MNT_DETACH = 2;

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  if (lib().umount2(target, flags) < 0) fail('umount2', target);
}

/**
 * umount2(2) on a koffi worker thread: unmounting an overlay syncs its upper filesystem, which
 * would hold the event loop for milliseconds. errno stays on that thread, so a failure is asked
 * again here (a failing umount2 returns at once) for its error.
 */
export function umount2Async(target: string, flags = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    (lib().umount2 as unknown as KoffiAsync).async(target, flags, (err: unknown, r: number) => {
      if (err) return reject(err as Error);
      if (r >= 0) return resolve();
      try {
        umount2(target, flags);
        resolve();
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

interface KoffiAsync {
  async(...args: unknown[]): void;
}
