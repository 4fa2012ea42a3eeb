import { posix } from 'node:path';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { tweakCapabilities } from './capabilities.js';
import type { ContainerConfig } from './container-types.js';
import type { OciSpecInput } from './oci-spec.js';
import { type DockerSeccompProfile, parseSeccompProfile } from './seccomp.js';

/**
 * The HostConfig fields that shape a container's OCI spec (`--tmpfs`, `--device`, `--init`,
 * `--security-opt`, `--pid/--ipc/--uts`, `--sysctl`, `--ulimit`, `--shm-size`, `--oom-score-adj`),
 * validated the way dockerd does at create, so that bad values are 400s and never reach runc.
 */
export interface HostOptions {
  Tmpfs: Record<string, string>;
  Devices: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>;
  /** null: not asked (dockerd's daemon-wide default applies, which is off). */
  Init: boolean | null;
  SecurityOpt: string[];
  /** `container:<id>`: the PID or IPC namespace of another container (see shared-namespaces.ts). */
  PidMode: '' | 'host' | `container:${string}`;
  IpcMode: 'private' | 'shareable' | 'host' | 'none' | `container:${string}`;
  UTSMode: '' | 'host';
  Sysctls: Record<string, string>;
  Ulimits: Array<{ Name: string; Hard: number; Soft: number }>;
  ShmSize: number;
  OomScoreAdj: number;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const W = 'HostConfig.';
const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

const ULIMIT_NAMES = new Set([
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

/** Namespaced sysctls runc accepts (`libcontainer/configs/validate`), as the docker CLI allow-lists them. */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** Flags and `key=` options `mount -t tmpfs` understands (moby `mount.ParseTmpfsOptions`). */
const TMPFS_FLAGS = new Set(
  `ro rw exec noexec suid nosuid dev nodev sync async dirsync remount mand nomand atime noatime diratime
   nodiratime bind rbind unbindable runbindable private rprivate shared rshared slave rslave relatime
   norelatime strictatime nostrictatime tmpcopyup notmpcopyup`.split(/\s+/),
);
const TMPFS_KEYS = new Set(['size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** The container sees the host's kernel interfaces here; never a place for a working dir, volume or tmpfs. */
const KERNEL_FS = ['/proc', '/sys', '/dev'];

function bad(msg: string): never {
  throw new InvalidParameterError(msg);
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    bad(`invalid ${what}: ${JSON.stringify(v)} (must be an integer in [${min}, ${max}])`);
  }
  return v;
}

/** A clean absolute path with no `..`, or a 400. */
export function cleanContainerPath(raw: string, what: string): string {
  if (typeof raw !== 'string' || raw === '' || raw.includes('\0') || raw.length > 4096)
    bad(`invalid ${what}: ${JSON.stringify(raw)}`);
  if (!raw.startsWith('/')) bad(`invalid ${what} ${JSON.stringify(raw)}: it needs to be an absolute path`);
  if (raw.split('/').includes('..')) bad(`invalid ${what} ${JSON.stringify(raw)}: '..' is not allowed`);
  return posix.normalize(raw).replace(/(.)\/+$/, '$1');
}

function underKernelFs(p: string): boolean {
  return KERNEL_FS.some((k) => p === k || p.startsWith(`${k}/`));
}

/** moby `mount.MergeTmpfsOptions`: a later flag overrides its opposite, a later `key=` its earlier value. */
export function mergeTmpfsOptions(options: string[]): string[] {
  const out: string[] = [];
  const opposite = (f: string): string[] => {
    if (f === 'ro') return ['rw'];
    if (f === 'rw') return ['ro'];
    if (f.startsWith('no')) return [f.slice(2)];
    if (f.startsWith('r') && ['rprivate', 'rshared', 'rslave', 'runbindable'].includes(f))
      return ['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable'];
    if (['private', 'shared', 'slave', 'unbindable'].includes(f))
      return ['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable'];
    return [`no${f}`];
  };
  for (const o of options) {
    const eq = o.indexOf('=');
    if (eq > 0) {
      const key = o.slice(0, eq + 1);
      const i = out.findIndex((x) => x.startsWith(key));
      if (i >= 0) out.splice(i, 1);
    } else {
      for (const x of [o, ...opposite(o)]) {
        const i = out.indexOf(x);
        if (i >= 0) out.splice(i, 1);
      }
    }
    out.push(o);
  }
  return out;
}

function tmpfs(v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) bad(`${W}Tmpfs must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [dest, data] of Object.entries(v)) {
    if (typeof data !== 'string') bad(`${W}Tmpfs must be an object of strings`);
    const path = cleanContainerPath(dest, 'tmpfs destination');
    if (path === '/') bad('invalid tmpfs destination "/": the root cannot be a tmpfs');
    for (const o of data.split(',').filter((x) => x !== '')) {
      const eq = o.indexOf('=');
      if (eq > 0 ? !TMPFS_KEYS.has(o.slice(0, eq)) : !TMPFS_FLAGS.has(o))
        bad(`invalid tmpfs option ${JSON.stringify(o)}`);
    }
    if (out[path] !== undefined) bad(`Duplicate mount point: ${path}`);
    out[path] = data;
  }
  return out;
}

function devices(v: unknown): HostOptions['Devices'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(`${W}Devices must be a list`);
  return v.map((d) => {
    if (!isObj(d) || typeof d.PathOnHost !== 'string') bad(`${W}Devices entries need a PathOnHost`);
    const host = cleanContainerPath(d.PathOnHost, 'device path on host');
    const inCtr =
      typeof d.PathInContainer === 'string' && d.PathInContainer !== ''
        ? cleanContainerPath(d.PathInContainer, 'device path in container')
        : host;
    const perms = typeof d.CgroupPermissions === 'string' && d.CgroupPermissions !== '' ? d.CgroupPermissions : 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length)
      bad(`invalid device cgroup permissions ${JSON.stringify(perms)}: use a combination of r, w and m`);
    return { PathOnHost: host, PathInContainer: inCtr, CgroupPermissions: perms };
  });
}

function securityOpt(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad(`${W}SecurityOpt must be a list of strings`);
  return v as string[];
}

/** What `--security-opt` asks for, parsed like dockerd's `parseSecurityOpt`. */
export interface SecurityOptions {
  noNewPrivileges: boolean;
  seccomp: 'default' | 'unconfined' | DockerSeccompProfile;
  /** `systempaths=unconfined`: no masked or read-only /proc and /sys paths. */
  unmaskSystemPaths: boolean;
}

export function parseSecurityOpt(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, seccomp: 'default', unmaskSystemPaths: false };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    // The pre-1.23 `key:value` form is still accepted by dockerd.
    const m = /^([a-z-]+)[=:]([\s\S]*)$/.exec(opt);
    if (!m) bad(`invalid --security-opt 1: ${JSON.stringify(opt.slice(0, 100))}`);
    const [, key, value] = m as unknown as [string, string, string];
    switch (key) {
      case 'no-new-privileges':
        if (!['true', 'false'].includes(value)) bad(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = value === 'true';
        break;
      case 'seccomp':
        if (value === 'unconfined') out.seccomp = 'unconfined';
        else if (value === 'builtin' || value === '') out.seccomp = 'default';
        else out.seccomp = parseSeccompProfile(value);
        break;
      case 'systempaths':
        if (value !== 'unconfined') bad(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.unmaskSystemPaths = true;
        break;
      case 'apparmor':
        // skiff loads no AppArmor profile: only "no profile" can be honoured.
        if (value !== 'unconfined') bad(`AppArmor profile ${JSON.stringify(value)} is not supported by skiff`);
        break;
      case 'label':
        if (value !== 'disable') bad(`SELinux label ${JSON.stringify(value)} is not supported by skiff`);
        break;
      default:
        bad(`invalid --security-opt 2: ${JSON.stringify(opt.slice(0, 100))}`);
    }
  }
  return out;
}

function mode<T extends string>(v: unknown, what: string, allowed: readonly T[]): T {
  if (v === undefined || v === null) return allowed[0]!;
  if (typeof v !== 'string') bad(`${W}${what} must be a string`);
  if (!(allowed as readonly string[]).includes(v)) bad(`invalid ${what}: ${JSON.stringify(v.slice(0, 100))}`);
  return v as T;
}

/** A mode that may also name another container (`container:<name|id>`) whose namespace to join. */
function joinableMode<T extends string>(v: unknown, what: string, allowed: readonly T[]): T | `container:${string}` {
  if (typeof v === 'string' && v.startsWith('container:')) {
    const ref = v.slice('container:'.length);
    if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(ref)) bad(`invalid ${what}: ${JSON.stringify(v.slice(0, 100))}`);
    return `container:${ref.replace(/^\//, '')}`;
  }
  return mode(v, what, allowed);
}

function sysctls(v: unknown, ipcMode: string, networkMode: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) bad(`${W}Sysctls must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string' || val.length > 4096 || /[\0\n]/.test(val))
      bad(`invalid value for sysctl ${JSON.stringify(k)}`);
    const key = k.replaceAll('/', '.');
    if (!/^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$/.test(key) || key.length > 256)
      bad(`invalid sysctl name ${JSON.stringify(k.slice(0, 100))}`);
    if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) {
      if (ipcMode === 'host') bad(`sysctl ${JSON.stringify(k)} is not allowed when IPC is shared with the host`);
    } else if (key.startsWith('net.')) {
      if (networkMode === 'host') bad(`sysctl ${JSON.stringify(k)} is not allowed in host network mode`);
    } else {
      bad(`sysctl ${JSON.stringify(k)} is not allowed: it is not namespaced`);
    }
    out[key] = val;
  }
  return out;
}

function ulimits(v: unknown): HostOptions['Ulimits'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 64) bad(`${W}Ulimits must be a list`);
  return v.map((u) => {
    if (!isObj(u) || typeof u.Name !== 'string') bad(`${W}Ulimits entries need a Name`);
    const name = u.Name.toLowerCase();
    if (!ULIMIT_NAMES.has(name)) bad(`invalid ulimit type: ${JSON.stringify(u.Name.slice(0, 100))}`);
    // -1 is "unlimited"; 2^53-1 is far above any kernel limit.
    const soft = int(u.Soft ?? 0, `ulimit ${name} soft limit`, -1, Number.MAX_SAFE_INTEGER);
    const hard = int(u.Hard ?? 0, `ulimit ${name} hard limit`, -1, Number.MAX_SAFE_INTEGER);
    const n = (x: number) => (x < 0 ? Number.POSITIVE_INFINITY : x);
    if (n(soft) > n(hard))
      bad(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard} (${name})`);
    // Fields in the order of go-units' Ulimit, as dockerd writes them.
    return { Name: name, Hard: hard, Soft: soft };
  });
}

/** Validates the spec-shaping HostConfig fields of a create body (raw JSON) into their normal form. */
export function parseHostOptions(hc: Json, networkMode: string, hostname = ''): HostOptions {
  const ipc = joinableMode(hc.IpcMode === '' ? undefined : hc.IpcMode, 'IpcMode', [
    'private',
    'shareable',
    'host',
    'none',
  ] as const);
  const opts: HostOptions = {
    Tmpfs: tmpfs(hc.Tmpfs),
    Devices: devices(hc.Devices),
    Init: typeof hc.Init === 'boolean' ? hc.Init : null,
    SecurityOpt: securityOpt(hc.SecurityOpt),
    PidMode: joinableMode(hc.PidMode, 'PidMode', ['', 'host'] as const),
    IpcMode: ipc,
    UTSMode: mode(hc.UTSMode, 'UTSMode', ['', 'host'] as const),
    Sysctls: sysctls(hc.Sysctls, ipc, networkMode),
    Ulimits: ulimits(hc.Ulimits),
    // 0 means dockerd's default, which inspect shows; the upper bound is a sanity limit (1 TiB).
    ShmSize: int(hc.ShmSize || DEFAULT_SHM_SIZE, 'ShmSize', 0, 2 ** 40),
    OomScoreAdj:
      hc.OomScoreAdj === undefined || hc.OomScoreAdj === null ? 0 : int(hc.OomScoreAdj, 'OomScoreAdj', -1000, 1000),
  };
  if (hc.Init !== undefined && hc.Init !== null && typeof hc.Init !== 'boolean') bad(`${W}Init must be a boolean`);
  if (opts.UTSMode === 'host' && hostname) {
    bad('Conflicting options: hostname and the UTS mode');
  }
  parseSecurityOpt(opts.SecurityOpt);
  const names = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  // dockerd refuses unknown capabilities at create, not at start.
  tweakCapabilities(names(hc.CapAdd), names(hc.CapDrop));
  return opts;
}

/** The buildOciSpec inputs of a stored HostConfig (validated again: records may predate a rule). */
export function ociInputFromHostConfig(hc: Json, networkMode: string): Partial<OciSpecInput> {
  const o = parseHostOptions(hc, networkMode);
  const sec = parseSecurityOpt(o.SecurityOpt);
  return {
    tmpfs: o.Tmpfs,
    devices: o.Devices.map((d) => ({ host: d.PathOnHost, container: d.PathInContainer, access: d.CgroupPermissions })),
    init: o.Init === true,
    noNewPrivileges: sec.noNewPrivileges,
    seccomp: sec.seccomp,
    unmaskSystemPaths: sec.unmaskSystemPaths,
    pidMode: o.PidMode === 'host' ? 'host' : 'private',
    // container:<id> is a private namespace here; start puts the donor's namespace path in it.
    ipcMode: o.IpcMode.startsWith('container:') ? 'private' : (o.IpcMode as OciSpecInput['ipcMode']),
    utsMode: o.UTSMode === 'host' ? 'host' : 'private',
    sysctls: o.Sysctls,
    ulimits: o.Ulimits.map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
    shmSize: o.ShmSize,
    oomScoreAdj: o.OomScoreAdj,
  };
}

const MAX_USER_LENGTH = 256;
const MAX_ID = 2147483647;
/** Labels (image and request together) above this are refused: they are stored and served on every list. */
export const MAX_LABELS_BYTES = 256 * 1024;

/**
 * Checks the merged process config (image config + request; the image is attacker input):
 * `User` ids in range, `WorkingDir` and `Volumes` clean, absolute and outside /proc, /sys and
 * /dev, labels bounded. Returns the cleaned WorkingDir.
 */
export function validateProcessConfig(c: Pick<ContainerConfig, 'User' | 'WorkingDir' | 'Volumes' | 'Labels'>): string {
  const user = c.User ?? '';
  if (user.length > MAX_USER_LENGTH || /[\0\n/]/.test(user)) bad(`invalid user ${JSON.stringify(user.slice(0, 100))}`);
  for (const part of user.split(':')) {
    if (/^-?\d+$/.test(part) && (part.startsWith('-') || Number(part) > MAX_ID))
      bad(`invalid user ${JSON.stringify(user)}: uids and gids must be in range 0-${MAX_ID}`);
  }
  let cwd = '';
  if (c.WorkingDir) {
    cwd = cleanContainerPath(c.WorkingDir, 'working directory');
    if (underKernelFs(cwd))
      bad(`invalid working directory ${JSON.stringify(c.WorkingDir)}: inside ${cwd.split('/')[1]}`);
  }
  for (const v of Object.keys(c.Volumes ?? {})) {
    const p = cleanContainerPath(v, 'volume path');
    if (p === '/' || underKernelFs(p)) bad(`invalid volume path ${JSON.stringify(v)}`);
  }
  let size = 0;
  for (const [k, v] of Object.entries(c.Labels ?? {})) size += k.length + String(v).length;
  if (size > MAX_LABELS_BYTES) bad(`labels are too large: ${size} bytes (at most ${MAX_LABELS_BYTES})`);
  return cwd;
}
