import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { run } from '../../host/exec.js';
import { isErrno } from '../../host/fs.js';
import { InvalidParameterError, SkiffError } from '../../plugin-api/errors.js';
import { feedStream } from '../../util/drain.js';
import { cleanPath } from './dockerignore.js';
import { resolveInScope } from './scoped-path.js';

/** Host-side failures that say nothing about the archive itself. */
const FS_ERRNOS = ['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'ENOMEM'];

export interface ExtractTarOptions {
  signal?: AbortSignal;
  /** `ignore`: everything belongs to the daemon (build contexts). `keep`: the archive's uid/gid (ADD). */
  owners: 'ignore' | 'keep';
  /** Device nodes: `skip` (build contexts live on the host) or `create` (ADD into an image, as dockerd). */
  devices: 'skip' | 'create';
  /** Uncompressed tar bytes. */
  maxBytes?: number;
  maxEntries?: number;
  /** What the archive is, for error messages. */
  what?: string;
}

type Header = tar.Header;
type Entry = AsyncIterable<Buffer> & { header: Header };

async function drain(entry: Entry): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}

/**
 * The root-relative components of an entry name, as moby's Unpack takes them: a leading `/` is
 * dropped, the name is cleaned, and one that climbs out of the root is refused.
 */
export function entryParts(name: string, what = 'entry name'): string[] {
  if (name.includes('\0')) throw new InvalidParameterError(`invalid ${what} ${JSON.stringify(name)}`);
  const cleaned = cleanPath(name.replace(/^\/+/, ''));
  if (cleaned === '.') return [];
  if (cleaned === '..' || cleaned.startsWith('../')) {
    throw new InvalidParameterError(`invalid ${what} ${JSON.stringify(name)}`);
  }
  return cleaned.split('/');
}

/**
 * Makes sure the directory `parts` exists below `root`, resolving symlinks on the way inside
 * `root` only (an absolute or `..` target never leaves it), and returns its real path.
 */
export async function ensureDirInScope(root: string, parts: readonly string[]): Promise<string> {
  const r = await resolveInScope(root, parts.join('/'));
  if (r.stat === undefined) {
    let cur = root;
    for (const p of r.parts) {
      cur = join(cur, p);
      try {
        await mkdir(cur, { mode: 0o755 });
      } catch (e) {
        if (isErrno(e, 'EEXIST')) {
          if ((await lstat(cur)).isDirectory()) continue;
          throw new InvalidParameterError(`not a directory: /${r.parts.join('/')}`);
        }
        if (isErrno(e, 'ENOTDIR')) throw new InvalidParameterError(`not a directory: /${r.parts.join('/')}`);
        throw e;
      }
    }
    return r.real;
  }
  if (!r.stat.isDirectory()) throw new InvalidParameterError(`not a directory: /${r.parts.join('/')}`);
  return r.real;
}

class TarWriter {
  private readonly dirTimes = new Map<string, Date>();
  private readonly dirCache = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly opts: ExtractTarOptions,
  ) {}

  async entry(entry: Entry): Promise<void> {
    const h = entry.header;
    const type = h.type as string | null | undefined;
    if (type === 'pax-global-header' || type === 'pax-header' || type === 'gnu-long-path') return drain(entry);
    const parts = entryParts(h.name, `entry name in ${this.opts.what ?? 'archive'}:`);
    const base = parts.at(-1);
    if (base === undefined) return drain(entry); // the root itself keeps its own attributes
    const parent = await this.parentDir(parts.slice(0, -1));
    const dest = join(parent, base);
    const linkTarget = type === 'link' ? await this.hardlinkTarget(h) : undefined;
    if (linkTarget === dest) return drain(entry);
    if ((type === 'character-device' || type === 'block-device') && this.opts.devices === 'skip') return drain(entry);

    const existing = await lstat(dest).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    });
    const keepDir = type === 'directory' && existing?.isDirectory();
    if (existing && !keepDir) {
      await rm(dest, { recursive: true, force: true });
      this.forget(dest);
    }

    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = h.mtime ?? new Date(0);
    const owner = this.opts.owners === 'keep' ? { uid: h.uid ?? 0, gid: h.gid ?? 0 } : undefined;

    switch (type) {
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
          for await (const chunk of entry) await fh.write(chunk);
          if (owner) await fh.chown(owner.uid, owner.gid);
          await fh.chmod(mode); // after chown, which clears set-id bits
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        return;
      }
      case 'directory': {
        await drain(entry);
        if (!keepDir) await mkdir(dest, { mode: 0o700 });
        if (owner) await lchown(dest, owner.uid, owner.gid);
        await chmod(dest, mode); // just made or lstat'ed as a real directory
        this.dirTimes.set(dest, mtime);
        return;
      }
      case 'symlink': {
        await drain(entry);
        // Stored verbatim: containment applies when it is followed, and every follow here is scoped.
        await symlink(h.linkname ?? '', dest);
        if (owner) await lchown(dest, owner.uid, owner.gid);
        await lutimes(dest, mtime, mtime);
        return;
      }
      case 'link': {
        await drain(entry);
        await link(linkTarget as string, dest);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(entry);
        if (type === 'fifo') await run('mkfifo', ['-m', '600', '--', dest]);
        else {
          const kind = type === 'character-device' ? 'c' : 'b';
          const made = await run('mknod', [
            '-m',
            '600',
            '--',
            dest,
            kind,
            String(h.devmajor ?? 0),
            String(h.devminor ?? 0),
          ])
            .then(() => true)
            .catch(() => false); // as dockerd in a user namespace: skipped where mknod is refused
          if (!made) return;
        }
        if (owner) await lchown(dest, owner.uid, owner.gid);
        await chmod(dest, mode);
        await lutimes(dest, mtime, mtime);
        return;
      }
      default:
        return drain(entry);
    }
  }

  async finish(): Promise<void> {
    for (const [path, mtime] of this.dirTimes) await lutimes(path, mtime, mtime).catch(() => {});
  }

  private forget(path: string): void {
    this.dirCache.clear();
    for (const p of this.dirTimes.keys()) if (p === path || p.startsWith(`${path}/`)) this.dirTimes.delete(p);
  }

  private async parentDir(parts: string[]): Promise<string> {
    const key = parts.join('/');
    const hit = this.dirCache.get(key);
    if (hit !== undefined) return hit;
    const real = await ensureDirInScope(this.root, parts);
    this.dirCache.set(key, real);
    return real;
  }

  private async hardlinkTarget(h: Header): Promise<string> {
    const parts = entryParts(h.linkname ?? '', 'hardlink target');
    const base = parts.at(-1);
    if (base === undefined) throw new InvalidParameterError(`invalid hardlink target ${JSON.stringify(h.linkname)}`);
    const dir = await resolveInScope(this.root, parts.slice(0, -1).join('/'));
    const target = join(dir.real, base);
    const st = dir.stat?.isDirectory()
      ? await lstat(target).catch((e: unknown) => {
          if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
          throw e;
        })
      : undefined;
    if (st === undefined) throw new InvalidParameterError(`hardlink ${h.name} points to missing ${h.linkname}`);
    if (st.isDirectory()) throw new InvalidParameterError(`hardlink ${h.name} points to a directory`);
    return target;
  }
}

/**
 * Extracts an uncompressed tar stream below `root` with the rules of moby's Unpack: names are
 * root-relative (a leading `/` dropped, `..` out of the root refused), parent symlinks are
 * resolved inside `root`, the final component is never followed (files are opened
 * O_NOFOLLOW|O_EXCL after whatever was there is removed), hard links must name a file inside
 * the archive's root; modes and mtimes are kept. A malformed archive is an InvalidParameterError.
 */
export async function extractTar(
  root: string,
  stream: NodeJS.ReadableStream | Readable,
  opts: ExtractTarOptions,
): Promise<void> {
  opts.signal?.throwIfAborted();
  const what = opts.what ?? 'archive';
  const maxBytes = opts.maxBytes ?? 64 * 1024 ** 3;
  const maxEntries = opts.maxEntries ?? 4 * 1024 ** 2;
  const extract = tar.extract();
  const writer = new TarWriter(root, opts);
  const onAbort = () => extract.destroy(opts.signal?.reason as Error);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let bytes = 0;
  let sourceError: unknown;
  const feeding = feedStream(stream as AsyncIterable<Buffer>, extract, (chunk) => {
    bytes += chunk.length;
    if (bytes > maxBytes) throw new InvalidParameterError(`${what} is larger than ${maxBytes} bytes`);
  }).then((e) => {
    sourceError = e;
  });
  try {
    let entries = 0;
    for await (const entry of extract) {
      if (++entries > maxEntries) throw new InvalidParameterError(`${what} has more than ${maxEntries} entries`);
      await writer.entry(entry as unknown as Entry);
    }
    await feeding;
    if (sourceError !== undefined) throw sourceError;
    await writer.finish();
  } catch (e) {
    extract.destroy(null as never);
    const src = stream as Partial<Readable>;
    if (typeof src.destroy === 'function') src.destroy();
    await feeding;
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (sourceError !== undefined) throw sourceError;
    if (e instanceof SkiffError || isErrno(e, ...FS_ERRNOS)) throw e;
    if (isErrno(e, 'ENAMETOOLONG')) throw new InvalidParameterError(`${what}: file name too long`, { cause: e });
    if (isErrno(e, 'ENOTDIR', 'EISDIR', 'ELOOP', 'EEXIST', 'EINVAL')) {
      throw new InvalidParameterError(`${what}: ${(e as Error).message}`, { cause: e });
    }
    if (typeof (e as NodeJS.ErrnoException).syscall === 'string') throw e;
    throw new InvalidParameterError(`malformed ${what}: ${(e as Error).message}`, { cause: e });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
