import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Source, SourceSet } from './types.js';

function typeflag(st: Stats): string {
  if (st.isFile()) return '0';
  if (st.isSymbolicLink()) return '2';
  if (st.isCharacterDevice()) return '3';
  if (st.isBlockDevice()) return '4';
  if (st.isDirectory()) return '5';
  if (st.isFIFO()) return '6';
  return '?';
}

/**
 * The hash of one entry the way moby's tarsum v1 sees it: the selected header fields (name,
 * mode, size, type, link target; no mtime) followed by the content. Owners are left out: COPY and
 * ADD reset them, so they never change the result.
 */
async function entryHash(name: string, path: string, st: Stats): Promise<string> {
  const h = createHash('sha256');
  const link = st.isSymbolicLink() ? await readlink(path) : '';
  const size = st.isFile() ? st.size : 0;
  const header: [string, string][] = [
    ['name', name],
    ['mode', (st.mode & 0o7777).toString(8)],
    ['size', String(size)],
    ['typeflag', typeflag(st)],
    ['linkname', link],
    ['devmajor', String(st.isCharacterDevice() || st.isBlockDevice() ? st.rdev >> 8 : 0)],
    ['devminor', String(st.isCharacterDevice() || st.isBlockDevice() ? st.rdev & 0xff : 0)],
  ];
  for (const [k, v] of header) h.update(`${k}${v}\0`);
  if (st.isFile() && size > 0) {
    const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: 1 << 20 })) {
        h.update(chunk as Buffer);
      }
    } finally {
      await fh.close();
    }
  }
  return h.digest('hex');
}

function hashStrings(prefix: string, items: string[]): string {
  return `${prefix}:${createHash('sha256').update(items.join(',')).digest('hex')}`;
}

/** Hashes of `dir` and everything below it, symlinks as links (they are copied as links). */
async function treeHashes(path: string, name: string, out: string[]): Promise<void> {
  const st = await lstat(path);
  out.push(await entryHash(name, path, st));
  if (!st.isDirectory()) return;
  for (const child of (await readdir(path)).sort()) {
    await treeHashes(join(path, child), name === '' ? child : `${name}/${child}`, out);
  }
}

async function sourceHash(src: Source): Promise<string> {
  if (src.kind === 'url') {
    const st = await lstat(src.path);
    return `file:${await entryHash(src.name === '' ? '__unnamed__' : src.name, src.path, st)}`;
  }
  if (!src.isDir) {
    // The followed path, as moby: the content really copied, under the name it has in the root.
    const st = await lstat(src.path);
    return `file:${await entryHash(src.resolved, src.path, st)}`;
  }
  const hashes: string[] = [];
  await treeHashes(src.path, src.resolved, hashes);
  return hashStrings('dir', hashes.sort());
}

/**
 * The cache-key part of a COPY/ADD's sources, shaped like dockerd's (`file:<hex>` for one file,
 * `dir:<hex>` for one directory, `multi:<hex>` for several): it changes when a source's name (as
 * resolved in its root), content, mode, type or link target changes, and not with mtimes or
 * owners (moby's tarsum v1 leaves them out too). URL sources hash their downloaded content.
 * Stable across daemon restarts: nothing but the files goes in.
 */
export async function sourceChecksum(set: SourceSet): Promise<string> {
  const hashes: string[] = [];
  for (const src of set.sources) hashes.push(await sourceHash(src));
  if (hashes.length === 1) return hashes[0] as string;
  return hashStrings('multi', hashes);
}
