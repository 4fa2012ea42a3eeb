import { lstat, readdir, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { run } from '../host/exec.js';
import { isErrno } from '../host/fs.js';
import { resolveDirInRoot } from '../host/resolve.js';
import { InvalidParameterError } from '../plugin-api/errors.js';

/**
 * Resolves a mount target inside the rootfs (symlinks followed within it, never out of it) and
 * creates it if missing: a directory, or an empty file for a file bind. Returns the path as the
 * container sees it, free of symlinks.
 */
export async function targetInRoot(rootfs: string, parts: string[], dir: boolean): Promise<string> {
  if (dir) {
    const real = relative(rootfs, (await resolveDirInRoot(rootfs, parts, { create: true }))!);
    if (real === '') throw new InvalidParameterError(`mount destination /${parts.join('/')} resolves to the root`);
    return `/${real}`;
  }
  const parent = await resolveDirInRoot(rootfs, parts.slice(0, -1), { create: true });
  const file = `${parent!}/${parts.at(-1)!}`;
  const st = await lstat(file).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  });
  if (!st) await writeFile(file, '', { flag: 'wx', mode: 0o755 });
  else if (st.isSymbolicLink()) throw new InvalidParameterError(`mount destination ${parts.join('/')} is a symlink`);
  return `/${relative(rootfs, file)}`;
}

/** Docker's copy-up: a volume that is still empty gets the image's content at the mount path. */
export async function copyUp(rootfs: string, parts: string[], volume: string): Promise<void> {
  if ((await readdir(volume)).length > 0) return;
  let src: string | undefined;
  try {
    src = await resolveDirInRoot(rootfs, parts);
  } catch (err) {
    if (err instanceof InvalidParameterError) return;
    throw err;
  }
  if (!src || src === dirname(src)) return;
  // cp -a keeps owners, modes, times and symlinks as symlinks; `src/.` also gives the volume's root the directory's attributes.
  await run('cp', ['-a', '--', `${src}/.`, `${volume}/`]);
}
