import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { lstatIfExists, sortedNamesIfExists } from '../host/fs.js';
import { withMounted } from '../host/mount.js';
import type { GraphDriver } from '../plugin-api/graph-driver.js';

type PackHeader = Partial<tar.Header> & { name: string };

const WHITEOUT = '.wh.';
const CHUNK = 64 * 1024;

function kind(st: BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/**
 * Whether `b` (upper) is unchanged from `a` (lower), judged on metadata as containerd's
 * double walk does: a rewritten file gets a new nanosecond mtime even at the same size.
 */
async function same(a: BigIntStats, b: BigIntStats, aPath: string, bPath: string): Promise<boolean> {
  const k = kind(a);
  if (k !== kind(b) || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (k === 'symlink') return (await readlink(aPath)) === (await readlink(bPath));
  if (k === 'character-device' || k === 'block-device') return a.rdev === b.rdev;
  if (k === 'fifo') return true;
  return a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor). */
function devNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  return {
    devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function pushEntry(pack: tar.Pack, header: PackHeader, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

/** Streams exactly `size` bytes of `path` into a tar entry, zero-filling a file that shrank meanwhile. */
async function pushFile(pack: tar.Pack, header: PackHeader, path: string, size: number): Promise<void> {
  const fh = await open(path, 'r');
  try {
    let err: Error | null | undefined;
    const done = new Promise<void>((resolve, reject) => {
      const w = pack.entry(header, (e) => {
        err = e;
        if (e) reject(e);
        else resolve();
      });
      (async () => {
        let pos = 0;
        while (pos < size && !err) {
          const buf = Buffer.alloc(Math.min(CHUNK, size - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          pos += buf.length;
          const ok = w.write(bytesRead === buf.length ? buf : buf.fill(0, bytesRead));
          if (!ok) await new Promise<void>((r) => w.once('drain', () => r()));
        }
        w.end(undefined);
      })().catch(reject);
    });
    await done;
  } finally {
    await fh.close();
  }
}

/**
 * The OCI layer tar (uncompressed) of what tree `upper` changes relative to tree `lower`
 * (undefined: an empty parent): new and changed entries with their parent directories, deletions
 * as `.wh.NAME` whiteouts. A directory whose lower contents are all gone becomes per-child
 * whiteouts rather than an opaque marker, which applies to the same tree. Hardlinks within the
 * diff stay hardlinks. Both trees are only read.
 */
export function diffTrees(lower: string | undefined, upper: string): Readable {
  const pack = tar.pack();
  const links = new Map<string, string>();

  /** Unchanged ancestor directories, written once before the first change below them. */
  interface Pending {
    rel: string;
    st: BigIntStats;
    written: boolean;
  }

  function baseHeader(rel: string, st: BigIntStats): PackHeader {
    return {
      name: rel,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtime: new Date(Number(st.mtimeNs / 1_000_000n)),
    };
  }

  async function flush(pending: readonly Pending[]): Promise<void> {
    for (const p of pending) {
      if (p.written) continue;
      p.written = true;
      await pushEntry(pack, { ...baseHeader(`${p.rel}/`, p.st), type: 'directory' });
    }
  }

  async function emit(rel: string, st: BigIntStats, path: string): Promise<void> {
    const header = baseHeader(rel, st);
    const k = kind(st);
    if (k === 'file') {
      const id = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1n ? links.get(id) : undefined;
      if (first !== undefined) return pushEntry(pack, { ...header, type: 'link', linkname: first });
      if (st.nlink > 1n) links.set(id, rel);
      return pushFile(pack, { ...header, type: 'file', size: Number(st.size) }, path, Number(st.size));
    }
    if (k === 'directory') return pushEntry(pack, { ...header, name: `${rel}/`, type: 'directory' });
    if (k === 'symlink') return pushEntry(pack, { ...header, type: 'symlink', linkname: await readlink(path) });
    if (k === 'character-device' || k === 'block-device') {
      return pushEntry(pack, { ...header, type: k, ...devNumbers(st.rdev) });
    }
    if (k === 'fifo') return pushEntry(pack, { ...header, type: 'fifo' });
    // Sockets cannot be archived; tar and docker skip them too.
  }

  async function walk(rel: string, lowerDir: string | undefined, pending: Pending[]): Promise<void> {
    const upperDir = rel ? join(upper, rel) : upper;
    const [ups, lows] = await Promise.all([sortedNamesIfExists(upperDir), sortedNamesIfExists(lowerDir)]);
    const upSet = new Set(ups);
    for (const name of lows) {
      if (upSet.has(name)) continue;
      await flush(pending);
      const wh = rel ? `${rel}/${WHITEOUT}${name}` : `${WHITEOUT}${name}`;
      await pushEntry(pack, { name: wh, type: 'file', mode: 0, size: 0, mtime: new Date(0) });
    }
    const lowSet = new Set(lows);
    for (const name of ups) {
      const r = rel ? `${rel}/${name}` : name;
      const upPath = join(upperDir, name);
      const st = await lstatIfExists(upPath);
      if (st === undefined) continue; // vanished while we looked
      const lowPath = lowerDir !== undefined && lowSet.has(name) ? join(lowerDir, name) : undefined;
      const lo = lowPath === undefined ? undefined : await lstatIfExists(lowPath);
      const changed = lo === undefined || !(await same(lo, st, lowPath as string, upPath));
      if (st.isDirectory()) {
        const below = lo?.isDirectory() ? lowPath : undefined;
        if (changed) {
          await flush(pending);
          await emit(r, st, upPath);
          await walk(r, below, []);
        } else {
          await walk(r, below, [...pending, { rel: r, st, written: false }]);
        }
      } else if (changed) {
        await flush(pending);
        await emit(r, st, upPath);
      }
    }
  }

  (async () => {
    const rootSt = await lstat(upper);
    if (!rootSt.isDirectory()) throw new Error(`${upper} is not a directory`);
    await walk('', lower, []);
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e as Error));
  return Readable.from(pack as AsyncIterable<Buffer>);
}

/**
 * Runs `fn` with the diff of snapshot `key` (active or committed) against its parent, as an
 * OCI layer tar: what `docker commit` and `docker save` need. Works with any graph driver, on
 * temporary views and mounts that are gone when `fn` settles. An active snapshot in use by a
 * running container should be diffed with diffTrees on its mounted rootfs instead (overlayfs
 * does not allow mounting one upper dir twice).
 */
export async function withSnapshotDiff<T>(
  driver: GraphDriver,
  key: string,
  fn: (layer: Readable) => Promise<T>,
): Promise<T> {
  const info = await driver.stat(key);
  const tag = randomBytes(6).toString('hex');
  const views: string[] = [];
  const viewOf = async (parent: string) => {
    const v = `diff-${tag}-${views.length}-${parent}`;
    const mounts = await driver.view(v, parent);
    views.push(v);
    return mounts;
  };
  try {
    const upperMounts = info.kind === 'committed' ? await viewOf(key) : await driver.mounts(key);
    const lowerMounts = info.parent === undefined ? undefined : await viewOf(info.parent);
    return await withMounted(upperMounts, (upperDir) => {
      const run = (lowerDir: string | undefined) => {
        const layer = diffTrees(lowerDir, upperDir);
        return fn(layer).finally(() => layer.destroy());
      };
      return lowerMounts === undefined ? run(undefined) : withMounted(lowerMounts, run);
    });
  } finally {
    for (const v of views.reverse()) await driver.remove(v).catch(() => {});
  }
}
