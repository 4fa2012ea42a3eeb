import type { BigIntStats } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { lstatIfExists, sortedNamesIfExists } from '../host/fs.js';

/** One entry of `GET /containers/{id}/changes`: Kind 0 modified, 1 added, 2 deleted. */
export interface FsChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

const MODIFIED = 0;
const ADDED = 1;
const DELETED = 2;

/**
 * What dockerd keeps in a container's init layer, below the writable one, so that neither diff
 * nor commit shows it: the mount points of the runtime's /proc, /sys and /dev and the files the
 * engine binds over /etc. Subtrees: whatever is below them is covered by those mounts anyway.
 */
const HIDDEN = new Set(['proc', 'sys', 'dev', '.dockerenv', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']);
/** Directories that hold hidden entries: their mtime moves when those are created. */
export const HIDDEN_PARENTS: ReadonlySet<string> = new Set(['etc']);

/** Whether the path (relative, no leading or trailing slash) is hidden from diff and commit. */
export function isHiddenPath(rel: string): boolean {
  if (HIDDEN.has(rel)) return true;
  const first = rel.split('/', 1)[0]!;
  return first === 'proc' || first === 'sys' || first === 'dev';
}

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Same entry in both trees, judged on metadata as moby's change walkers do. */
async function same(lo: BigIntStats, up: BigIntStats, loPath: string, upPath: string): Promise<boolean> {
  if ((lo.mode & 0o170000n) !== (up.mode & 0o170000n)) return false;
  if (lo.mode !== up.mode || lo.uid !== up.uid || lo.gid !== up.gid) return false;
  if (up.isSymbolicLink()) return (await readlink(loPath)) === (await readlink(upPath));
  if (up.isCharacterDevice() || up.isBlockDevice()) return lo.rdev === up.rdev;
  if (up.isFIFO() || up.isSocket()) return true;
  if (up.isDirectory()) return lo.mtimeNs === up.mtimeNs;
  return lo.size === up.size && lo.mtimeNs === up.mtimeNs;
}

/**
 * The changes of tree `upper` (a container's merged root) against `lower` (its image's root,
 * undefined for an empty image). As moby's naive differ (what dockerd 20.10 uses for overlay2
 * here too), a directory with any change below it is listed as modified, before its children.
 * dockerd lists siblings in Go map order (random); here names are sorted, so the output is
 * stable.
 */
export async function listChanges(lower: string | undefined, upper: string): Promise<FsChange[]> {
  const changes: FsChange[] = [];

  async function walk(rel: string, lowerDir: string | undefined, upperDir: string, listed: boolean): Promise<void> {
    const start = changes.length;
    const [ups, lows] = await Promise.all([sortedNamesIfExists(upperDir), sortedNamesIfExists(lowerDir)]);
    const upSet = new Set(ups);
    const lowSet = new Set(lows);
    const all = [...new Set([...ups, ...lows])].sort(byBytes);
    for (const name of all) {
      const r = rel ? `${rel}/${name}` : name;
      if (isHiddenPath(r)) continue;
      if (!upSet.has(name)) {
        changes.push({ Path: `/${r}`, Kind: DELETED });
        continue;
      }
      const upPath = join(upperDir, name);
      const st = await lstatIfExists(upPath);
      if (st === undefined) continue; // vanished while we looked
      const loPath = lowerDir !== undefined && lowSet.has(name) ? join(lowerDir, name) : undefined;
      let lo = loPath === undefined ? undefined : await lstatIfExists(loPath);
      if (lo === undefined && HIDDEN_PARENTS.has(r) && st.isDirectory()) lo = st; // made for hidden entries
      if (lo === undefined) {
        changes.push({ Path: `/${r}`, Kind: ADDED });
        if (st.isDirectory()) await walk(r, undefined, upPath, true);
        continue;
      }
      let unchanged = await same(lo, st, loPath ?? upPath, upPath);
      if (!unchanged && HIDDEN_PARENTS.has(r) && st.isDirectory() && lo.isDirectory()) {
        unchanged = lo.mode === st.mode && lo.uid === st.uid && lo.gid === st.gid;
      }
      if (!unchanged) changes.push({ Path: `/${r}`, Kind: MODIFIED });
      if (st.isDirectory()) {
        await walk(r, lo.isDirectory() && loPath !== undefined ? loPath : undefined, upPath, !unchanged);
      }
    }
    if (!listed && rel !== '' && changes.length > start) changes.splice(start, 0, { Path: `/${rel}`, Kind: MODIFIED });
  }

  await walk('', lower, upper, true);
  return changes;
}
