import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * How the host mounts cgroups: `unified` = only cgroup v2 at /sys/fs/cgroup; `hybrid` = cgroup v1
 * controllers with a cgroup v2 hierarchy beside them (systemd's /sys/fs/cgroup/unified); `legacy`
 * = cgroup v1 only.
 */
export interface CgroupLayout {
  mode: 'unified' | 'hybrid' | 'legacy';
  /** Controllers enabled in the cgroup v2 hierarchy of a hybrid layout. */
  v2Controllers: string[];
}

/** Reads the layout from mountinfo (`<id> <parent> <dev> <root> <mountpoint> <opts> … - <fstype> …`). */
export function cgroupLayout(mountinfo?: string): CgroupLayout {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  let v1 = false;
  let v2Mount: string | undefined;
  let v2Root = false;
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountpoint = left.split(' ')[4] ?? '';
    const fstype = right.split(' ')[0];
    if (!mountpoint.startsWith('/sys/fs/cgroup')) continue;
    if (fstype === 'cgroup') v1 = true;
    else if (fstype === 'cgroup2') {
      if (mountpoint === '/sys/fs/cgroup') v2Root = true;
      v2Mount ??= mountpoint;
    }
  }
  if (v2Root && !v1) return { mode: 'unified', v2Controllers: [] };
  if (!v2Mount) return { mode: 'legacy', v2Controllers: [] };
  let controllers: string[] = [];
  try {
    controllers = readFileSync(`${v2Mount}/cgroup.controllers`, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    // Unreadable: judge by the layout alone.
  }
  return { mode: 'hybrid', v2Controllers: controllers };
}

/** The runtime's name and version from `<binary> --version` (`crun version 1.8.1`, `runc version 1.1.5`). */
export function runtimeVersion(binary: string): { name: string; version: string } | undefined {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /^(\S+) version (\S+)/m.exec(r.stdout ?? '');
  return m ? { name: m[1]!, version: m[2]! } : undefined;
}

/**
 * Why the OCI runtime at `binary` cannot run containers on this host, or undefined. crun refuses
 * every container on a hybrid layout whose cgroup v2 hierarchy has controllers ("cgroups in
 * hybrid mode not supported, drop all controllers from cgroupv2"): say so once, up front, instead
 * of failing each container with that riddle.
 */
export function runtimeHostProblem(binary: string, layout: CgroupLayout = cgroupLayout()): string | undefined {
  const v = runtimeVersion(binary);
  if (v?.name !== 'crun') return undefined;
  if (layout.mode === 'hybrid' && layout.v2Controllers.length > 0)
    return `crun ${v.version} cannot run containers on this host: cgroup v1 hybrid layout (pure cgroup v2 required)`;
  return undefined;
}
