import { type BigIntStats, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { tweakCapabilities } from './capabilities.js';
import {
  customDevices,
  devicesAt,
  findInitBinary,
  INIT_PATH_IN_CONTAINER,
  initMount,
  tmpfsMounts,
} from './oci-extras.js';
import type { OciResources } from './resources.js';
import { type DockerSeccompProfile, defaultSeccompProfile, type SeccompProfile, toOciSeccomp } from './seccomp.js';

export { type ProcessUser, resolveUser } from './user.js';

/** What the core knows about a container's process and isolation; buildOciSpec turns it into config.json. */
export interface OciSpecInput {
  id: string;
  /** Absolute path of the mounted root filesystem. */
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  hostname: string;
  terminal: boolean;
  readonlyRootfs: boolean;
  network: { mode: 'new' } | { mode: 'host' } | { mode: 'path'; path: string };
  /** e.g. `/skiff/<id>` (cgroupfs) or `system.slice:skiff:<id>` (systemd driver). */
  cgroupsPath?: string;
  capAdd?: string[] | null;
  capDrop?: string[] | null;
  privileged?: boolean;
  binds?: Array<{ source: string; destination: string; readonly: boolean }>;
  /** Volume, bind and tmpfs mounts built by core/src/volumes (destinations already resolved in the rootfs). */
  volumeMounts?: OciMount[];
  /** Bytes of the private /dev/shm; default 64 MiB like dockerd. */
  shmSize?: number;
  oomScoreAdj?: number;
  /** Docker's HostConfig.Ulimits with lower-case names (`nofile`, `nproc`, …); -1 = unlimited. */
  ulimits?: Array<{ name: string; soft: number; hard: number }>;
  sysctls?: Record<string, string>;
  /** Files the core wrote for the container, bind-mounted over /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  etcFiles?: { hosts?: string; resolvConf?: string; hostname?: string };
  /** `--tmpfs`: destination → mount options as the user wrote them. */
  tmpfs?: Record<string, string>;
  /** `--device`: host node (or directory of nodes), path in the container, cgroup access (`rwm`). */
  devices?: Array<{ host: string; container: string; access: string }>;
  /** `--init`: run the host's tini as PID 1 (`/sbin/docker-init --`). */
  init?: boolean;
  noNewPrivileges?: boolean;
  /** `--security-opt seccomp=…`; default: skiff's default profile. */
  seccomp?: 'default' | 'unconfined' | DockerSeccompProfile;
  /** `--security-opt systempaths=unconfined`. */
  unmaskSystemPaths?: boolean;
  pidMode?: 'private' | 'host';
  /** `none` keeps a private IPC namespace without /dev/shm; `host` shares the host's and its /dev/shm. */
  ipcMode?: 'private' | 'shareable' | 'host' | 'none';
  utsMode?: 'private' | 'host';
  /** `--pid/--ipc container:<name>`: join the other container's namespace (`/proc/<pid>/ns/…`). */
  pidNamespacePath?: string;
  ipcNamespacePath?: string;
  /**
   * A host directory (a tmpfs skiff mounted) bound as /dev/shm instead of a private tmpfs: a
   * `shareable` container's own, or the one of the container whose IPC namespace it joins.
   */
  shmSource?: string;
  /** Limits from HostConfig (memory, cpu, pids, blkio weight): see resources.ts. */
  resources?: OciResources;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface OciDevice {
  path: string;
  type: 'c' | 'b' | 'p' | 'u';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'b' | 'c';
  major?: number;
  minor?: number;
  access?: string;
}

/** The part of the OCI runtime-spec config.json (`config.md`, `config-linux.md`) that skiff writes. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal?: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits?: OciRlimit[];
    noNewPrivileges?: boolean;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly?: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    sysctl?: Record<string, string>;
    resources: { devices: OciDeviceCgroup[] } & OciResources;
    cgroupsPath?: string;
    namespaces: Array<{ type: 'mount' | 'network' | 'uts' | 'pid' | 'ipc' | 'cgroup' | 'user'; path?: string }>;
    devices?: OciDevice[];
    seccomp?: SeccompProfile;
    maskedPaths?: string[];
    readonlyPaths?: string[];
  };
}

/** Facts about the host that shape the spec; detected once, injectable for tests. */
export interface HostFacts {
  /** The unified cgroup v2 hierarchy is mounted alone at /sys/fs/cgroup (not v1 or hybrid). */
  cgroupV2: boolean;
  /** `/sys/devices/system/cpu/cpu<N>/thermal_throttle` paths present here (masked like dockerd). */
  thermalThrottlePaths: string[];
  /** The daemon's own hard rlimits by OCI name; Infinity = unlimited. The runtime cannot exceed them. */
  hardRlimits: Record<string, number>;
  /** `process.arch` (selects the seccomp architectures). */
  arch: string;
  /** Host devices handed to privileged containers. */
  devices: () => OciDevice[];
  /** `os.release()` (seccomp rules with a minimum kernel). */
  kernel?: string;
  /** The device nodes at a host path, for `--device`. */
  devicesAt?: (path: string) => OciDevice[];
  /** The host's static init binary for `--init`, if any. */
  initBinary?: () => string | undefined;
}

const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
/** JSON cannot carry RLIM_INFINITY (2^64-1) through a JS number; this is as good for every limit. */
const RLIM_UNLIMITED = Number.MAX_SAFE_INTEGER;

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

const DOCKER_ULIMITS: Record<string, string> = {
  as: 'RLIMIT_AS',
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

/** Parses /proc/self/limits into hard limits by OCI rlimit name. */
export function parseProcLimits(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const name = Object.keys(LIMIT_NAMES).find((n) => line.startsWith(n));
    if (!name) continue;
    const fields = line.slice(name.length).trim().split(/\s+/);
    const hard = fields[1];
    if (hard === undefined) continue;
    out[LIMIT_NAMES[name]!] = hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard);
  }
  return out;
}

/** Char and block devices under /dev, as dockerd's `devices.HostDevices` lists them. */
function hostDevices(): OciDevice[] {
  const skip = new Set([
    '/dev/pts',
    '/dev/shm',
    '/dev/mqueue',
    '/dev/fd',
    '/dev/.lxc',
    '/dev/.lxd-mounts',
    '/dev/console',
  ]);
  const out: OciDevice[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (skip.has(path)) continue;
      let st: BigIntStats;
      try {
        st = statSync(path, { bigint: true });
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        walk(path);
        continue;
      }
      if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
      const rdev = st.rdev;
      const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
      const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
      out.push({
        path,
        type: st.isCharacterDevice() ? 'c' : 'b',
        major,
        minor,
        fileMode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
      });
    }
  };
  walk('/dev');
  return out;
}

let cachedFacts: HostFacts | undefined;

export function detectHostFacts(): HostFacts {
  if (cachedFacts) return cachedFacts;
  let hardRlimits: Record<string, number> = {};
  try {
    hardRlimits = parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    // No /proc: ask for nothing the runtime could refuse.
  }
  const cpus: number[] = [];
  try {
    for (const name of readdirSync('/sys/devices/system/cpu')) {
      const n = /^cpu(\d+)$/.exec(name)?.[1];
      if (n !== undefined && existsSync(`/sys/devices/system/cpu/cpu${n}/thermal_throttle`)) cpus.push(Number(n));
    }
  } catch {
    // No sysfs: nothing to mask.
  }
  const thermalThrottlePaths = cpus
    .sort((a, b) => a - b)
    .map((n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`);
  let devices: OciDevice[] | undefined;
  cachedFacts = {
    cgroupV2: existsSync('/sys/fs/cgroup/cgroup.controllers'),
    thermalThrottlePaths,
    hardRlimits,
    arch: process.arch,
    devices: () => (devices ??= hostDevices()),
    kernel: release(),
    devicesAt,
    initBinary: findInitBinary,
  };
  return cachedFacts;
}

function requireAbsolute(what: string, p: string): void {
  if (!isAbsolute(p) || p.includes('\0'))
    throw new InvalidParameterError(`${what} must be an absolute path: ${JSON.stringify(p)}`);
}

function defaultMounts(shmSize: number): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`],
    },
  ];
}

export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function nsPath(path: string | undefined): { path?: string } {
  if (path === undefined) return {};
  requireAbsolute('namespace path', path);
  return { path };
}

/** dockerd's default device cgroup: deny all, allow the standard char devices, deny fuse. */
const DEFAULT_DEVICE_RULES: OciDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

function rlimits(ulimits: NonNullable<OciSpecInput['ulimits']>, hard: Record<string, number>): OciRlimit[] {
  const out: OciRlimit[] = [];
  for (const u of ulimits) {
    const type = DOCKER_ULIMITS[u.name.toLowerCase()];
    if (!type) throw new InvalidParameterError(`invalid ulimit type: ${u.name}`);
    const want = (n: number) => (n < 0 ? Number.POSITIVE_INFINITY : n);
    let h = want(u.hard);
    let s = want(u.soft);
    if (s > h)
      throw new InvalidParameterError(
        `ulimit soft limit must be less than or equal to hard limit: ${u.soft} > ${u.hard}`,
      );
    // The runtime fails outright when asked above the daemon's own hard limit: clamp instead.
    h = Math.min(h, hard[type] ?? Number.POSITIVE_INFINITY);
    s = Math.min(s, h);
    const json = (n: number) => (Number.isFinite(n) ? n : RLIM_UNLIMITED);
    const entry = { type, hard: json(h), soft: json(s) };
    const i = out.findIndex((r) => r.type === type);
    if (i >= 0) out[i] = entry;
    else out.push(entry);
  }
  return out;
}

function userDestinations(mounts: OciMount[]): Set<string> {
  return new Set(mounts.map((m) => m.destination));
}

/** Number of path components, for dockerd's mount ordering (parents before children). */
function depth(p: string): number {
  return p.split('/').filter((c) => c !== '').length;
}

/**
 * Builds config.json for a container with dockerd's defaults: 14 capabilities, the default
 * mounts, masked and read-only paths, namespaces, device cgroup rules and a seccomp profile;
 * `privileged` lifts them the way `docker run --privileged` does. No AppArmor/SELinux label.
 */
export function buildOciSpec(input: OciSpecInput, host: HostFacts = detectHostFacts()): OciSpec {
  if (!input.id) throw new InvalidParameterError('container id is empty');
  requireAbsolute('rootfs', input.rootfs);
  if (input.args.length === 0 || input.args[0] === '') throw new InvalidParameterError('No command specified');
  if (!isAbsolute(input.cwd)) {
    throw new InvalidParameterError(`the working directory '${input.cwd}' is invalid, it needs to be an absolute path`);
  }
  const shmSize = input.shmSize || DEFAULT_SHM_SIZE;
  if (shmSize < 0) throw new InvalidParameterError('SHM size can not be less than 0');
  const oomScoreAdj = input.oomScoreAdj ?? 0;
  if (!Number.isInteger(oomScoreAdj) || oomScoreAdj < -1000 || oomScoreAdj > 1000) {
    throw new InvalidParameterError(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  const privileged = input.privileged === true;
  const caps = tweakCapabilities(input.capAdd ?? [], input.capDrop ?? [], privileged);

  // Container mounts: the /etc files and binds, parents before children (stable).
  const rw = !input.readonlyRootfs;
  const userMounts: OciMount[] = [];
  const etc = input.etcFiles ?? {};
  for (const [dest, src] of [
    ['/etc/resolv.conf', etc.resolvConf],
    ['/etc/hostname', etc.hostname],
    ['/etc/hosts', etc.hosts],
  ] as const) {
    if (src === undefined) continue;
    requireAbsolute(`source of ${dest}`, src);
    userMounts.push({
      destination: dest,
      type: 'bind',
      source: src,
      options: rw ? ['rbind', 'rprivate'] : ['rbind', 'ro', 'rprivate'],
    });
  }
  for (const b of input.binds ?? []) {
    requireAbsolute('bind source', b.source);
    requireAbsolute('bind destination', b.destination);
    if (b.destination === '/') throw new InvalidParameterError('invalid mount config: destination can\'t be "/"');
    const destination = b.destination.replace(/\/+$/, '');
    if (userMounts.some((m) => m.destination === destination))
      throw new InvalidParameterError(`Duplicate mount point: ${destination}`);
    userMounts.push({
      destination,
      type: 'bind',
      source: b.source,
      options: b.readonly ? ['rbind', 'ro', 'rprivate'] : ['rbind', 'rprivate'],
    });
  }
  for (const m of [
    ...(input.volumeMounts ?? []),
    ...tmpfsMounts(input.tmpfs ?? {}),
    ...(input.init ? [initMount(host.initBinary?.())] : []),
  ]) {
    if (userDestinations(userMounts).has(m.destination))
      throw new InvalidParameterError(`Duplicate mount point: ${m.destination}`);
    userMounts.push(m);
  }
  const ipcMode = input.ipcMode ?? 'private';
  const sortedUser = userMounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i);
  const userDest = new Set(userMounts.map((m) => m.destination));
  const overridesDev = userDest.has('/dev');

  const defaults = defaultMounts(shmSize)
    .filter((m) => !userDest.has(m.destination) && !(overridesDev && m.destination.startsWith('/dev/')))
    .filter((m) => m.destination !== '/dev/shm' || ipcMode !== 'none')
    .map((m) => {
      if (m.destination !== '/dev/shm') return m;
      const source = ipcMode === 'host' ? '/dev/shm' : input.shmSource;
      return source ? { destination: '/dev/shm', type: 'bind', source, options: ['rbind', 'rprivate'] } : m;
    })
    .map((m) => {
      let options = m.options ?? [];
      if (privileged && (m.destination === '/sys' || m.type === 'cgroup')) options = options.filter((o) => o !== 'ro');
      if (
        input.readonlyRootfs &&
        !['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination) &&
        !options.includes('ro')
      ) {
        options = [...options, 'ro'];
      }
      return { ...m, options };
    });

  const namespaces: OciSpec['linux']['namespaces'] = [{ type: 'mount' }];
  if (input.network.mode === 'new') namespaces.push({ type: 'network' });
  else if (input.network.mode === 'path') {
    requireAbsolute('network namespace path', input.network.path);
    namespaces.push({ type: 'network', path: input.network.path });
  }
  if (input.utsMode !== 'host') namespaces.push({ type: 'uts' });
  if (input.pidMode !== 'host') namespaces.push({ type: 'pid', ...nsPath(input.pidNamespacePath) });
  if (ipcMode !== 'host') namespaces.push({ type: 'ipc', ...nsPath(input.ipcNamespacePath) });
  // A private cgroup namespace is dockerd's default only on cgroup v2; on v1/hybrid it shares the host's.
  if (host.cgroupV2) namespaces.push({ type: 'cgroup' });

  const sysctl: Record<string, string> = { ...(input.sysctls ?? {}) };
  if (input.network.mode !== 'host') {
    sysctl['net.ipv4.ip_unprivileged_port_start'] ??= '0';
    sysctl['net.ipv4.ping_group_range'] ??= '0 2147483647';
  }

  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      ...(input.terminal ? { terminal: true } : {}),
      user: { uid: input.user.uid, gid: input.user.gid, additionalGids: [...input.user.additionalGids] },
      args: input.init ? [INIT_PATH_IN_CONTAINER, '--', ...input.args] : [...input.args],
      env: [...input.env],
      cwd: input.cwd,
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      oomScoreAdj,
    },
    root: { path: input.rootfs, ...(input.readonlyRootfs ? { readonly: true } : {}) },
    // runc cannot set a hostname without a private UTS namespace; dockerd sends none.
    hostname: input.utsMode === 'host' ? '' : input.hostname,
    mounts: [...defaults, ...sortedUser.map((x) => x.m)],
    linux: {
      ...(Object.keys(sysctl).length > 0 ? { sysctl } : {}),
      resources: {
        devices: privileged ? [{ allow: true, access: 'rwm' }] : DEFAULT_DEVICE_RULES.map((r) => ({ ...r })),
        ...input.resources,
      },
      ...(input.cgroupsPath ? { cgroupsPath: input.cgroupsPath } : {}),
      namespaces,
    },
  };
  if (input.ulimits && input.ulimits.length > 0) spec.process.rlimits = rlimits(input.ulimits, host.hardRlimits);
  if (input.noNewPrivileges) spec.process.noNewPrivileges = true;
  const custom = customDevices(input.devices ?? [], host.devicesAt ?? devicesAt);
  if (privileged) {
    const mapped = new Set(custom.devices.map((d) => d.path));
    spec.linux.devices = [...host.devices().filter((d) => !mapped.has(d.path)), ...custom.devices];
  } else {
    if (custom.devices.length > 0) {
      spec.linux.devices = custom.devices;
      spec.linux.resources.devices.push(...custom.rules);
    }
    const seccomp = input.seccomp ?? 'default';
    if (seccomp === 'default') spec.linux.seccomp = defaultSeccompProfile(caps, host.arch, host.kernel);
    else if (seccomp !== 'unconfined')
      spec.linux.seccomp = toOciSeccomp(seccomp, { capabilities: caps, arch: host.arch, kernel: host.kernel });
    if (!input.unmaskSystemPaths) {
      spec.linux.maskedPaths = [...MASKED_PATHS, ...host.thermalThrottlePaths];
      spec.linux.readonlyPaths = [...READONLY_PATHS];
    }
  }
  return spec;
}
