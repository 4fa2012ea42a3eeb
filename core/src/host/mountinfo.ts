import { readFile } from 'node:fs/promises';

/** Undoes the octal escapes (`\040` for space, …) the kernel uses in /proc/self/mountinfo. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** The mounts of this process's mount namespace, in mount order (later ones sit on top). */
export async function readMountInfo(): Promise<MountInfo[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    out.push({
      mountPoint: unescapeOctal(fields[4] as string),
      fsType: fields[sep + 1] as string,
      source: unescapeOctal(fields[sep + 2] as string),
    });
  }
  return out;
}

/** Mount points at or below `dir` (an absolute, real path), topmost first: the order to unmount them in. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const all = await readMountInfo();
  return all
    .map((m) => m.mountPoint)
    .filter((mp) => mp === dir || mp.startsWith(prefix))
    .reverse();
}
