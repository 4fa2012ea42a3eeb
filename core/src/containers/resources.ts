import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConflictError, InvalidParameterError } from '../plugin-api/errors.js';
import type { HostConfig } from './container-types.js';

/** The OCI `linux.resources` fields skiff sets from Docker's HostConfig (runc's update input too). */
export interface OciResources {
  memory?: { limit?: number; reservation?: number; swap?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  blockIO?: { weight?: number };
}

/** Docker's resource fields of HostConfig (and of `POST /containers/{id}/update`). */
export interface DockerResources {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
}

const INT_FIELDS = [
  'Memory',
  'MemorySwap',
  'MemoryReservation',
  'NanoCpus',
  'CpuShares',
  'CpuPeriod',
  'CpuQuota',
  'BlkioWeight',
] as const;
const STRING_FIELDS = ['CpusetCpus', 'CpusetMems'] as const;

/** dockerd's linuxMinMemory. */
const MIN_MEMORY = 6 * 1024 * 1024;
/** CFS period dockerd uses for NanoCpus (100 ms). */
const NANO_CPU_PERIOD = 100_000;

/** Reads the resource fields of a request body, checking their JSON types (Go's decoder would refuse others). */
export function readResources(body: Record<string, unknown>): DockerResources {
  const out: DockerResources = {};
  for (const k of INT_FIELDS) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v))
      throw new InvalidParameterError(
        `json: cannot unmarshal ${typeof v} into Go struct field Resources.${k} of type int64`,
      );
    out[k] = v;
  }
  for (const k of STRING_FIELDS) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string')
      throw new InvalidParameterError(
        `json: cannot unmarshal ${typeof v} into Go struct field Resources.${k} of type string`,
      );
    out[k] = v;
  }
  for (const k of ['MemorySwappiness', 'PidsLimit'] as const) {
    const v = body[k];
    if (v === undefined) continue;
    if (v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v)))
      throw new InvalidParameterError(
        `json: cannot unmarshal ${typeof v} into Go struct field Resources.${k} of type int64`,
      );
    out[k] = v;
  }
  if (body.OomKillDisable !== undefined) {
    if (body.OomKillDisable !== null && typeof body.OomKillDisable !== 'boolean')
      throw new InvalidParameterError(
        'json: cannot unmarshal into Go struct field Resources.OomKillDisable of type bool',
      );
    out.OomKillDisable = body.OomKillDisable;
  }
  return out;
}

/** `0-3,5,7-8` (moby's parsers.ParseUintList); returns the listed numbers. */
export function parseCpuList(value: string): Set<number> {
  const out = new Set<number>();
  if (value === '') return out;
  const invalid = () => new Error(`invalid format: ${value}`);
  for (const part of value.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw invalid();
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 1 << 16) throw invalid();
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

/** The host's usable CPUs and memory nodes, as dockerd's sysinfo reads them. */
function hostCpuset(kind: 'cpus' | 'mems'): string {
  for (const f of [
    `/sys/fs/cgroup/cpuset/cpuset.${kind}`,
    `/sys/fs/cgroup/cpuset.${kind}.effective`,
    kind === 'cpus' ? '/sys/devices/system/cpu/online' : '/sys/devices/system/node/online',
  ]) {
    try {
      const v = readFileSync(f, 'utf8').trim();
      if (v) return v;
    } catch {
      // Next candidate.
    }
  }
  return kind === 'cpus' ? `0-${availableParallelism() - 1}` : '0';
}

/**
 * dockerd's verifyPlatformContainerResources: the same checks and messages (400). `update` is
 * true for `POST /containers/{id}/update`, whose body may carry a swap limit without memory.
 */
export function validateResources(r: DockerResources, update: boolean): void {
  const bad = (msg: string) => new InvalidParameterError(msg);
  const memory = r.Memory ?? 0;
  const swap = r.MemorySwap ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY) throw bad('Minimum memory limit allowed is 6MB');
  if (memory > 0 && swap > 0 && swap < memory)
    throw bad('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (memory === 0 && swap > 0 && !update)
    throw bad('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (swap < -1) throw bad(`invalid MemorySwap ${swap}: use -1 for unlimited swap`);
  const swappiness = r.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1 && (swappiness < 0 || swappiness > 100))
    throw bad(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  const reservation = r.MemoryReservation ?? 0;
  if (reservation !== 0 && reservation < MIN_MEMORY) throw bad('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation)
    throw bad('Minimum memory limit can not be less than memory reservation limit, see usage');

  const nano = r.NanoCpus ?? 0;
  const period = r.CpuPeriod ?? 0;
  const quota = r.CpuQuota ?? 0;
  if (nano > 0 && period > 0) throw bad('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && quota > 0) throw bad('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  const ncpu = availableParallelism();
  if (nano < 0 || nano > ncpu * 1e9)
    throw bad(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
  if ((r.CpuShares ?? 0) < 0) throw bad('shares: invalid argument');
  if (period !== 0 && (period < 1000 || period > 1_000_000))
    throw bad('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (quota > 0 && quota < 1000) throw bad('CPU cfs quota can not be less than 1ms (i.e. 1000)');

  for (const [field, kind, what] of [
    ['CpusetCpus', 'cpus', 'cpuset cpus'],
    ['CpusetMems', 'mems', 'cpuset mems'],
  ] as const) {
    const want = r[field];
    if (!want) continue;
    let wanted: Set<number>;
    try {
      wanted = parseCpuList(want);
    } catch (err) {
      throw bad(`Invalid value ${want} for ${what}: ${(err as Error).message}`);
    }
    const available = hostCpuset(kind);
    const have = parseCpuList(available);
    if ([...wanted].some((n) => !have.has(n))) {
      throw bad(
        kind === 'cpus'
          ? `Requested CPUs are not available - requested ${want}, available: ${available}`
          : `Requested memory nodes are not available - requested ${want}, available: ${available}`,
      );
    }
  }

  const weight = r.BlkioWeight ?? 0;
  if (weight > 0 && (weight < 10 || weight > 1000)) throw bad('Range of blkio weight is from 10 to 1000');
}

/**
 * `POST /containers/create`: validates the resource fields of HostConfig and applies dockerd's
 * defaults in place (adaptContainerSettings): swap defaults to twice the memory, a PidsLimit of
 * 0 or less means no limit.
 */
export function adaptCreateResources(hc: HostConfig): void {
  const r = readResources(hc);
  validateResources(r, false);
  if ((r.Memory ?? 0) > 0 && (r.MemorySwap ?? 0) === 0) hc.MemorySwap = r.Memory! * 2;
  if (typeof hc.PidsLimit === 'number' && hc.PidsLimit <= 0) hc.PidsLimit = null;
}

/** HostConfig → OCI `linux.resources` (moby's getMemoryResources/getCPUResources/getPidsLimit). */
export function ociResources(source: Record<string, unknown> | DockerResources): OciResources {
  const hc = readResources(source as Record<string, unknown>);
  const out: OciResources = {};
  const memory: NonNullable<OciResources['memory']> = {};
  if ((hc.Memory ?? 0) > 0) memory.limit = hc.Memory;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation;
  if ((hc.MemorySwap ?? 0) > 0 || hc.MemorySwap === -1) memory.swap = hc.MemorySwap;
  if (typeof hc.MemorySwappiness === 'number' && hc.MemorySwappiness >= 0) memory.swappiness = hc.MemorySwappiness;
  if (hc.OomKillDisable === true) memory.disableOOMKiller = true;
  if (Object.keys(memory).length > 0) out.memory = memory;

  const cpu: NonNullable<OciResources['cpu']> = {};
  if ((hc.CpuShares ?? 0) > 0) cpu.shares = hc.CpuShares;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if ((hc.NanoCpus ?? 0) > 0) {
    cpu.period = NANO_CPU_PERIOD;
    cpu.quota = Math.floor((hc.NanoCpus! * NANO_CPU_PERIOD) / 1e9);
  }
  if ((hc.CpuPeriod ?? 0) !== 0) cpu.period = hc.CpuPeriod;
  if ((hc.CpuQuota ?? 0) !== 0) cpu.quota = hc.CpuQuota;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  if (typeof hc.PidsLimit === 'number') out.pids = { limit: hc.PidsLimit > 0 ? hc.PidsLimit : -1 };
  if ((hc.BlkioWeight ?? 0) > 0) out.blockIO = { weight: hc.BlkioWeight };
  return out;
}

/** What `POST /containers/{id}/update` changes: the merged HostConfig and the runtime's input. */
export interface ResourceUpdate {
  hostConfig: HostConfig;
  /** Only what the request changes (runc keeps what is not mentioned). */
  resources: OciResources;
  restartChanged: boolean;
}

const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'];

function readRestartPolicy(body: Record<string, unknown>): { Name: string; MaximumRetryCount: number } | undefined {
  const p = body.RestartPolicy;
  if (p === undefined || p === null) return undefined;
  if (typeof p !== 'object' || Array.isArray(p)) throw new InvalidParameterError('RestartPolicy must be an object');
  const { Name, MaximumRetryCount } = p as Record<string, unknown>;
  const name = typeof Name === 'string' ? Name : '';
  if (name === '') return undefined;
  const count = typeof MaximumRetryCount === 'number' ? MaximumRetryCount : 0;
  if (!RESTART_POLICIES.includes(name)) throw new InvalidParameterError(`invalid restart policy '${name}'`);
  if (name === 'on-failure' && count < 0) throw new InvalidParameterError('maximum retry count cannot be negative');
  if (name !== 'on-failure' && count !== 0)
    throw new InvalidParameterError(`maximum retry count cannot be used with restart policy '${name}'`);
  return { Name: name, MaximumRetryCount: count };
}

/**
 * dockerd's ContainerUpdate: validates the body (400), then merges it into the stored
 * HostConfig the way container.UpdateContainer does (zero means "unchanged"; conflicts 409).
 */
export function planUpdate(id: string, current: HostConfig, body: unknown): ResourceUpdate {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new InvalidParameterError('update body must be a JSON object');
  const b = body as Record<string, unknown>;
  const r = readResources(b);
  validateResources(r, true);
  const restart = readRestartPolicy(b);
  const cur = readResources(current);
  const conflict = (msg: string) => new ConflictError(`Cannot update container ${id}: ${msg}`);
  const nano = r.NanoCpus ?? 0;
  if (nano > 0 && (cur.CpuPeriod ?? 0) > 0)
    throw conflict('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (nano > 0 && (cur.CpuQuota ?? 0) > 0)
    throw conflict('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if ((r.CpuPeriod ?? 0) > 0 && (cur.NanoCpus ?? 0) > 0)
    throw conflict('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if ((r.CpuQuota ?? 0) > 0 && (cur.NanoCpus ?? 0) > 0)
    throw conflict('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  const curSwap = cur.MemorySwap ?? 0;
  if ((r.Memory ?? 0) !== 0 && curSwap > 0 && r.Memory! > curSwap && (r.MemorySwap ?? 0) === 0)
    throw conflict(
      'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
    );
  if (restart && current.AutoRemove && restart.Name !== 'no')
    throw conflict('Restart policy cannot be updated because AutoRemove is enabled for the container');

  const hostConfig: HostConfig = { ...current };
  const changed: DockerResources = {};
  for (const k of [...INT_FIELDS, ...STRING_FIELDS] as const) {
    const v = r[k];
    if (v === undefined || v === 0 || v === '') continue;
    (hostConfig as Record<string, unknown>)[k] = v;
    (changed as Record<string, unknown>)[k] = v;
  }
  if (r.PidsLimit !== undefined && r.PidsLimit !== null) {
    hostConfig.PidsLimit = r.PidsLimit;
    changed.PidsLimit = r.PidsLimit;
  }
  if (restart) hostConfig.RestartPolicy = restart;
  const resources = ociResources(changed);
  // runc writes memory and swap in the order the kernel accepts only when it gets both.
  if (resources.memory?.limit !== undefined && resources.memory.swap === undefined) {
    const swap = readResources(hostConfig).MemorySwap ?? 0;
    if (swap > 0 || swap === -1) resources.memory.swap = swap;
  }
  return { hostConfig, resources, restartChanged: restart !== undefined };
}
