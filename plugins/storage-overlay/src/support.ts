import { readFile, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

/** Why overlay cannot work here for a data root at `root`, or undefined when it can. */
export async function overlayUnsupported(root: string): Promise<string | undefined> {
  let filesystems: string;
  try {
    filesystems = await readFile('/proc/filesystems', 'utf8');
  } catch (e) {
    return `cannot read /proc/filesystems: ${(e as Error).message}`;
  }
  if (!/\toverlay$/m.test(filesystems)) return 'the kernel has no overlay filesystem (not in /proc/filesystems)';
  // overlayfs cannot use a directory on another overlayfs as its upper layer.
  let dir = root;
  for (;;) {
    try {
      const st = await statfs(dir);
      if (st.type === OVERLAYFS_SUPER_MAGIC) return `the data root ${root} is itself on overlayfs`;
      return undefined;
    } catch {
      const up = dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  }
}
