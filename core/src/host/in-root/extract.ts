import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  openSync,
  readdirSync,
  readFileSync,
  writev,
} from 'node:fs';
import { constants } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { feedStream } from '../../util/drain.js';
import type { PinnedNode, PinnedRoot } from './pinned-root.js';
import {
  lchownat,
  linkat,
  lutimensat,
  makedev,
  mkdirat,
  mknodat,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  openat2,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  RESOLVE_NO_XDEV,
  symlinkat,
  type SysError,
  unlinkat,
} from './syscalls.js';

const writevFd = promisify(writev);

/** Bytes gathered before one writev: fewer round trips to the thread pool for big files. */
const BATCH = 1024 * 1024;

/** Writes the entry's content to `fd` from offset 0, in batches of about BATCH bytes. */
async function copyInto(fd: number, entry: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
  let pos = 0;
  let batch: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    let bufs = batch;
    let left = size;
    while (left > 0) {
      const { bytesWritten } = await writevFd(fd, bufs, pos);
      pos += bytesWritten;
      left -= bytesWritten;
      if (left > 0) {
        // A short write: keep what was not written yet.
        let skip = bytesWritten;
        const rest: Buffer[] = [];
        for (const b of bufs) {
          if (skip >= b.length) skip -= b.length;
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
        }
        bufs = rest;
      }
    }
    batch = [];
    size = 0;
  };
  for await (const chunk of entry) {
    batch.push(chunk);
    size += chunk.length;
    if (size >= BATCH) await flush();
  }
  await flush();
}

/** An archive that cannot be applied as asked (breakouts, type conflicts, corrupt tar). */
export class ArchiveEntryError extends Error {
  override name = 'ArchiveEntryError';
}

export interface ExtractOptions {
  /** Refuse to replace a directory by a non-directory or the reverse (`docker cp`'s default). */
  noOverwriteDirNonDir: boolean;
  /** Owner of everything written; absent: the uid/gid of each tar header. */
  owner?: { uid: number; gid: number };
  /** Bound on tar entries (default 4 Mi). */
  maxEntries?: number;
}

type Entry = AsyncIterable<Buffer> & { header: tar.Header };

const beneath = (node: PinnedNode) =>
  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | (node.mount < 0 ? RESOLVE_NO_XDEV : 0);

const code = (e: unknown): string | undefined => (e as SysError | undefined)?.code;

async function drain(entry: Entry): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}

/**
 * Go's filepath.Clean of a tar name, then moby's rule: an absolute name is taken below the
 * extraction point, a name that climbs out of it is refused. Returns its components.
 */
export function entryParts(name: string): string[] {
  if (name.includes('\0')) throw new ArchiveEntryError(`invalid name ${JSON.stringify(name)}`);
  const clean = posix.normalize(name).replace(/\/+$/, '') || '.';
  if (clean === '..' || clean.startsWith('../')) throw new ArchiveEntryError(`${JSON.stringify(name)} is outside of`);
  return clean.split('/').filter((p) => p !== '' && p !== '.');
}

const ns = (d: Date | undefined): bigint => BigInt(Math.max(0, (d ?? new Date(0)).getTime())) * 1_000_000n;

/**
 * Extracts a tar stream into the directory `dest` of `root` (moby's Unpack with the rules of
 * `docker cp`). Each entry's parent is found from pinned fds — with one openat2 below `dest`
 * when no symlink or mount is on the way, else by the in-root walker, which follows the
 * container's symlinks inside the root and enters its mounts — and the entry is created
 * relative to that fd without following anything: no write, chown, chmod or utimes ever goes
 * through a symlink, and nothing lands outside the container's tree however the tar or the
 * running container try. `destName` is the extraction point as the client named it (messages).
 */
export async function extractTar(
  root: PinnedRoot,
  dest: PinnedNode,
  destName: string,
  source: Readable,
  opts: ExtractOptions,
): Promise<void> {
  const maxEntries = opts.maxEntries ?? 4 * 1024 ** 2;
  const dirs = new DirCache(root, dest);
  const dirTimes: Array<{ parts: string[]; mtime: bigint }> = [];
  const extract = tar.extract();
  const shown = (parts: string[]) => posix.join(destName, ...parts);
  let entries = 0;
  // Small files of one directory are written concurrently (see FileJobs).
  const jobs = new FileJobs();
  let sourceError: unknown;
  const feeding = feedStream(source as AsyncIterable<Buffer>, extract).then((e) => {
    sourceError = e;
  });
  try {
    for await (const raw of extract) {
      const entry = raw as unknown as Entry;
      const h = entry.header;
      if (++entries > maxEntries) throw new ArchiveEntryError(`archive has more than ${maxEntries} entries`);
      if ((h.type as string) === 'pax-global-header' || (h.type as string) === 'pax-header') {
        await drain(entry);
        continue;
      }
      let parts: string[];
      try {
        parts = entryParts(h.name);
      } catch (e) {
        throw new ArchiveEntryError(`${(e as Error).message} ${JSON.stringify(destName)}`);
      }
      const isDir = h.type === 'directory';
      const full = [...dest.path, ...parts];
      if (parts.length > 0 && root.crossesMount(full, full.length - 1)) {
        // A mount root (a volume, a bind-mounted file): it cannot be replaced; a directory entry changes nothing.
        if (!isDir || !root.isMountDir(full))
          throw new ArchiveEntryError(
            `cannot replace mount point ${JSON.stringify(shown(parts))}: device or resource busy`,
          );
        await drain(entry);
        continue;
      }
      if (parts.length === 0) {
        // The extraction point itself: only a directory entry fits, and it changes nothing.
        if (!isDir)
          throw new ArchiveEntryError(
            `cannot overwrite directory ${JSON.stringify(shown(parts))} with non-directory ${JSON.stringify(destName)}`,
          );
        await drain(entry);
        continue;
      }
      const name = parts.at(-1)!;
      const parent = dirs.get(parts.slice(0, -1), true);
      if (root.isReadOnly(parent)) {
        throw Object.assign(new Error(`read-only file system: ${shown(parts)}`), {
          code: 'EROFS',
          syscall: 'open',
          path: shown(parts),
        });
      }
      const small = (h.type === 'file' || h.type === 'contiguous-file') && (h.size ?? 0) <= JOB_FILE;
      if (!jobs.accepts(small, parent, name)) await jobs.drain();
      /**
       * What is at `name` already (found when creating failed with EEXIST): dockerd's rules decide
       * whether it is kept (a directory over a directory: merged) or removed for the entry.
       * Returns true when merged.
       */
      const replaceExisting = (): boolean => {
        const existing = lstatAt(parent, name);
        if (!existing) return false;
        const wasDir = (existing.mode & constants.S_IFMT) === constants.S_IFDIR;
        if (opts.noOverwriteDirNonDir && wasDir && !isDir)
          throw new ArchiveEntryError(
            `cannot overwrite directory ${JSON.stringify(shown(parts))} with non-directory ${JSON.stringify(destName)}`,
          );
        if (opts.noOverwriteDirNonDir && !wasDir && isDir)
          throw new ArchiveEntryError(
            `cannot overwrite non-directory ${JSON.stringify(shown(parts))} with directory ${JSON.stringify(destName)}`,
          );
        if (wasDir && isDir) return true;
        removeAll(parent, name);
        dirs.forget(parts);
        return false;
      };
      /** Creates the entry with `make`; over an existing one, by dockerd's rules. Undefined when merged. */
      const create = <T>(make: () => T): T | undefined => {
        try {
          return make();
        } catch (e) {
          if (code(e) !== 'EEXIST') throw e;
        }
        return replaceExisting() ? undefined : make();
      };
      const uid = opts.owner?.uid ?? h.uid ?? 0;
      const gid = opts.owner?.gid ?? h.gid ?? 0;
      const mode = (h.mode ?? 0o644) & 0o7777;
      const mtime = ns(h.mtime);
      switch (h.type) {
        case 'directory': {
          const made = create(() => {
            mkdirat(parent.fd, name, mode & 0o777);
            return true;
          });
          const fd = openat2(parent.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, beneath(parent));
          try {
            setOwnerAndMode(fd, made === true && !setgid(parent), uid, gid, mode);
          } finally {
            closeSync(fd);
          }
          dirTimes.push({ parts, mtime });
          await drain(entry);
          break;
        }
        case 'file':
        case 'contiguous-file': {
          const finish = async (fd: number, body: AsyncIterable<Buffer> | Iterable<Buffer>) => {
            try {
              await copyInto(fd, body);
              setOwnerAndMode(fd, !setgid(parent), uid, gid, mode);
              const t = Number(mtime) / 1e9;
              futimesSync(fd, t, t);
            } finally {
              closeSync(fd);
            }
          };
          const sequential = (body: AsyncIterable<Buffer> | Iterable<Buffer>) =>
            finish(
              create(() => openat2(parent.fd, name, NEW_FILE, mode & 0o777, beneath(parent)))!,
              body,
            );
          if (!small) {
            await sequential(entry);
            break;
          }
          const body: Buffer[] = [];
          for await (const chunk of entry) body.push(chunk);
          jobs.add(parent, name, async () => {
            let fd: number;
            try {
              fd = openat2(parent.fd, name, NEW_FILE, mode & 0o777, beneath(parent));
            } catch (e) {
              // Something is there already: dockerd's rules, once the other jobs are done.
              if (code(e) === 'EEXIST') return () => sequential(body);
              throw e;
            }
            await finish(fd, body);
            return undefined;
          });
          break;
        }
        case 'symlink': {
          const target = h.linkname ?? '';
          // moby's rule: a relative target must stay below the extraction point (lexically).
          const rel = posix.normalize(posix.join(parts.slice(0, -1).join('/') || '.', target));
          if (!target.startsWith('/') && (rel === '..' || rel.startsWith('../')))
            throw new ArchiveEntryError(`invalid symlink ${JSON.stringify(shown(parts))} -> ${JSON.stringify(target)}`);
          create(() => symlinkat(target, parent.fd, name));
          lchownat(parent.fd, name, uid, gid);
          lutimensat(parent.fd, name, mtime, mtime);
          await drain(entry);
          break;
        }
        case 'link': {
          const target = h.linkname ?? '';
          let tparts: string[];
          try {
            tparts = entryParts(target);
          } catch {
            throw new ArchiveEntryError(
              `invalid hardlink ${JSON.stringify(shown(parts))} -> ${JSON.stringify(target)}`,
            );
          }
          if (tparts.length === 0)
            throw new ArchiveEntryError(
              `invalid hardlink ${JSON.stringify(shown(parts))} -> ${JSON.stringify(target)}`,
            );
          const tparent = dirs.get(tparts.slice(0, -1), false);
          create(() => linkat(tparent.fd, tparts.at(-1)!, parent.fd, name));
          await drain(entry);
          break;
        }
        case 'character-device':
        case 'block-device':
        case 'fifo': {
          const kind =
            h.type === 'fifo' ? constants.S_IFIFO : h.type === 'block-device' ? constants.S_IFBLK : constants.S_IFCHR;
          create(() => mknodat(parent.fd, name, kind | 0o600, makedev(h.devmajor ?? 0, h.devminor ?? 0)));
          const fd = openat2(parent.fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, beneath(parent));
          try {
            const st = fstatSync(fd);
            if ((st.mode & constants.S_IFMT) !== kind)
              throw new ArchiveEntryError(`${shown(parts)} changed while written`);
            lchownat(fd, '', uid, gid);
            // The pinned inode itself (a magic link, never a symlink in the container).
            chmodSync(`/proc/self/fd/${fd}`, mode);
          } finally {
            closeSync(fd);
          }
          lutimensat(parent.fd, name, mtime, mtime);
          await drain(entry);
          break;
        }
        default:
          throw new ArchiveEntryError(`${JSON.stringify(h.name)}: unhandled tar header type ${h.type}`);
      }
    }
    await jobs.drain();
    // Last, so the entries written into them do not change them again (as moby).
    for (const d of dirTimes) {
      let node: PinnedNode;
      try {
        node = dirs.get(d.parts, false);
      } catch {
        continue;
      }
      const fd = openSync(`/proc/self/fd/${node.fd}`, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        const t = Number(d.mtime) / 1e9;
        futimesSync(fd, t, t);
      } finally {
        closeSync(fd);
      }
    }
    await feeding;
    if (sourceError !== undefined) throw sourceError;
  } catch (err) {
    extract.destroy(null as never);
    source.destroy();
    await jobs.settle();
    await feeding;
    if (sourceError !== undefined) throw sourceError;
    if (err instanceof ArchiveEntryError || typeof (err as SysError).code === 'string') throw err;
    throw new ArchiveEntryError((err as Error).message);
  } finally {
    dirs.close();
  }
}

/** Files up to this size are read whole and written by a job; bigger ones in line. */
const JOB_FILE = 1024 * 1024;
/** Jobs in flight at most. */
const MAX_JOBS = 16;
const NEW_FILE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

/**
 * Concurrent writing of the small files of one directory: each is created at once, in archive
 * order (a job runs synchronously up to its first await), and its content is written on
 * libuv's threads while the next entries are parsed. Only new names in one parent run
 * together: anything else (another directory, a name already taken by a job, a non-file entry)
 * waits for `drain()`, so entries still apply in archive order where it matters and no cached
 * directory fd is closed under a job. A job that finds its name taken returns the in-line
 * fallback, run by `drain()` once the others are done.
 */
class FileJobs {
  private running: Array<Promise<(() => Promise<void>) | undefined>> = [];
  private parent: PinnedNode | undefined;
  private readonly names = new Set<string>();

  /** Whether an entry can join the jobs in flight (always when there are none). */
  accepts(small: boolean, parent: PinnedNode, name: string): boolean {
    if (this.running.length === 0) return true;
    return small && parent === this.parent && !this.names.has(name) && this.running.length < MAX_JOBS;
  }

  add(parent: PinnedNode, name: string, job: () => Promise<(() => Promise<void>) | undefined>): void {
    this.parent = parent;
    this.names.add(name);
    const p = job();
    p.catch(() => {}); // surfaced by drain()
    this.running.push(p);
  }

  /** Waits for every job, then runs their fallbacks in order; throws the first failure. */
  async drain(): Promise<void> {
    const results = await Promise.allSettled(this.running);
    this.running = [];
    this.parent = undefined;
    this.names.clear();
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    for (const r of results) {
      const fallback = (r as PromiseFulfilledResult<(() => Promise<void>) | undefined>).value;
      if (fallback) await fallback();
    }
  }

  /** Waits for every job, ignoring failures (before closing fds after an error). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.running);
    this.running = [];
  }
}

/** The daemon's umask (from /proc: process.umask() without an argument is deprecated). */
const UMASK = (() => {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number.parseInt(m[1]!, 8) : 0o777;
  } catch {
    return 0o777;
  }
})();
const SELF = { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };

/** New entries of a set-group-ID directory get its group (and new directories the bit). */
const setgid = (dir: PinnedNode) => (Number(dir.stat.mode) & 0o2000) !== 0;

/**
 * Owner, then mode (a chown clears set-id bits). For what was just created with `mode & 0o777`
 * by this process, the calls that would change nothing are skipped.
 */
function setOwnerAndMode(fd: number, created: boolean, uid: number, gid: number, mode: number): void {
  if (!created || uid !== SELF.uid || gid !== SELF.gid) fchownSync(fd, uid, gid);
  if (!created || mode > 0o777 || (mode & UMASK) !== 0) fchmodSync(fd, mode);
}

/** lstat of `name` in `dir` (pinned, not followed), undefined when missing. */
function lstatAt(dir: PinnedNode, name: string): { mode: number } | undefined {
  let fd: number;
  try {
    fd = openat2(dir.fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, beneath(dir));
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `rm -rf` of `name` in `dir`, by fds only: nothing below a symlink is ever touched. */
function removeAll(dir: PinnedNode, name: string): void {
  try {
    unlinkat(dir.fd, name);
    return;
  } catch (e) {
    if (code(e) === 'ENOENT') return;
    if (code(e) !== 'EISDIR') throw e;
  }
  const fd = openat2(dir.fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, beneath(dir));
  try {
    const node: PinnedNode = { ...dir, fd, owned: true };
    for (const child of readdirSync(`/proc/self/fd/${fd}`)) removeAll(node, child);
  } finally {
    closeSync(fd);
  }
  unlinkat(dir.fd, name, true);
}

/**
 * Pinned fds of the directories entries go into, by their path in the archive. A hit is only
 * an optimisation: a stale entry still pins a directory of the container's tree.
 */
class DirCache {
  private readonly cache = new Map<string, PinnedNode>();
  private static readonly MAX = 256;

  constructor(
    private readonly root: PinnedRoot,
    private readonly dest: PinnedNode,
  ) {}

  /** The directory `parts` below the extraction point; missing ones are created (0755, root) when `create`. */
  get(parts: string[], create: boolean): PinnedNode {
    if (parts.length === 0) return this.dest;
    const key = parts.join('/');
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const node = this.lookup(parts, create);
    this.cache.set(key, node);
    if (this.cache.size > DirCache.MAX) {
      const [oldKey, old] = this.cache.entries().next().value as [string, PinnedNode];
      this.cache.delete(oldKey);
      this.root.closeNode(old);
    }
    return node;
  }

  /** Drops `parts` and what is below it (it was replaced). */
  forget(parts: string[]): void {
    const key = parts.join('/');
    for (const [k, node] of this.cache) {
      if (k === key || k.startsWith(`${key}/`)) {
        this.cache.delete(k);
        this.root.closeNode(node);
      }
    }
  }

  close(): void {
    for (const node of this.cache.values()) this.root.closeNode(node);
    this.cache.clear();
  }

  private lookup(parts: string[], create: boolean): PinnedNode {
    const d = this.dest;
    if (!this.root.crossesMount([...d.path, ...parts], d.path.length)) {
      // One syscall when the kernel can see the whole way: no symlink, no mount, all there.
      try {
        const fd = openat2(d.fd, parts.join('/'), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, beneath(d));
        try {
          return {
            fd,
            path: [...d.path, ...parts],
            mount: d.mount,
            stat: fstatSync(fd, { bigint: true }),
            owned: true,
          };
        } catch (e) {
          closeSync(fd);
          throw e;
        }
      } catch (e) {
        if (!['ELOOP', 'ENOENT', 'EXDEV', 'ENOTDIR'].includes(code(e) ?? '')) throw e;
      }
    }
    // Component by component through the in-root walker, following symlinks as the container would.
    let at: readonly string[] = d.path;
    for (const name of parts) {
      const want = `/${[...at, name].join('/')}`;
      let r;
      try {
        r = this.root.resolve(want, true);
      } catch (e) {
        if (!create || code(e) !== 'ENOENT') throw e;
        const p = this.root.resolve(`/${at.join('/')}`, true);
        try {
          if (this.root.isReadOnly(p.node))
            throw Object.assign(new Error(`read-only file system: ${want}`), {
              code: 'EROFS',
              syscall: 'mkdir',
              path: want,
            });
          try {
            mkdirat(p.node.fd, name, 0o755);
          } catch (err) {
            if (code(err) !== 'EEXIST') throw err;
          }
        } finally {
          p.release();
        }
        r = this.root.resolve(want, true);
      }
      try {
        if (!r.node.stat.isDirectory()) throw Object.assign(new Error(`not a directory: ${want}`), { code: 'ENOTDIR' });
        at = r.node.path;
      } finally {
        r.release();
      }
    }
    const r = this.root.resolve(`/${at.join('/')}`, true);
    try {
      return this.root.reopen(r.node);
    } finally {
      r.release();
    }
  }
}
