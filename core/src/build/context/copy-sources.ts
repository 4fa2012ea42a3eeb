import { constants, createReadStream, type Stats } from 'node:fs';
import {
  chmod as chmodPath,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  symlink,
} from 'node:fs/promises';
import { join, posix } from 'node:path';
import { run } from '../../host/exec.js';
import { isErrno, lstatOrUndefined } from '../../host/fs.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { parseChmod, resolveChown, type Identity } from './chown.js';
import { decompressAny } from './decompress-any.js';
import { UNNAMED } from './download.js';
import { resolveInScope } from './scoped-path.js';
import { extractTar } from './tar-extract.js';
import type { CopyOptions, Source, SourceSet } from './types.js';

/** moby's normalizeDest: relative to the working directory unless absolute, trailing `/` kept. */
export function normalizeDest(workdir: string, dest: string): string {
  if (dest.startsWith('/')) return dest;
  const joined = posix.join('/', workdir, dest);
  return dest.endsWith('/') && !joined.endsWith('/') ? `${joined}/` : joined;
}

/** Whether the first 512 bytes are a valid tar header (what Go's tar.Reader.Next accepts). */
function isTarHeader(block: Buffer): boolean {
  if (block.length < 512 || block.every((b) => b === 0)) return false;
  const field = block.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = Number.parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

/** moby's IsArchivePath: a (possibly compressed) file that starts with a tar header. */
export async function isArchivePath(path: string): Promise<boolean> {
  const stream = decompressAny(createReadStream(path));
  const chunks: Buffer[] = [];
  let len = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      len += (chunk as Buffer).length;
      if (len >= 512) break;
    }
  } catch {
    return false;
  } finally {
    stream.destroy();
  }
  return isTarHeader(Buffer.concat(chunks).subarray(0, 512));
}

interface Writer {
  identity: Identity;
  chmod: number | undefined;
  /** First destination of each multiply-linked inode of one source, to keep hard links linked. */
  links: Map<string, string>;
  signal: AbortSignal | undefined;
}

const CHUNK = 1 << 20;

/**
 * Creates the missing directories of `destPath` (absolute in the rootfs) with mode 0755, every
 * symlink on the way resolved inside `rootfs`, and returns the real path. New directories are
 * owned by `owner`.
 */
async function mkdirAllInRoot(rootfs: string, destPath: string, owner: Identity): Promise<string> {
  for (let tries = 0; ; tries++) {
    const r = await resolveInScope(rootfs, destPath);
    if (r.stat !== undefined) {
      if (!r.stat.isDirectory()) throw new InvalidParameterError(`failed to copy files: not a directory: ${destPath}`);
      return r.real;
    }
    // Create the first missing component, then resolve again: nothing is ever made through a symlink.
    let cur = rootfs;
    let made = false;
    for (const p of r.parts) {
      cur = join(cur, p);
      const st = await lstatOrUndefined(cur);
      if (st?.isDirectory()) continue;
      if (st !== undefined) {
        if (st.isSymbolicLink()) break; // a symlink appeared: resolve again
        throw new InvalidParameterError(`failed to copy files: not a directory: ${destPath}`);
      }
      await mkdir(cur, { mode: 0o755 });
      await chmodPath(cur, 0o755);
      await lchown(cur, owner.uid, owner.gid);
      made = true;
    }
    if (!made && tries > 40) throw new InvalidParameterError(`too many levels of symbolic links: ${destPath}`);
  }
}

/** Replaces whatever is at `dest` (never following it) by a copy of the regular file `src`. */
async function writeFile(src: string, st: Stats, dest: string, w: Writer): Promise<void> {
  const key = `${st.dev}:${st.ino}`;
  const existing = await lstatOrUndefined(dest);
  if (existing) await rm(dest, { recursive: true, force: true });
  const first = st.nlink > 1 ? w.links.get(key) : undefined;
  if (first !== undefined) {
    await link(first, dest);
    return;
  }
  const input = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const out = await open(
      dest,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      for await (const chunk of input.createReadStream({ autoClose: false, highWaterMark: CHUNK })) {
        await out.write(chunk as Buffer);
      }
      await out.chown(w.identity.uid, w.identity.gid);
      await out.chmod(w.chmod ?? st.mode & 0o7777); // after chown, which clears set-id bits
      await out.utimes(st.mtime, st.mtime);
    } finally {
      await out.close();
    }
  } finally {
    await input.close();
  }
  if (st.nlink > 1) w.links.set(key, dest);
}

/** Copies the entry `src` (already lstat'ed as `st`) to `dest`, recursing into directories. */
async function copyEntry(src: string, st: Stats, dest: string, w: Writer): Promise<void> {
  if (st.isDirectory()) {
    const existing = await lstatOrUndefined(dest);
    if (!existing?.isDirectory()) {
      if (existing) await rm(dest, { recursive: true, force: true });
      await mkdir(dest, { mode: 0o700 });
    }
    await lchown(dest, w.identity.uid, w.identity.gid);
    await chmodPath(dest, w.chmod ?? st.mode & 0o7777);
    await copyChildren(src, dest, w);
    await lutimes(dest, st.mtime, st.mtime);
    return;
  }
  if (st.isFile()) return writeFile(src, st, dest, w);
  const existing = await lstatOrUndefined(dest);
  if (existing) await rm(dest, { recursive: true, force: true });
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dest);
    await lchown(dest, w.identity.uid, w.identity.gid);
    await lutimes(dest, st.mtime, st.mtime);
    return;
  }
  if (st.isFIFO()) await run('mkfifo', ['-m', '600', '--', dest]);
  else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const kind = st.isCharacterDevice() ? 'c' : 'b';
    const made = await run('mknod', ['-m', '600', '--', dest, kind, String(st.rdev >> 8), String(st.rdev & 0xff)])
      .then(() => true)
      .catch(() => false);
    if (!made) return;
  } else return; // sockets are not copied
  await lchown(dest, w.identity.uid, w.identity.gid);
  await chmodPath(dest, w.chmod ?? st.mode & 0o7777);
  await lutimes(dest, st.mtime, st.mtime);
}

/** Copies what is inside the directory `src` into the real directory `dest`. */
async function copyChildren(src: string, dest: string, w: Writer): Promise<void> {
  for (const name of (await readdir(src)).sort()) {
    w.signal?.throwIfAborted();
    const childSrc = join(src, name);
    await copyEntry(childSrc, await lstat(childSrc), join(dest, name), w);
  }
}

function sourceName(src: Source): string {
  return src.name === '' ? (src.kind === 'url' ? UNNAMED : '') : src.name;
}

/**
 * Writes a COPY/ADD's sources into a mounted rootfs with the rules of dockerd's classic builder:
 * `dest` is relative to `opts.workdir` unless absolute; a trailing `/`, or an existing directory,
 * makes it a directory; a source directory copies its contents; missing parents are made 0755
 * (owned like the copy); everything copied is owned 0:0 or by `--chown` (names from the image's
 * /etc/passwd and /etc/group) and gets `--chmod` when given; ADD extracts local tar archives
 * (plain, gzip, bzip2, xz, zstd) keeping their owners, never downloaded ones. Every path is
 * resolved inside `rootfs`: a symlink in the image (even `/dest -> /`) never leads out of it,
 * and nothing copied is written through a symlink.
 */
export async function copySources(set: SourceSet, rootfs: string, dest: string, opts: CopyOptions): Promise<void> {
  const cmd = opts.isAdd ? 'ADD' : 'COPY';
  if (set.sources.length > 1 && !dest.endsWith('/')) {
    throw new InvalidParameterError(
      `When using ${cmd} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  if (dest.includes('\0')) throw new InvalidParameterError(`invalid ${cmd} destination: ${JSON.stringify(dest)}`);
  const destPath = normalizeDest(opts.workdir || '/', dest);
  const endsInSlash = destPath.endsWith('/');
  const identity = opts.chown ? await resolveChown(rootfs, opts.chown) : { uid: 0, gid: 0 };
  const w: Writer = {
    identity,
    chmod: opts.chmod ? parseChmod(opts.chmod) : undefined,
    links: new Map(),
    signal: opts.signal,
  };
  for (const src of set.sources) {
    opts.signal?.throwIfAborted();
    w.links.clear(); // like dockerd, hard links are kept within one source, not across sources
    if (src.kind === 'url' && src.name === '' && endsInSlash) {
      throw new InvalidParameterError(`${cmd} failed: cannot determine filename for source ${src.url}`);
    }
    const st = await lstat(src.path).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) {
        throw new InvalidParameterError(
          `failed to copy files: source path not found: ${src.kind === 'url' ? src.url : src.rel}`,
        );
      }
      throw e;
    });
    if (st.isDirectory()) {
      const existed = (await resolveInScope(rootfs, destPath)).stat?.isDirectory() ?? false;
      const real = await mkdirAllInRoot(rootfs, destPath, { uid: 0, gid: 0 });
      if (!existed) {
        // A directory made for this copy belongs to it, like dockerd's fixPermissions.
        await lchown(real, identity.uid, identity.gid);
        if (w.chmod !== undefined) await chmodPath(real, w.chmod);
      }
      await copyChildren(src.path, real, w);
      continue;
    }
    if (opts.isAdd && src.kind === 'local' && st.isFile() && (await isArchivePath(src.path))) {
      const real = await mkdirAllInRoot(rootfs, destPath, { uid: 0, gid: 0 });
      const fh = await open(src.path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        await extractTar(real, decompressAny(fh.createReadStream({ autoClose: false })), {
          owners: 'keep',
          devices: 'create',
          signal: opts.signal,
          what: `archive ${src.rel}`,
        });
      } finally {
        await fh.close();
      }
      continue;
    }
    const resolved = await resolveInScope(rootfs, destPath);
    let target: string;
    if (endsInSlash || resolved.stat?.isDirectory()) {
      const dir = await mkdirAllInRoot(rootfs, destPath, identity);
      target = join(dir, sourceName(src));
    } else {
      const parts = resolved.parts;
      if (parts.length === 0)
        throw new InvalidParameterError(`failed to copy files: cannot replace the root directory`);
      const dir = await mkdirAllInRoot(rootfs, `/${parts.slice(0, -1).join('/')}`, identity);
      target = join(dir, parts.at(-1) as string);
    }
    await copyEntry(src.path, st, target, w);
  }
}
