import type { Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../../host/fs.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';

/** moby's symlink.FollowSymlinkInScope gives up after this many links. */
const MAX_LINKS = 255;

export interface ScopedPath {
  /** Host path, always below `root`. */
  real: string;
  /** Components of `real` below `root`. */
  parts: string[];
  /** lstat of `real` (the final symlink not followed when `followFinal` is false); undefined when missing. */
  stat: Stats | undefined;
}

/**
 * Resolves `path` (slash-separated, relative to `root` even when it starts with `/`) on the real
 * filesystem below `root` the way a process chrooted there would: every symlink is followed, an
 * absolute target restarts at `root` and `..` never climbs above it (moby's FollowSymlinkInScope).
 * Missing components are kept as they are, so the result may not exist yet. The final component
 * is followed only with `followFinal`.
 */
export async function resolveInScope(root: string, path: string, followFinal = true): Promise<ScopedPath> {
  if (path.includes('\0')) throw new InvalidParameterError(`path contains a NUL byte: ${JSON.stringify(path)}`);
  const pending = path.split('/');
  const real: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      real.pop();
      continue;
    }
    const abs = join(root, ...real, name);
    let st: Stats | undefined;
    try {
      st = await lstat(abs);
    } catch (e) {
      // Missing (or under a non-directory): kept as named, a later `..` may still step back out.
      if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
    }
    const isLast = !pending.some((p) => p !== '' && p !== '.');
    if (st?.isSymbolicLink() && (!isLast || followFinal)) {
      if (++links > MAX_LINKS) throw new InvalidParameterError(`too many levels of symbolic links: ${path}`);
      const target = await readlink(abs);
      if (target.startsWith('/')) real.length = 0;
      pending.unshift(...target.split('/'));
      continue;
    }
    real.push(name);
  }
  const resolved = join(root, ...real);
  let stat: Stats | undefined;
  try {
    stat = await lstat(resolved);
  } catch (e) {
    if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
  }
  return { real: resolved, parts: real, stat };
}
