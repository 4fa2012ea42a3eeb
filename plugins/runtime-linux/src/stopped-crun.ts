import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeCgroupsThenState, sameProcess } from './stopped-runc.js';

/** The parts of crun's `status` file that deleting a stopped container needs. */
interface CrunStatus {
  pid?: number;
  'process-start-time'?: number;
  'cgroup-path'?: string;
  'systemd-cgroup'?: boolean;
}

/** The parts of the OCI config crun keeps beside it. */
interface OciConfig {
  hooks?: Record<string, unknown[] | null> | null;
  linux?: { namespaces?: { type?: string; path?: string }[] };
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** A cgroup path crun may have made: absolute, no `..`, no odd characters. */
function plainCgroupPath(p: unknown): p is string {
  return typeof p === 'string' && /^(\/[\w.-]+)+$/.test(p) && !p.split('/').includes('..');
}

/** Where the cgroup `path` lives: every v1 hierarchy and the v2 one, or the v2 root alone. */
async function cgroupDirs(path: string): Promise<string[]> {
  const unified = await readFile(join(CGROUP_ROOT, 'cgroup.controllers')).then(
    () => true,
    () => false,
  );
  if (unified) return [join(CGROUP_ROOT, path)];
  const hierarchies = await readdir(CGROUP_ROOT, { withFileTypes: true });
  return hierarchies.filter((d) => d.isDirectory()).map((d) => join(CGROUP_ROOT, d.name, path));
}

/**
 * What `crun delete` does for a container whose init has exited — remove its cgroup and its
 * state directory — without a crun process. Only the plain case: crun's own status file,
 * cgroupfs (not systemd), no hooks, a pid namespace of the container's own (the kernel killed
 * everything else in it with init), init gone, every cgroup empty. Anything else returns false
 * (a cgroup already removed stays removed) and the runtime's own `delete --force` does the job.
 */
export async function deleteStoppedCrun(root: string, id: string): Promise<boolean> {
  const dir = join(root, id);
  let st: CrunStatus;
  let config: OciConfig;
  try {
    st = JSON.parse(await readFile(join(dir, 'status'), 'utf8')) as CrunStatus;
    config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as OciConfig;
  } catch {
    return false;
  }
  const pid = st.pid;
  const start = st['process-start-time'];
  if (typeof pid !== 'number' || typeof start !== 'number' || st['systemd-cgroup'] !== false) return false;
  if (!plainCgroupPath(st['cgroup-path'])) return false;
  if (Object.values(config.hooks ?? {}).some((h) => Array.isArray(h) && h.length > 0)) return false;
  if (!config.linux?.namespaces?.some((n) => n.type === 'pid' && !n.path)) return false;
  if (await sameProcess(pid, start)) return false;
  return removeCgroupsThenState(await cgroupDirs(st['cgroup-path']), dir);
}
