import { type BigIntStats, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidParameterError, SystemError } from '../plugin-api/errors.js';
import { mergeTmpfsOptions } from './host-options.js';
import type { OciDevice, OciDeviceCgroup, OciMount } from './oci-spec.js';

/** Where dockerd's `--init` binary appears in the container. */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

/** Static init binaries a host may have: Debian's `tini` package first, then catatonit. */
const INIT_CANDIDATES = [
  '/usr/bin/tini-static',
  '/usr/bin/docker-init',
  '/usr/libexec/docker/docker-init',
  '/usr/bin/catatonit',
  '/usr/libexec/podman/catatonit',
];

export function findInitBinary(): string | undefined {
  return INIT_CANDIDATES.find((p) => existsSync(p));
}

/** `--tmpfs dest:opts` the way dockerd mounts it: noexec,nosuid,nodev,rprivate unless overridden. */
export function tmpfsMounts(tmpfs: Record<string, string>): OciMount[] {
  return Object.entries(tmpfs).map(([destination, data]) => ({
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', ...data.split(',').filter((o) => o !== '')]),
  }));
}

function deviceOf(path: string, st: BigIntStats): OciDevice | undefined {
  if (!st.isCharacterDevice() && !st.isBlockDevice()) return undefined;
  const rdev = st.rdev;
  return {
    path,
    type: st.isCharacterDevice() ? 'c' : 'b',
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** The device nodes at `path` on the host: the node itself, or every node under a directory. */
export function devicesAt(path: string): OciDevice[] {
  let st: BigIntStats;
  try {
    st = statSync(path, { bigint: true });
  } catch (e) {
    throw new InvalidParameterError(
      `error gathering device information while adding custom device ${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  const one = deviceOf(path, st);
  if (one) return [one];
  if (!st.isDirectory()) {
    throw new InvalidParameterError(
      `error gathering device information while adding custom device ${JSON.stringify(path)}: not a device node`,
    );
  }
  const out: OciDevice[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      let s: BigIntStats;
      try {
        s = statSync(p, { bigint: true });
      } catch {
        continue;
      }
      if (s.isDirectory()) walk(p, depth + 1);
      else {
        const d = deviceOf(p, s);
        if (d) out.push(d);
      }
    }
  };
  walk(path, 0);
  return out;
}

/** `--device host:container:perms`: the nodes to create and the cgroup rules that allow them. */
export function customDevices(
  wanted: ReadonlyArray<{ host: string; container: string; access: string }>,
  lookup: (path: string) => OciDevice[],
): { devices: OciDevice[]; rules: OciDeviceCgroup[] } {
  const devices: OciDevice[] = [];
  const rules: OciDeviceCgroup[] = [];
  for (const w of wanted) {
    for (const d of lookup(w.host)) {
      // A directory maps its tree: /dev/snd/pcmC0 under --device /dev/snd:/dev/audio → /dev/audio/pcmC0.
      const path = d.path === w.host ? w.container : join(w.container, d.path.slice(w.host.length));
      devices.push({ ...d, path });
      rules.push({ allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major, minor: d.minor, access: w.access });
    }
  }
  return { devices, rules };
}

/** The init binary bind mount, or a clear error when the host has none. */
export function initMount(hostPath: string | undefined): OciMount {
  if (!hostPath) {
    throw new SystemError(
      `--init: no init binary on this host (looked for ${INIT_CANDIDATES.join(', ')}; install Debian's tini)`,
    );
  }
  return { destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: hostPath, options: ['bind', 'ro'] };
}
