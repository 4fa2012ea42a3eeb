import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { run } from '../host/exec.js';
import { isErrno, lstatOrUndefined } from '../host/fs.js';
import { resolveDirInRoot, splitRelativePath } from '../host/resolve.js';
import { InvalidParameterError, SkiffError } from '../plugin-api/errors.js';
import { feedStream } from '../util/drain.js';

/** Host-side failures that say nothing about the archive itself. */
const FS_ERRNOS = ['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'ENOMEM'];

/**
 * Bounds on what one layer may make the daemon do. A layer is attacker input: a few megabytes
 * of gzip can expand to terabytes of zeros (CVE-2017-14992 was padding after the end of the
 * archive), and millions of empty entries cost inodes and time without costing bytes.
 */
export interface LayerLimits {
  /** Uncompressed tar bytes, padding after the end-of-archive marker included. */
  maxBytes: number;
  /** Tar entries, whiteouts and metadata-only entries included. */
  maxEntries: number;
}

/** 64 GiB and 4 Mi entries: far above real images (moby's own test imports 8 GiB of padding). */
export const DEFAULT_LAYER_LIMITS: Readonly<LayerLimits> = Object.freeze({
  maxBytes: 64 * 1024 ** 3,
  maxEntries: 4 * 1024 ** 2,
});

/**
 * How deletions are written. `delete`: `root` shows the layers below (a mounted overlay or a
 * copy), so a whiteout is a delete and an opaque directory loses what lower layers put in it.
 * `overlay`: `root` holds only this layer's changes (an overlay upper dir), so a whiteout
 * becomes a 0:0 character device and an opaque directory gets `trusted.overlay.opaque=y`.
 */
export type WhiteoutForm = 'delete' | 'overlay';

export interface ApplyLayerOptions {
  signal?: AbortSignal;
  /** Default `delete`. */
  whiteouts?: WhiteoutForm;
  limits?: Partial<LayerLimits>;
  /** Sees every byte of the tar, end-of-archive padding included (for the diff ID), in order. */
  onData?: (chunk: Buffer) => void;
}

const WHITEOUT = '.wh.';
const WHITEOUT_META = '.wh..wh.';
const OPAQUE = '.wh..wh..opq';

type Header = tar.Header;
type Entry = AsyncIterable<Buffer> & { header: Header };

async function drain(entry: Entry): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}

/**
 * Writes one layer onto `root`. Node has no mknod or setxattr, so in the `overlay` form the
 * whiteout devices and opaque markers are collected and made by two spawns at the end (one
 * `mknod` loop, one `setfattr`); a name this layer whites out and then creates again is the new
 * entry (made opaque if it is a directory), as it would be on a mounted overlay. All path decisions are made on the filesystem below `root`
 * (see resolveDirInRoot); the final component of every entry is never followed, files are
 * opened O_NOFOLLOW|O_EXCL and their metadata set through the open fd, so nothing an archive
 * says can touch anything outside `root`.
 */
class LayerWriter {
  size = 0;
  /** Real paths written by this layer: an opaque marker keeps these and removes the rest. */
  private readonly unpacked = new Set<string>();
  /** Directory mtimes are set last, after their children stopped changing them. */
  private readonly dirTimes = new Map<string, Date>();
  private readonly dirCache = new Map<string, string>();
  private readonly root: string;
  private readonly canChown = process.getuid?.() === 0;
  /** `overlay` form: real paths that become whiteout devices, and directories marked opaque. */
  private readonly whiteouts = new Set<string>();
  private readonly opaqueDirs = new Set<string>();

  constructor(
    root: string,
    private readonly form: WhiteoutForm,
  ) {
    this.root = root;
  }

  async entry(entry: Entry): Promise<void> {
    const h = entry.header;
    const parts = splitRelativePath(h.name);
    const base = parts.at(-1);
    if (base === undefined) return drain(entry); // the root itself: keep the snapshot's own attributes
    const parentParts = parts.slice(0, -1);
    // aufs bookkeeping (.wh..wh.plnk and friends) is not content.
    if (parentParts.some((p) => p.startsWith(WHITEOUT_META)) || (base.startsWith(WHITEOUT_META) && base !== OPAQUE)) {
      return drain(entry);
    }
    if (base === OPAQUE) {
      await drain(entry);
      return this.opaque(parentParts);
    }
    if (base.startsWith(WHITEOUT)) {
      await drain(entry);
      return this.whiteout(parentParts, base.slice(WHITEOUT.length));
    }
    return this.create(entry, h, parentParts, base);
  }

  async finish(): Promise<void> {
    // Before the directory times: making a device node changes its directory's mtime.
    await makeWhiteouts([...this.whiteouts]);
    await markOpaque([...this.opaqueDirs]);
    for (const [path, mtime] of this.dirTimes) {
      await lutimes(path, mtime, mtime).catch(() => {});
    }
  }

  private async parentDir(parts: string[], create: boolean): Promise<string | undefined> {
    const key = parts.join('/');
    const hit = this.dirCache.get(key);
    if (hit !== undefined) return hit;
    const real = await resolveDirInRoot(this.root, parts, { create });
    if (real !== undefined) this.dirCache.set(key, real);
    return real;
  }

  private async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
    // Anything cached or remembered below `path` may now be something else.
    this.dirCache.clear();
    const prefix = `${path}/`;
    for (const set of [this.dirTimes, this.whiteouts, this.opaqueDirs]) {
      for (const p of set.keys()) if (p === path || p.startsWith(prefix)) set.delete(p);
    }
  }

  private async whiteout(parentParts: string[], name: string): Promise<void> {
    if (name === '' || name === '.' || name === '..' || name.includes('/')) {
      throw new InvalidParameterError(`invalid whiteout name: ${[...parentParts, WHITEOUT + name].join('/')}`);
    }
    if (this.form === 'overlay') {
      // The directory holds only this layer: the name is hidden in the layers below by a device.
      const path = join((await this.parentDir(parentParts, true)) as string, name);
      await this.remove(path);
      this.whiteouts.add(path);
      return;
    }
    const parent = await this.parentDir(parentParts, false);
    if (parent === undefined) return; // nothing below to hide
    await this.remove(join(parent, name));
  }

  private async opaque(parentParts: string[]): Promise<void> {
    if (this.form === 'overlay') {
      this.opaqueDirs.add((await this.parentDir(parentParts, true)) as string);
      return;
    }
    const parent = await this.parentDir(parentParts, false);
    if (parent !== undefined) await this.clearLower(parent);
  }

  /** Removes what lower layers put below `dir`, keeping (and descending into) this layer's own entries. */
  private async clearLower(dir: string): Promise<void> {
    for (const child of await readdir(dir)) {
      const path = join(dir, child);
      if (!this.unpacked.has(path)) await this.remove(path);
      else if ((await lstat(path)).isDirectory()) await this.clearLower(path);
    }
  }

  private async hardlinkTarget(h: Header): Promise<string> {
    const parts = splitRelativePath(h.linkname ?? '');
    const base = parts.at(-1);
    if (base === undefined) throw new InvalidParameterError(`hardlink ${h.name} has no target`);
    const parent = await resolveDirInRoot(this.root, parts.slice(0, -1), { create: false });
    const target = parent === undefined ? undefined : join(parent, base);
    const st = target === undefined ? undefined : await lstatOrUndefined(target);
    if (target === undefined || st === undefined) {
      throw new InvalidParameterError(`hardlink ${h.name} points to missing ${h.linkname}`);
    }
    if (st.isDirectory()) throw new InvalidParameterError(`hardlink ${h.name} points to a directory`);
    return target;
  }

  private async create(entry: Entry, h: Header, parentParts: string[], base: string): Promise<void> {
    const parent = (await this.parentDir(parentParts, true)) as string;
    const dest = join(parent, base);
    const linkTarget = h.type === 'link' ? await this.hardlinkTarget(h) : undefined;
    if (linkTarget === dest) return drain(entry);

    if (this.whiteouts.delete(dest) && h.type === 'directory') this.opaqueDirs.add(dest);
    const existing = await lstatOrUndefined(dest);
    const keepDir = h.type === 'directory' && existing?.isDirectory();
    if (existing && !keepDir) await this.remove(dest);

    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = h.mtime ?? new Date(0);
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;

    switch (h.type as string | null | undefined) {
      case 'file':
      case 'contiguous-file':
      case undefined:
      case null: {
        const fh = await open(
          dest,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        try {
          for await (const chunk of entry) {
            await fh.write(chunk as Buffer);
          }
          if (this.canChown) await fh.chown(uid, gid);
          await fh.chmod(mode); // after chown, which clears set-id bits
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        this.size += h.size ?? 0;
        break;
      }
      case 'directory': {
        await drain(entry);
        if (!keepDir) await mkdir(dest, { mode: 0o700 });
        if (this.canChown) await lchown(dest, uid, gid);
        await chmod(dest, mode); // dest was just made or lstat'ed as a real directory
        this.dirTimes.set(dest, mtime);
        break;
      }
      case 'symlink': {
        await drain(entry);
        await symlink(h.linkname ?? '', dest);
        if (this.canChown) await lchown(dest, uid, gid);
        await lutimes(dest, mtime, mtime);
        break;
      }
      case 'link': {
        await drain(entry);
        await link(linkTarget as string, dest);
        break;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(entry);
        if (!(await this.special(h, dest))) return;
        if (this.canChown) await lchown(dest, uid, gid);
        await chmod(dest, mode);
        await lutimes(dest, mtime, mtime);
        break;
      }
      default:
        // pax/GNU headers are consumed by tar-stream; anything else is not filesystem content.
        return drain(entry);
    }
    this.unpacked.add(dest);
  }

  /** Makes a device node or fifo; devices are skipped where the host forbids mknod. */
  private async special(h: Header, dest: string): Promise<boolean> {
    if (h.type === 'fifo') {
      await run('mkfifo', ['--', dest]);
      return true;
    }
    const kind = h.type === 'character-device' ? 'c' : 'b';
    try {
      await run('mknod', ['--', dest, kind, String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
      return true;
    } catch {
      return false;
    }
  }
}

/** Arguments per spawn: far below ARG_MAX even for paths of PATH_MAX bytes. */
const BATCH = 256;

/** Overlay whiteouts (0:0 character devices, mode 000) at `paths`, which must not exist. */
async function makeWhiteouts(paths: string[]): Promise<void> {
  for (let i = 0; i < paths.length; i += BATCH) {
    await run('sh', ['-c', 'for p do mknod -m 000 -- "$p" c 0 0 || exit 1; done', 'sh', ...paths.slice(i, i + BATCH)]);
  }
}

/** Marks real directories opaque for overlayfs. */
async function markOpaque(dirs: string[]): Promise<void> {
  for (let i = 0; i < dirs.length; i += BATCH) {
    await run('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', '--', ...dirs.slice(i, i + BATCH)]);
  }
}

/**
 * Applies an uncompressed OCI/Docker layer tar onto `root` (a plain directory or a mounted
 * overlay), streaming: regular files, directories, symlinks, hardlinks inside the layer root,
 * devices and fifos, modes, owners and mtimes, and the OCI whiteouts `.wh.NAME` and
 * `.wh..wh..opq`. Entries that would reach outside `root` fail with InvalidParameterError, and
 * so do layers over `opts.limits`. Zero padding after the end-of-archive marker is read (the
 * caller hashes it for the diff ID) but never buffered; it counts towards `maxBytes`.
 * Returns the total size of the regular files written.
 */
export async function applyLayer(
  root: string,
  layer: NodeJS.ReadableStream | Readable,
  opts: ApplyLayerOptions = {},
): Promise<{ size: number }> {
  opts.signal?.throwIfAborted();
  const extract = tar.extract();
  const writer = new LayerWriter(root, opts.whiteouts ?? 'delete');
  const onAbort = () => extract.destroy(opts.signal?.reason as Error);
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  const limits = { ...DEFAULT_LAYER_LIMITS, ...opts.limits };
  let sourceError: unknown;
  let bytes = 0;
  const feeding = feedStream(layer as AsyncIterable<Buffer>, extract, (chunk) => {
    bytes += chunk.length;
    opts.onData?.(chunk);
    if (bytes > limits.maxBytes) {
      throw new InvalidParameterError(`layer is larger than ${limits.maxBytes} bytes uncompressed`);
    }
  }).then((e) => {
    sourceError = e;
  });

  try {
    let entries = 0;
    for await (const entry of extract) {
      if (++entries > limits.maxEntries) {
        throw new InvalidParameterError(`layer has more than ${limits.maxEntries} entries`);
      }
      await writer.entry(entry as unknown as Entry);
    }
    await feeding;
    await writer.finish();
    return { size: writer.size };
  } catch (e) {
    extract.destroy(null as never);
    const src = layer as Partial<Readable>;
    if (typeof src.destroy === 'function') src.destroy();
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (sourceError !== undefined) throw sourceError;
    if (e instanceof SkiffError || isErrno(e, ...FS_ERRNOS)) throw e;
    throw new InvalidParameterError(`malformed layer tar: ${(e as Error).message}`, { cause: e });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
