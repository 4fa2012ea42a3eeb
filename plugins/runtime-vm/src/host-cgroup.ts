import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { sleepSync } from './sleep-sync.js';

/**
 * The VM's cgroup on the host (the Kata "sandbox cgroup"): the monitor, qemu and virtiofsd run in
 * the container's `cgroupsPath` in every cgroup hierarchy, so `docker stats` and `docker top` see
 * what the VM costs the host, read as for a runc container. No limits are set here: the
 * container's limits apply inside the guest (and `--memory` sizes the VM).
 */

/** The v1 controllers stats and top read (cpuset is left out: a new cpuset cgroup takes no process until configured). */
const ACCOUNTING = new Set(['cpu', 'cpuacct', 'memory', 'pids', 'blkio']);

/** The cgroup mounts to join (the v2 one, the v1 hierarchies of accounting controllers), from mountinfo. */
export function cgroupMounts(mountinfo: string = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [fstype, , superOpts = ''] = right.split(' ');
    const mountpoint = left.split(' ')[4] ?? '';
    if (fstype === 'cgroup2') out.push(mountpoint);
    else if (fstype === 'cgroup' && superOpts.split(',').some((o) => ACCOUNTING.has(o))) out.push(mountpoint);
  }
  return out;
}

/** The directories of `cgroupsPath` (`/skiff/<id>`), made in every hierarchy. */
export function makeCgroups(cgroupsPath: string, mounts: readonly string[] = cgroupMounts()): string[] {
  if (!/^\/[\w./-]+$/.test(cgroupsPath) || cgroupsPath.split('/').includes('..')) return [];
  const dirs: string[] = [];
  for (const m of mounts) {
    const dir = join(m, cgroupsPath);
    try {
      mkdirSync(dir, { recursive: true });
      dirs.push(dir);
    } catch {
      // A hierarchy we may not write (read-only, delegated elsewhere): not accounted there.
    }
  }
  return dirs;
}

/** Removes the directories once their processes are gone (a moment after a kill). */
export function removeCgroups(dirs: readonly string[], waitMs = 2000): void {
  const deadline = Date.now() + waitMs;
  for (const dir of dirs) {
    for (;;) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EBUSY' || Date.now() > deadline) break;
        sleepSync(10);
      }
    }
  }
}
