import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import path from 'node:path';
import { run } from './proc.js';

/** Octal escapes in /proc/self/mountinfo (`\040` for a space, …). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

/** Mount points at or below any of `dirs`, deepest first. */
export async function mountsUnder(dirs: readonly string[]): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = new Set<string>();
  for (const line of info.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const mp = unescapeMountPath(field);
    if (dirs.some((d) => under(mp, d))) points.add(mp);
  }
  return [...points].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dirs` (`umount -R`, lazily if busy). Returns what it unmounted. */
export async function unmountUnder(dirs: readonly string[]): Promise<string[]> {
  const done: string[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const points = await mountsUnder(dirs);
    if (points.length === 0) break;
    for (const mp of points) {
      const r = await run('umount', ['-R', mp], { timeoutMs: 30_000 });
      if (r.code !== 0) await run('umount', ['-R', '-l', mp], { timeoutMs: 30_000 });
      done.push(mp);
    }
  }
  return done;
}

/**
 * Runc state dirs under `dir` (`<runc-root>/<id>/state.json`), found by content so the harness
 * does not depend on where the daemon keeps them.
 */
async function runcStates(dir: string, depth = 6): Promise<Array<{ root: string; id: string }>> {
  const found: Array<{ root: string; id: string }> = [];
  async function walk(d: string, left: number): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.isFile() && e.name === 'state.json')) {
      try {
        const state = JSON.parse(await readFile(path.join(d, 'state.json'), 'utf8')) as Record<string, unknown>;
        if (typeof state.id === 'string' && 'init_process_pid' in state) {
          found.push({ root: path.dirname(d), id: state.id });
          return;
        }
      } catch {
        // not runc's
      }
    }
    if (left === 0) return;
    for (const e of entries) {
      // Never descend into container root filesystems: they are big and not ours to scan.
      if (e.isDirectory() && !['rootfs', 'merged', 'diff', 'layers', 'blobs'].includes(e.name)) {
        await walk(path.join(d, e.name), left - 1);
      }
    }
  }
  await walk(dir, depth);
  return found;
}

/** Pids of processes that belong to a daemon instance: their root, cwd or command line is under `dirs`. */
export async function processesUnder(dirs: readonly string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || pid === process.ppid) continue;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      const links = await Promise.all(['root', 'cwd'].map((l) => readlink(`/proc/${pid}/${l}`).catch(() => '')));
      const hit =
        links.some((l) => dirs.some((d) => under(l, d))) ||
        cmdline.some((arg) => dirs.some((d) => arg.endsWith(d) || arg.includes(`${d}/`)));
      if (hit) pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * Removes every trace of a daemon instance after it stopped: containers still running under runc
 * state kept below `dirs` (containers outlive the daemon by design), stray monitors, mounts, files.
 */
export async function cleanupDirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    for (const { root, id } of await runcStates(dir)) {
      await run('runc', ['--root', root, 'delete', '--force', id], { timeoutMs: 30_000 });
    }
  }
  for (const pid of await processesUnder(dirs)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await unmountUnder(dirs);
  for (const dir of dirs) {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(async () => {
      await unmountUnder([dir]);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    });
  }
}
