import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bytes and inodes below `dir` (itself included), counting each hardlinked inode once and
 * never following symlinks. Sizes are apparent sizes, as `du --apparent-size` reports them.
 */
export async function diskUsage(dir: string): Promise<{ size: number; inodes: number }> {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const path = stack.pop() as string;
    const st = await lstat(path, { bigint: true });
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) continue;
    seen.add(id);
    inodes++;
    if (st.isDirectory()) {
      for (const name of await readdir(path)) stack.push(join(path, name));
    } else {
      size += Number(st.size);
    }
  }
  return { size, inodes };
}
