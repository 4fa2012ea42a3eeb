import { execFileSync } from 'node:child_process';

/** What this host lets crun do: not installed, refused (hybrid cgroups), or fine. */
export function crunOnThisHost(): { state: 'missing' } | { state: 'refused'; version: string } | { state: 'ok' } {
  let version: string;
  try {
    version = /crun version (\S+)/.exec(execFileSync('crun', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    return { state: 'missing' };
  }
  const mounts = execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' });
  const v1 = / - cgroup /.test(mounts);
  const v2 = /^\S+ \S+ \S+ \S+ (\S+) .* - cgroup2 /m.exec(mounts)?.[1];
  if (v1 && v2) {
    const controllers = execFileSync('cat', [`${v2}/cgroup.controllers`], { encoding: 'utf8' }).trim();
    if (controllers) return { state: 'refused', version };
  }
  return { state: 'ok' };
}
