import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { isErrno } from './fs.js';

/** Linux's own limit on symlinks followed while resolving one path. */
const MAX_LINKS = 40;

/**
 * Splits an archive or API path into its components. Absolute paths, `..` components and NUL
 * bytes are refused: such names never come from a well-formed layer.
 */
export function splitRelativePath(name: string): string[] {
  if (name.includes('\0')) throw new InvalidParameterError(`path contains a NUL byte: ${JSON.stringify(name)}`);
  if (name.startsWith('/')) throw new InvalidParameterError(`absolute path not allowed: ${name}`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidParameterError(`path escapes its root: ${name}`);
  return parts;
}

export interface ResolveDirOptions {
  /** Create missing directories (mode 0755). Never done through a dangling symlink. */
  create?: boolean;
}

/**
 * Resolves the directory `components` inside `root` on the filesystem, one component at a time
 * with lstat, the way the container will see it: symlinks are followed within the root (an
 * absolute target restarts at the root, as it would inside the container) and a `..` that would
 * climb above the root is refused. Returns the real absolute path, or undefined when a component
 * is missing and `create` is not set. Throws InvalidParameterError for escapes, loops, dangling
 * symlinks and non-directories in the way.
 */
export async function resolveDirInRoot(
  root: string,
  components: readonly string[],
  opts: ResolveDirOptions = {},
): Promise<string | undefined> {
  const shown = components.join('/');
  const pending = components.map((name) => ({ name, fromLink: false }));
  const real: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const { name, fromLink } = pending.shift() as { name: string; fromLink: boolean };
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (real.length === 0) throw new InvalidParameterError(`path escapes its root through a symlink: ${shown}`);
      real.pop();
      continue;
    }
    const abs = join(root, ...real, name);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(abs);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      if (fromLink) throw new InvalidParameterError(`path goes through a dangling symlink: ${shown}`);
      if (!opts.create) return undefined;
      try {
        await mkdir(abs, { mode: 0o755 });
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
        // Raced with a concurrent creator: look at what is there now.
        pending.unshift({ name, fromLink });
        continue;
      }
      real.push(name);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new InvalidParameterError(`too many levels of symlinks: ${shown}`);
      const target = await readlink(abs);
      if (target.startsWith('/')) real.length = 0;
      pending.unshift(...target.split('/').map((n) => ({ name: n, fromLink: true })));
      continue;
    }
    if (!st.isDirectory()) throw new InvalidParameterError(`not a directory: ${join(...real, name)} (in ${shown})`);
    real.push(name);
  }
  return join(root, ...real);
}
