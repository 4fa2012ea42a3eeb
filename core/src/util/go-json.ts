import { compareStrings } from './compare.js';

// How Go's encoding/json lays out what dockerd sends, for the answers `docker inspect` prints as
// they come: struct fields in declaration order, map keys sorted.

/**
 * `obj` with `keys` first, in that order: Go writes a struct's fields in declaration order, and
 * `docker inspect` prints the JSON as it comes.
 */
export function inGoOrder<T extends object>(obj: T, keys: readonly string[]): T {
  const out: Record<string, unknown> = {};
  const from = obj as Record<string, unknown>;
  for (const k of keys) if (k in from) out[k] = from[k];
  for (const [k, v] of Object.entries(from)) if (!(k in out)) out[k] = v;
  return out as T;
}

/** moby's container.Config fields. */
export const CONFIG_ORDER = [
  'Hostname',
  'Domainname',
  'User',
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  'ExposedPorts',
  'Tty',
  'OpenStdin',
  'StdinOnce',
  'Env',
  'Cmd',
  'Healthcheck',
  'ArgsEscaped',
  'Image',
  'Volumes',
  'WorkingDir',
  'Entrypoint',
  'NetworkDisabled',
  'MacAddress',
  'OnBuild',
  'Labels',
  'StopSignal',
  'StopTimeout',
  'Shell',
];

/** moby's container.HostConfig fields (its Resources inlined where they are embedded). */
export const HOST_CONFIG_ORDER = [
  'Binds',
  'ContainerIDFile',
  'LogConfig',
  'NetworkMode',
  'PortBindings',
  'RestartPolicy',
  'AutoRemove',
  'VolumeDriver',
  'VolumesFrom',
  'ConsoleSize',
  'Annotations',
  'CapAdd',
  'CapDrop',
  'CgroupnsMode',
  'Dns',
  'DnsOptions',
  'DnsSearch',
  'ExtraHosts',
  'GroupAdd',
  'IpcMode',
  'Cgroup',
  'Links',
  'OomScoreAdj',
  'PidMode',
  'Privileged',
  'PublishAllPorts',
  'ReadonlyRootfs',
  'SecurityOpt',
  'StorageOpt',
  'Tmpfs',
  'UTSMode',
  'UsernsMode',
  'ShmSize',
  'Sysctls',
  'Runtime',
  'Isolation',
  'CpuShares',
  'Memory',
  'NanoCpus',
  'CgroupParent',
  'BlkioWeight',
  'BlkioWeightDevice',
  'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps',
  'BlkioDeviceWriteIOps',
  'CpuPeriod',
  'CpuQuota',
  'CpuRealtimePeriod',
  'CpuRealtimeRuntime',
  'CpusetCpus',
  'CpusetMems',
  'Devices',
  'DeviceCgroupRules',
  'DeviceRequests',
  'MemoryReservation',
  'MemorySwap',
  'MemorySwappiness',
  'OomKillDisable',
  'PidsLimit',
  'Ulimits',
  'CpuCount',
  'CpuPercent',
  'IOMaximumIOps',
  'IOMaximumBandwidth',
  'Mounts',
  'MaskedPaths',
  'ReadonlyPaths',
  'Init',
];

/** A copy of the map `m` with its keys sorted as Go writes them; null and undefined as they are. */
export function goMap<M extends Record<string, unknown> | null | undefined>(m: M): M {
  if (!m) return m;
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => compareStrings(a, b))) as M;
}
