import { type BigIntStats, closeSync, constants, openSync, read, readdirSync } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import type { PinnedNode, PinnedRoot } from './pinned-root.js';
import { readlinkat, type SysError } from './syscalls.js';

const readFd = promisify(read);

/** Files up to this size are read whole and written as one tar entry; bigger ones are streamed. */
const WHOLE_FILE = 1024 * 1024;
const CHUNK = 1024 * 1024;

/** Go's os.FileMode bits of a stat mode (what dockerd puts in the stat header). */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  switch (mode & constants.S_IFMT) {
    case constants.S_IFDIR:
      m += 2 ** 31;
      break;
    case constants.S_IFLNK:
      m += 2 ** 27;
      break;
    case constants.S_IFIFO:
      m += 2 ** 25;
      break;
    case constants.S_IFSOCK:
      m += 2 ** 24;
      break;
    case constants.S_IFBLK:
      m += 2 ** 26;
      break;
    case constants.S_IFCHR:
      m += 2 ** 26 + 2 ** 21;
      break;
  }
  if (mode & 0o4000) m += 2 ** 23;
  if (mode & 0o2000) m += 2 ** 22;
  if (mode & 0o1000) m += 2 ** 20;
  return m;
}

/** Go's RFC 3339 with nanoseconds, trailing zeros dropped (time.Time's JSON form), in UTC. */
export function goTime(ns: bigint): string {
  const secs = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  const f = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${base}${f}Z`;
}

const major = (rdev: bigint) => Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
const minor = (rdev: bigint) => Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));

/** Settles (rejects) once `pack` is closed: a consumer that went away must stop the walk. */
const closedOf = new WeakMap<tar.Pack, Promise<never>>();
function closed(pack: tar.Pack): Promise<never> {
  let p = closedOf.get(pack);
  if (!p) {
    p = new Promise<never>((_, reject) => pack.once('close', () => reject(new Error('archive stream closed'))));
    p.catch(() => {});
    closedOf.set(pack, p);
  }
  return p;
}

function push(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body?: Buffer): Promise<void> {
  if (pack.destroyed) return closed(pack);
  const written = new Promise<void>((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
  return Promise.race([written, closed(pack)]);
}

/** Reopening the pinned O_PATH fd through its magic link opens that very inode, never a path. */
const reopen = (node: PinnedNode) =>
  openSync(`/proc/self/fd/${node.fd}`, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);

/** The content of the regular file pinned by `node`: exactly `size` bytes (zero-padded if it shrank). */
async function readWhole(node: PinnedNode, size: number): Promise<Buffer> {
  const fd = reopen(node);
  try {
    // Not zero-filled first: every byte is read, or zeroed below when the file shrank.
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await readFd(fd, buf, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.fill(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Streams the (big) regular file pinned by `node` into the tar: exactly `size` bytes. */
async function pushFile(
  pack: tar.Pack,
  header: Partial<tar.Header> & { name: string },
  node: PinnedNode,
  size: number,
): Promise<void> {
  const fd = reopen(node);
  try {
    if (pack.destroyed) return await closed(pack);
    const streamed = new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
      (async () => {
        for (let pos = 0; pos < size;) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
          const { bytesRead } = await readFd(fd, buf, 0, buf.length, pos);
          // A file that shrank meanwhile is padded: the header already promised `size` bytes.
          const chunk = bytesRead === 0 ? buf.fill(0) : buf.subarray(0, bytesRead);
          pos += chunk.length;
          if (!sink.write(chunk))
            await Promise.race([new Promise<void>((r) => sink.once('drain', () => r())), closed(pack)]);
        }
        sink.end(undefined);
      })().catch((e: unknown) => {
        sink.destroy(e as Error);
        reject(e as Error);
      });
    });
    await Promise.race([streamed, closed(pack)]);
  } finally {
    closeSync(fd);
  }
}

/** Files read ahead at most, per directory. */
const READ_AHEAD = 8;

function headerOf(n: PinnedNode, name: string): Partial<tar.Header> & { name: string } {
  const st = n.stat;
  return {
    name,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: new Date(Number(st.mtimeNs / 1_000_000n)),
  };
}

/**
 * The tree at `node` as a tar stream, the way dockerd's GET /containers/{id}/archive writes it:
 * the node itself first as `rebase` (a directory as `rebase/`), then everything below it as
 * `rebase/<path>`, names sorted, symlinks stored as links and never followed, mounts entered,
 * sockets skipped, a file seen again through another hard link stored as a link. Every child is
 * opened from its parent's pinned fd, so what the container renames or swaps meanwhile can
 * only change what is read, never where from. `node` stays the caller's, and its fds must stay
 * open until `done` (the walk is over: finished, failed, or stopped by the stream's closing).
 */
export function packTree(root: PinnedRoot, node: PinnedNode, rebase: string): Readable & { done: Promise<void> } {
  const pack = tar.pack();
  const seen = new Map<string, string>();

  const emit = async (n: PinnedNode, name: string): Promise<void> => {
    const st: BigIntStats = n.stat;
    const base = headerOf(n, name);
    const kind = Number(st.mode) & constants.S_IFMT;
    if (kind === constants.S_IFDIR) {
      const dirName = name.endsWith('/') ? name : `${name}/`;
      await push(pack, { ...base, name: dirName, type: 'directory' });
      let names: string[];
      try {
        names = [...new Set([...readdirSync(`/proc/self/fd/${n.fd}`), ...root.mountNamesIn(n.path)])].sort();
      } catch (e) {
        if ((e as SysError).code === 'ENOENT') return;
        throw e;
      }
      // Small files are read a few at a time ahead of the tar (the reads wait on the disk, not
      // on each other) and written to it in order.
      const ahead: Array<{ c: PinnedNode; name: string; data: Promise<Buffer> }> = [];
      const flush = async (keep: number) => {
        while (ahead.length > keep) {
          const q = ahead.shift()!;
          try {
            const buf = await q.data;
            await push(pack, { ...headerOf(q.c, q.name), type: 'file', size: buf.length }, buf);
          } finally {
            root.closeNode(q.c);
          }
        }
      };
      try {
        for (const child of names) {
          let c: PinnedNode;
          try {
            c = root.child(n, child);
          } catch (e) {
            if ((e as SysError).code === 'ENOENT') continue; // removed meanwhile
            throw e;
          }
          if (c.stat.isFile() && c.stat.nlink === 1n && c.stat.size <= BigInt(WHOLE_FILE)) {
            const data = readWhole(c, Number(c.stat.size));
            data.catch(() => {}); // surfaced by flush()
            ahead.push({ c, name: `${dirName}${child}`, data });
            await flush(READ_AHEAD - 1);
            continue;
          }
          await flush(0);
          try {
            await emit(c, `${dirName}${child}`);
          } finally {
            root.closeNode(c);
          }
        }
        await flush(0);
      } finally {
        for (const q of ahead.splice(0)) {
          await q.data.catch(() => {});
          root.closeNode(q.c);
        }
      }
    } else if (kind === constants.S_IFLNK) {
      await push(pack, { ...base, type: 'symlink', linkname: readlinkat(n.fd, '') });
    } else if (kind === constants.S_IFREG && st.size <= BigInt(WHOLE_FILE) && st.nlink === 1n) {
      const buf = await readWhole(n, Number(st.size));
      await push(pack, { ...base, type: 'file', size: buf.length }, buf);
    } else if (kind === constants.S_IFREG) {
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const first = seen.get(key);
        if (first !== undefined) return push(pack, { ...base, type: 'link', linkname: first });
        seen.set(key, name);
      }
      await pushFile(pack, { ...base, type: 'file', size: Number(st.size) }, n, Number(st.size));
    } else if (kind === constants.S_IFCHR || kind === constants.S_IFBLK || kind === constants.S_IFIFO) {
      const type =
        kind === constants.S_IFIFO ? 'fifo' : kind === constants.S_IFBLK ? 'block-device' : 'character-device';
      await push(pack, { ...base, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
    }
    // Sockets: dockerd skips them too.
  };

  const done = (async () => {
    await emit(node, rebase);
    pack.finalize();
  })().catch((e: unknown) => {
    if (!pack.destroyed) pack.destroy(e as Error);
  });
  const out = coalesced(pack);
  return Object.assign(out, { done });
}

/** Chunks below this are gathered: tar writes a 512-byte header and padding per entry. */
const COALESCE = 64 * 1024;

/**
 * `pack`'s bytes in chunks of at least COALESCE bytes (big ones as they are), so that a tree of
 * small files costs a few socket writes per 64 KiB instead of three per file. Destroying the
 * result destroys `pack` (which stops the walk).
 */
function coalesced(pack: tar.Pack): Readable {
  let parts: Buffer[] = [];
  let size = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (chunk.length >= COALESCE && size === 0) return cb(null, chunk);
      parts.push(chunk);
      size += chunk.length;
      if (size >= COALESCE) {
        const all = Buffer.concat(parts, size);
        parts = [];
        size = 0;
        return cb(null, all);
      }
      cb();
    },
    flush(cb) {
      cb(null, size > 0 ? Buffer.concat(parts, size) : undefined);
    },
  });
  const source = pack as unknown as Readable;
  source.once('error', (e) => out.destroy(e));
  out.once('close', () => {
    if (!pack.destroyed) pack.destroy();
  });
  source.pipe(out);
  return out;
}
