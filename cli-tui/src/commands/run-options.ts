// `skiff run`/`skiff create` flags → the container create request docker 28 sends (the whole
// HostConfig, with the same zero values), and docker's checks of the values.

import { isIP } from 'node:net';
import type { FlagSpec, FlagValues } from '../cli/args.js';
import { UsageError } from '../cli/errors.js';
import { goDuration, goInt, goUint, memSwapBytes, nanoCpus, ramInBytes, ValueError } from '../cli/go-values.js';
import { EnvFileError, readEnvFiles } from './env-file.js';
import {
  type Mount,
  normalizeCapabilities,
  parseDevice,
  parseExpose,
  parseMount,
  parsePortSpec,
  parseRestartPolicy,
  parseSecurityOpt,
  parseSysctl,
  parseTmpfs,
  parseUlimit,
  type PortBinding,
  RunOptionsError,
  splitVolumes,
  validateExtraHost,
  validateIpAddress,
} from './run-specs.js';

export { RunOptionsError };

const f = (name: string, type: FlagSpec['type'], description: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({
  name,
  type,
  description,
  ...extra,
});

export const RUN_FLAGS: FlagSpec[] = [
  f('add-host', 'list', 'Add a custom host-to-IP mapping (host:ip)'),
  f('blkio-weight', 'string', 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)', {
    valueName: 'uint16',
  }),
  f('cap-add', 'list', 'Add Linux capabilities'),
  f('cap-drop', 'list', 'Drop Linux capabilities'),
  f('cgroupns', 'string', 'Cgroup namespace to use (host|private)'),
  f('cgroup-parent', 'string', 'Optional parent cgroup for the container'),
  f('cpu-period', 'string', 'Limit CPU CFS (Completely Fair Scheduler) period', { valueName: 'int' }),
  f('cpu-quota', 'string', 'Limit CPU CFS (Completely Fair Scheduler) quota', { valueName: 'int' }),
  f('cpu-shares', 'string', 'CPU shares (relative weight)', { short: 'c', valueName: 'int' }),
  f('cpus', 'string', 'Number of CPUs', { valueName: 'decimal' }),
  f('cpuset-cpus', 'string', 'CPUs in which to allow execution (0-3, 0,1)'),
  f('cpuset-mems', 'string', 'MEMs in which to allow execution (0-3, 0,1)'),
  f('detach', 'bool', 'Run container in background and print container ID', { short: 'd' }),
  f('cidfile', 'string', 'Write the container ID to the file'),
  f('device', 'list', 'Add a host device to the container'),
  f('device-cgroup-rule', 'list', 'Add a rule to the cgroup allowed devices list'),
  f('dns', 'list', 'Set custom DNS servers'),
  f('dns-option', 'list', 'Set DNS options'),
  f('dns-search', 'list', 'Set custom DNS search domains'),
  f('domainname', 'string', 'Container NIS domain name'),
  f('entrypoint', 'string', 'Overwrite the default ENTRYPOINT of the image'),
  f('env', 'list', 'Set environment variables', { short: 'e' }),
  f('env-file', 'list', 'Read in a file of environment variables'),
  f('expose', 'list', 'Expose a port or a range of ports'),
  f('group-add', 'list', 'Add additional groups to join'),
  f('health-cmd', 'string', 'Command to run to check health'),
  f('health-interval', 'string', 'Time between running the check (ms|s|m|h) (default 0s)', { valueName: 'duration' }),
  f('health-retries', 'string', 'Consecutive failures needed to report unhealthy', { valueName: 'int' }),
  f(
    'health-start-period',
    'string',
    'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)',
    { valueName: 'duration' },
  ),
  f('health-timeout', 'string', 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)', {
    valueName: 'duration',
  }),
  f('hostname', 'string', 'Container host name', { short: 'h' }),
  f('init', 'bool', 'Run an init inside the container that forwards signals and reaps processes'),
  f('interactive', 'bool', 'Keep STDIN open even if not attached', { short: 'i' }),
  f('ip', 'string', 'IPv4 address (e.g., 172.30.100.104)'),
  f('ip6', 'string', 'IPv6 address (e.g., 2001:db8::33)'),
  f('ipc', 'string', 'IPC mode to use'),
  f('isolation', 'string', 'Container isolation technology'),
  f('label', 'list', 'Set meta data on a container', { short: 'l' }),
  f('label-file', 'list', 'Read in a line delimited file of labels'),
  f('link', 'list', 'Add link to another container'),
  f('log-driver', 'string', 'Logging driver for the container'),
  f('log-opt', 'list', 'Log driver options'),
  f('memory', 'string', 'Memory limit', { short: 'm', valueName: 'bytes' }),
  f('memory-reservation', 'string', 'Memory soft limit', { valueName: 'bytes' }),
  f('memory-swap', 'string', "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", {
    valueName: 'bytes',
  }),
  f('memory-swappiness', 'string', 'Tune container memory swappiness (0 to 100) (default -1)', { valueName: 'int' }),
  f('mount', 'list', 'Attach a filesystem mount to the container', { valueName: 'mount' }),
  f('name', 'string', 'Assign a name to the container'),
  f('network', 'string', 'Connect a container to a network', { valueName: 'network' }),
  f('network-alias', 'list', 'Add network-scoped alias for the container'),
  f('no-healthcheck', 'bool', 'Disable any container-specified HEALTHCHECK'),
  f('oom-kill-disable', 'bool', 'Disable OOM Killer'),
  f('oom-score-adj', 'string', "Tune host's OOM preferences (-1000 to 1000)", { valueName: 'int' }),
  f('pid', 'string', 'PID namespace to use'),
  f('pids-limit', 'string', 'Tune container pids limit (set -1 for unlimited)', { valueName: 'int' }),
  f('platform', 'string', 'Set platform if server is multi-platform capable'),
  f('privileged', 'bool', 'Give extended privileges to this container'),
  f('publish', 'list', "Publish a container's port(s) to the host", { short: 'p' }),
  f('publish-all', 'bool', 'Publish all exposed ports to random ports', { short: 'P' }),
  f('pull', 'string', 'Pull image before running ("always", "missing", "never") (default "missing")'),
  f('read-only', 'bool', "Mount the container's root filesystem as read only"),
  f('restart', 'string', 'Restart policy to apply when a container exits (default "no")'),
  f('rm', 'bool', 'Automatically remove the container and its associated anonymous volumes when it exits'),
  f('runtime', 'string', 'Runtime to use for this container'),
  f('security-opt', 'list', 'Security Options'),
  f('shm-size', 'string', 'Size of /dev/shm', { valueName: 'bytes' }),
  f('stop-signal', 'string', 'Signal to stop the container'),
  f('stop-timeout', 'string', 'Timeout (in seconds) to stop a container', { valueName: 'int' }),
  f('storage-opt', 'list', 'Storage driver options for the container'),
  f('sysctl', 'list', 'Sysctl options', { valueName: 'map' }),
  f('tmpfs', 'list', 'Mount a tmpfs directory'),
  f('tty', 'bool', 'Allocate a pseudo-TTY', { short: 't' }),
  f('ulimit', 'list', 'Ulimit options', { valueName: 'ulimit' }),
  f('user', 'string', 'Username or UID (format: <name|uid>[:<group|gid>])', { short: 'u' }),
  f('userns', 'string', 'User namespace to use'),
  f('uts', 'string', 'UTS namespace to use'),
  f('volume', 'list', 'Bind mount a volume', { short: 'v' }),
  f('volume-driver', 'string', 'Optional volume driver for the container'),
  f('volumes-from', 'list', 'Mount volumes from the specified container(s)'),
  f('workdir', 'string', 'Working directory inside the container', { short: 'w' }),
];

export interface RunOptions {
  image: string;
  command: string[];
  name?: string;
  detach: boolean;
  autoRemove: boolean;
  interactive: boolean;
  tty: boolean;
  /** Lines docker prints on stderr before creating (a localhost DNS server). */
  warnings: string[];
  /** --pull: when to pull the image. */
  pull: 'missing' | 'always' | 'never';
  platform?: string;
  /** --cidfile: where to write the new container's ID. */
  cidFile?: string;
  /** The body of POST /containers/create. */
  config: ContainerCreateBody;
}

type EmptyObject = Record<string, never>;

export interface Healthcheck {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string } | null;
  Links: null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: null;
  GwPriority: number;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: null;
}

export interface HostConfig {
  Binds: string[] | null;
  ContainerIDFile: string;
  LogConfig: { Type: string; Config: Record<string, string> };
  NetworkMode: string;
  PortBindings: Record<string, PortBinding[]>;
  RestartPolicy: { Name: string; MaximumRetryCount: number };
  AutoRemove: boolean;
  VolumeDriver: string;
  VolumesFrom: string[] | null;
  ConsoleSize: [number, number];
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  CgroupnsMode: string;
  Dns: string[];
  DnsOptions: string[];
  DnsSearch: string[];
  ExtraHosts: string[] | null;
  GroupAdd: string[] | null;
  IpcMode: string;
  Cgroup: string;
  Links: string[] | null;
  OomScoreAdj: number;
  PidMode: string;
  Privileged: boolean;
  PublishAllPorts: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  Tmpfs?: Record<string, string>;
  UTSMode: string;
  UsernsMode: string;
  ShmSize: number;
  StorageOpt?: Record<string, string>;
  Sysctls?: Record<string, string>;
  Runtime?: string;
  Isolation: string;
  CpuShares: number;
  Memory: number;
  NanoCpus: number;
  CgroupParent: string;
  BlkioWeight: number;
  BlkioWeightDevice: [];
  BlkioDeviceReadBps: [];
  BlkioDeviceWriteBps: [];
  BlkioDeviceReadIOps: [];
  BlkioDeviceWriteIOps: [];
  CpuPeriod: number;
  CpuQuota: number;
  CpuRealtimePeriod: number;
  CpuRealtimeRuntime: number;
  CpusetCpus: string;
  CpusetMems: string;
  Devices: { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }[];
  DeviceCgroupRules: string[] | null;
  DeviceRequests: null;
  MemoryReservation: number;
  MemorySwap: number;
  MemorySwappiness: number;
  OomKillDisable: boolean;
  PidsLimit: number;
  Ulimits: { Name: string; Hard: number; Soft: number }[];
  CpuCount: number;
  CpuPercent: number;
  IOMaximumIOps: number;
  IOMaximumBandwidth: number;
  Mounts?: Mount[];
  MaskedPaths: null;
  ReadonlyPaths: null;
  Init?: boolean;
}

export interface ContainerCreateBody {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, EmptyObject>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: Healthcheck;
  Image: string;
  Volumes: Record<string, EmptyObject>;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  HostConfig: HostConfig;
  NetworkingConfig: { EndpointsConfig: Record<string, EndpointSettings> };
}

/** -e KEY=VALUE is sent as is; -e KEY takes KEY's value from the client's environment, if set. */
export function resolveEnv(entries: readonly string[], env: NodeJS.ProcessEnv): string[] {
  return entries.map((entry) => {
    if (entry.includes('=')) {
      if (entry.startsWith('=')) throw new RunOptionsError(`invalid environment variable: ${entry}`);
      return entry;
    }
    if (entry.trim() === '') throw new RunOptionsError('invalid environment variable: empty name');
    const value = env[entry];
    return value === undefined ? entry : `${entry}=${value}`;
  });
}

/** opts.ValidateEnv: KEY=VALUE as is, a bare KEY takes the client's value when it has one. */
function validateEnv(entry: string, env: NodeJS.ProcessEnv): string {
  const eq = entry.indexOf('=');
  const key = eq >= 0 ? entry.slice(0, eq) : entry;
  if (key === '') throw new ValueError(`invalid environment variable: ${entry}`);
  if (eq >= 0) return entry;
  const value = env[key];
  return value === undefined ? entry : `${key}=${value}`;
}

/** Flag values as the docker CLI reads them; a bad one is a usage error naming the flag. */
class FlagReader {
  constructor(private readonly flags: FlagValues) {}

  private label(name: string): string {
    const spec = RUN_FLAGS.find((s) => s.name === name);
    return spec?.short ? `-${spec.short}, --${name}` : `--${name}`;
  }

  private fail(name: string, value: string, err: unknown): never {
    if (!(err instanceof ValueError)) throw err;
    throw new UsageError(`invalid argument "${value}" for "${this.label(name)}" flag: ${err.message}`, 'flag');
  }

  str(name: string): string | undefined {
    return this.flags[name] as string | undefined;
  }

  list(name: string): string[] {
    return (this.flags[name] as string[] | undefined) ?? [];
  }

  bool(name: string): boolean {
    return this.flags[name] === true;
  }

  /** A single-valued flag through `parse` (0 when absent). */
  value(name: string, parse: (text: string) => number, absent = 0): number {
    const text = this.str(name);
    if (text === undefined) return absent;
    try {
      return parse(text);
    } catch (err) {
      return this.fail(name, text, err);
    }
  }

  /** Each value of a repeatable flag through `parse`, checked in order like pflag's Set. */
  each<T>(name: string, parse: (text: string) => T): T[] {
    return this.list(name).map((text) => {
      try {
        return parse(text);
      } catch (err) {
        return this.fail(name, text, err);
      }
    });
  }

  changed(name: string): boolean {
    return this.flags[name] !== undefined;
  }
}

function parseLabel(entry: string): string {
  const eq = entry.indexOf('=');
  if ((eq >= 0 ? entry.slice(0, eq) : entry).trim() === '')
    throw new ValueError(`invalid label '${entry}': empty name`);
  return entry;
}

/** opts.ValidateLink: `name[:alias]`. */
function validateLink(value: string): string {
  if (value === '') throw new ValueError('empty string specified for links');
  const parts = value.split(':');
  if (parts.length > 2) throw new ValueError(`bad format for links: ${value}`);
  return value;
}

function validateCgroupRule(value: string): string {
  if (!/^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.test(value)) {
    throw new ValueError(`invalid device cgroup format '${value}'`);
  }
  return value;
}

function toMap(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    out[eq >= 0 ? entry.slice(0, eq) : entry] = eq >= 0 ? entry.slice(eq + 1) : '';
  }
  return out;
}

/** --env-file and --label-file lines (a bare KEY takes its value from `env`, or is dropped). */
function readFiles(files: readonly string[], env: NodeJS.ProcessEnv): string[] {
  try {
    return readEnvFiles(files, env);
  } catch (err) {
    if (err instanceof EnvFileError) throw new RunOptionsError(err.message);
    throw err;
  }
}

function defaultEndpoint(): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    MacAddress: '',
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

/** Only user-defined networks take aliases. */
function isUserDefined(mode: string): boolean {
  return !['default', 'bridge', 'host', 'none'].includes(mode) && !mode.startsWith('container:');
}

function endpointsFor(
  mode: string,
  implicit: boolean,
  aliases: string[],
  ip: string | undefined,
  ip6: string | undefined,
): Record<string, EndpointSettings> {
  if (aliases.length > 0 && !isUserDefined(mode)) {
    throw new RunOptionsError('network-scoped aliases are only supported for user-defined networks');
  }
  const hasOptions = aliases.length > 0 || Boolean(ip) || Boolean(ip6);
  // docker sends an empty endpoint when no --network is given, otherwise one only with settings.
  if (!hasOptions && !implicit) return {};
  const endpoint = defaultEndpoint();
  if (aliases.length > 0) endpoint.Aliases = aliases;
  if (ip || ip6) endpoint.IPAMConfig = { ...(ip ? { IPv4Address: ip } : {}), ...(ip6 ? { IPv6Address: ip6 } : {}) };
  return { [mode]: endpoint };
}

function healthcheck(r: FlagReader): Healthcheck | undefined {
  const cmd = r.str('health-cmd') ?? '';
  const interval = r.value('health-interval', goDuration);
  const timeout = r.value('health-timeout', goDuration);
  const startPeriod = r.value('health-start-period', goDuration);
  const retries = r.value('health-retries', (t) => goInt(t, 64));
  const any = cmd !== '' || interval !== 0 || timeout !== 0 || startPeriod !== 0 || retries !== 0;
  if (r.bool('no-healthcheck')) {
    if (any) throw new RunOptionsError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!any) return undefined;
  if (interval < 0) throw new RunOptionsError('--health-interval cannot be negative');
  if (timeout < 0) throw new RunOptionsError('--health-timeout cannot be negative');
  if (retries < 0) throw new RunOptionsError('--health-retries cannot be negative');
  if (startPeriod < 0) throw new RunOptionsError('--health-start-period cannot be negative');
  return {
    ...(cmd !== '' ? { Test: ['CMD-SHELL', cmd] } : {}),
    ...(interval ? { Interval: interval } : {}),
    ...(timeout ? { Timeout: timeout } : {}),
    ...(startPeriod ? { StartPeriod: startPeriod } : {}),
    ...(retries ? { Retries: retries } : {}),
  };
}

function isLocalhostIp(ip: string): boolean {
  return ip === '::1' || (isIP(ip) === 4 && ip.startsWith('127.'));
}

export function buildRunOptions(
  flags: FlagValues,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  consoleSize: [number, number] = [0, 0],
  cwd: string = process.cwd(),
): RunOptions {
  const r = new FlagReader(flags);
  const [image, ...command] = args;
  if (!image) throw new RunOptionsError('requires at least 1 argument');

  // Values pflag checks while parsing: a bad one is a usage error.
  const memory = r.value('memory', ramInBytes);
  const memoryReservation = r.value('memory-reservation', ramInBytes);
  const memorySwap = r.value('memory-swap', memSwapBytes);
  const shmSize = r.value('shm-size', ramInBytes);
  const cpus = r.value('cpus', nanoCpus);
  const cpuShares = r.value('cpu-shares', (t) => goInt(t));
  const cpuPeriod = r.value('cpu-period', (t) => goInt(t));
  const cpuQuota = r.value('cpu-quota', (t) => goInt(t));
  const pidsLimit = r.value('pids-limit', (t) => goInt(t));
  const swappiness = r.value('memory-swappiness', (t) => goInt(t), -1);
  const blkioWeight = r.value('blkio-weight', (t) => goUint(t, 16));
  const oomScoreAdj = r.value('oom-score-adj', (t) => goInt(t));
  const stopTimeout = r.changed('stop-timeout') ? r.value('stop-timeout', (t) => goInt(t)) : undefined;
  const labels = r.each('label', parseLabel);
  const ulimits = r.each('ulimit', parseUlimit);
  const mounts = r.each('mount', parseMount);
  const extraHosts = r.each('add-host', validateExtraHost);
  const dns = r.each('dns', validateIpAddress);
  const sysctls = r.each('sysctl', parseSysctl);
  const links = r.each('link', validateLink);
  const cgroupRules = r.each('device-cgroup-rule', validateCgroupRule);
  const envFlags = r.each('env', (entry) => validateEnv(entry, env));

  // Checks the docker CLI makes afterwards ("docker: …").
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw new RunOptionsError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  }
  const detach = r.bool('detach');
  const interactive = r.bool('interactive');
  const tty = r.bool('tty');
  const attachStdin = interactive && !detach;
  const envList = [...readFiles(r.list('env-file'), env), ...envFlags];
  const labelMap = toMap([...readFiles(r.list('label-file'), {}), ...labels]);

  const exposed: Record<string, EmptyObject> = {};
  const portBindings: Record<string, PortBinding[]> = {};
  for (const spec of r.list('publish')) {
    for (const { port, binding } of parsePortSpec(spec)) {
      exposed[port] = {};
      (portBindings[port] ??= []).push(binding);
    }
  }
  for (const spec of r.list('expose')) for (const port of parseExpose(spec)) exposed[port] = {};

  const { binds, volumes } = splitVolumes(r.list('volume'), cwd);
  const devices = r.list('device').map(parseDevice);
  const tmpfs = r.list('tmpfs').map(parseTmpfs);
  const securityOpt = r.list('security-opt').map(parseSecurityOpt);
  const restart = parseRestartPolicy(r.str('restart') ?? 'no');
  const autoRemove = r.bool('rm');
  if (autoRemove && !['', 'no'].includes(restart.Name)) {
    throw new RunOptionsError('conflicting options: cannot specify both --restart and --rm');
  }
  const health = healthcheck(r);
  const pull = r.str('pull') ?? 'missing';
  if (pull !== 'missing' && pull !== 'always' && pull !== 'never') {
    throw new RunOptionsError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
  const storageOpt = r.list('storage-opt').map((o) => {
    if (!o.includes('=')) throw new RunOptionsError('invalid storage option');
    return o;
  });
  if (r.str('network') === '') throw new RunOptionsError('no name set for network');
  const networkMode = r.str('network') || 'default';
  const endpoints = endpointsFor(networkMode, !r.str('network'), r.list('network-alias'), r.str('ip'), r.str('ip6'));

  let entrypoint: string[] | null = null;
  if (typeof flags.entrypoint === 'string') entrypoint = [flags.entrypoint];
  const name = r.str('name');
  const stopSignal = r.str('stop-signal');
  const localDns = dns.find(isLocalhostIp);

  const hostConfig: HostConfig = {
    Binds: binds.length > 0 ? binds : null,
    ContainerIDFile: r.str('cidfile') ?? '',
    LogConfig: { Type: r.str('log-driver') ?? '', Config: toMap(r.list('log-opt')) },
    NetworkMode: networkMode,
    PortBindings: portBindings,
    RestartPolicy: restart,
    AutoRemove: autoRemove,
    VolumeDriver: r.str('volume-driver') ?? '',
    VolumesFrom: r.list('volumes-from').length > 0 ? r.list('volumes-from') : null,
    ConsoleSize: tty ? consoleSize : [0, 0],
    CapAdd: normalizeCapabilities(r.list('cap-add')),
    CapDrop: normalizeCapabilities(r.list('cap-drop')),
    CgroupnsMode: r.str('cgroupns') ?? '',
    Dns: dns,
    DnsOptions: r.list('dns-option'),
    DnsSearch: r.list('dns-search'),
    ExtraHosts: extraHosts.length > 0 ? extraHosts : null,
    GroupAdd: r.list('group-add').length > 0 ? r.list('group-add') : null,
    IpcMode: r.str('ipc') ?? '',
    Cgroup: '',
    Links: links.length > 0 ? links : null,
    OomScoreAdj: oomScoreAdj,
    PidMode: r.str('pid') ?? '',
    Privileged: r.bool('privileged'),
    PublishAllPorts: r.bool('publish-all'),
    ReadonlyRootfs: r.bool('read-only'),
    SecurityOpt: securityOpt.length > 0 ? securityOpt : null,
    ...(tmpfs.length > 0 ? { Tmpfs: Object.fromEntries(tmpfs) } : {}),
    UTSMode: r.str('uts') ?? '',
    UsernsMode: r.str('userns') ?? '',
    ShmSize: shmSize,
    ...(storageOpt.length > 0 ? { StorageOpt: toMap(storageOpt) } : {}),
    ...(sysctls.length > 0 ? { Sysctls: Object.fromEntries(sysctls) } : {}),
    ...(r.str('runtime') ? { Runtime: r.str('runtime') } : {}),
    Isolation: r.str('isolation') ?? '',
    CpuShares: cpuShares,
    Memory: memory,
    NanoCpus: cpus,
    CgroupParent: r.str('cgroup-parent') ?? '',
    BlkioWeight: blkioWeight,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: cpuPeriod,
    CpuQuota: cpuQuota,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: r.str('cpuset-cpus') ?? '',
    CpusetMems: r.str('cpuset-mems') ?? '',
    Devices: devices,
    DeviceCgroupRules: cgroupRules.length > 0 ? cgroupRules : null,
    DeviceRequests: null,
    MemoryReservation: memoryReservation,
    MemorySwap: memorySwap,
    MemorySwappiness: swappiness,
    OomKillDisable: r.bool('oom-kill-disable'),
    PidsLimit: pidsLimit,
    Ulimits: ulimits,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    ...(mounts.length > 0 ? { Mounts: mounts } : {}),
    MaskedPaths: null,
    ReadonlyPaths: null,
    ...(r.changed('init') ? { Init: r.bool('init') } : {}),
  };

  const config: ContainerCreateBody = {
    Hostname: r.str('hostname') ?? '',
    Domainname: r.str('domainname') ?? '',
    User: r.str('user') ?? '',
    AttachStdin: attachStdin,
    AttachStdout: !detach,
    AttachStderr: !detach,
    ...(Object.keys(exposed).length > 0 ? { ExposedPorts: exposed } : {}),
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: attachStdin,
    Env: envList.length > 0 ? envList : null,
    Cmd: command.length > 0 ? command : null,
    ...(health ? { Healthcheck: health } : {}),
    Image: image,
    Volumes: volumes,
    WorkingDir: r.str('workdir') ?? '',
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: labelMap,
    ...(stopSignal ? { StopSignal: stopSignal } : {}),
    ...(stopTimeout !== undefined ? { StopTimeout: stopTimeout } : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
  return {
    image,
    command,
    ...(name ? { name } : {}),
    detach,
    autoRemove,
    interactive,
    tty,
    pull,
    ...(r.str('platform') ? { platform: r.str('platform') } : {}),
    ...(r.str('cidfile') ? { cidFile: r.str('cidfile') } : {}),
    warnings: localDns ? [`WARNING: Localhost DNS (${localDns}) may fail in containers.`] : [],
    config,
  };
}

/** docker's runStartContainerErr: which exit code a start failure maps to. */
export function startErrorExitCode(message: string): number {
  if (
    message.includes('executable file not found') ||
    message.includes('no such file or directory') ||
    message.includes('system cannot find the file specified')
  ) {
    return 127;
  }
  if (message.includes('permission denied') || message.includes('is a directory')) return 126;
  return 125;
}
