import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/** One mounted cgroup hierarchy, from /proc/self/mountinfo. */
export interface Hierarchy {
  /** The hierarchy's directory that is mounted (`/` unless a subtree is bind-mounted). */
  root: string;
  mountPoint: string;
  /** v1: the controllers (and `name=…`) in its super options; v2: empty. */
  controllers: string[];
  v2: boolean;
}

/** The directories of one task's cgroup: per v1 controller, and the unified (v2) one. */
export interface TaskCgroup {
  version: 1 | 2;
  /** v1 controller name → directory. */
  v1: Map<string, string>;
  /** The unified hierarchy's directory (v2 hosts; also present on hybrid hosts). */
  unified?: string;
}

/** Resource usage in the shape of Docker's stats (the parts a cgroup and the host know). */
export interface TaskStats {
  read: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, BlkioEntry[] | null>;
  cpu_stats: {
    cpu_usage: {
      total_usage: number;
      percpu_usage?: number[];
      usage_in_kernelmode: number;
      usage_in_usermode: number;
    };
    system_cpu_usage?: number;
    online_cpus?: number;
    throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory_stats: {
    usage?: number;
    max_usage?: number;
    stats?: Record<string, number>;
    failcnt?: number;
    limit?: number;
  };
  networks?: Record<string, NetworkStats>;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** `\040`-style escapes in mountinfo paths. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function parseMountinfo(text: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const root = unescape(left[3] ?? '/');
    const mountPoint = unescape(left[4] ?? '');
    if (!mountPoint) continue;
    const v2 = fstype === 'cgroup2';
    const controllers = v2 ? [] : superOpts.split(',').filter((o) => !['rw', 'ro'].includes(o) && !o.includes('='));
    for (const o of superOpts.split(',')) if (o.startsWith('name=')) controllers.push(o);
    out.push({ root, mountPoint, controllers, v2 });
  }
  return out;
}

/** `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path` per line (`0::path` for v2). */
export function parseProcCgroup(text: string): Array<{ controllers: string[]; path: string }> {
  const out: Array<{ controllers: string[]; path: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    out.push({ controllers: m[2] ? m[2].split(',') : [], path: m[3]! });
  }
  return out;
}

/** A cgroup path as seen in /proc/<pid>/cgroup, under a hierarchy's mount point. */
function under(h: Hierarchy, path: string): string {
  if (h.root !== '/' && (path === h.root || path.startsWith(`${h.root}/`)))
    return join(h.mountPoint, path.slice(h.root.length));
  return join(h.mountPoint, path);
}

/** Resolves the cgroup directories of a process from the mount table and its /proc/<pid>/cgroup. */
export function resolveCgroup(hierarchies: Hierarchy[], procCgroup: string): TaskCgroup {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const entry of parseProcCgroup(procCgroup)) {
    if (entry.controllers.length === 0) {
      const h = hierarchies.find((x) => x.v2);
      if (h) unified = under(h, entry.path);
      continue;
    }
    const h = hierarchies.find((x) => !x.v2 && entry.controllers.every((c) => x.controllers.includes(c)));
    if (!h) continue;
    for (const c of entry.controllers) v1.set(c, under(h, entry.path));
  }
  // A hybrid host (v1 controllers plus an almost empty unified tree) is read as v1.
  return { version: v1.has('memory') || v1.has('cpuacct') ? 1 : 2, v1, unified };
}

/** The memory cgroup directory of a live process (v1's memory hierarchy, else the unified one). */
export function memoryCgroupOf(pid: number, hierarchies: Hierarchy[]): string | undefined {
  const cg = resolveCgroup(hierarchies, readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  return cg.version === 1 ? cg.v1.get('memory') : cg.unified;
}

/** How many processes the kernel's OOM killer has killed in a memory cgroup (v1 and v2 spell it alike). */
export function oomKills(memoryCgroup: string): number {
  const read = (file: string) => {
    try {
      return readFileSync(join(memoryCgroup, file), 'utf8');
    } catch {
      return undefined;
    }
  };
  return parseKeyValues(read('memory.oom_control') ?? read('memory.events')).oom_kill ?? 0;
}

export async function taskCgroup(pid: number): Promise<TaskCgroup> {
  const [mountinfo, procCgroup] = await Promise.all([
    readFile('/proc/self/mountinfo', 'utf8'),
    readFile(`/proc/${pid}/cgroup`, 'utf8'),
  ]);
  return resolveCgroup(parseMountinfo(mountinfo), procCgroup);
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A file holding one number (`max` reads as undefined). */
async function readNum(file: string): Promise<number | undefined> {
  const t = (await readText(file))?.trim();
  if (t === undefined || !/^-?\d+$/.test(t)) return undefined;
  return Number(t);
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat, memory.events). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** blkio (v1) `MAJ:MIN Op value` lines; the trailing `Total N` line is not an entry. */
export function parseBlkio(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** io.stat (v2): `MAJ:MIN rbytes=… wbytes=… rios=… wios=…` → Docker's read/write entries. */
export function parseIoStat(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const kv: Record<string, number> = {};
    for (const part of m[3]!.split(/\s+/)) {
      const [k, v] = part.split('=');
      if (k && v && /^\d+$/.test(v)) kv[k] = Number(v);
    }
    const [major, minor] = [Number(m[1]), Number(m[2])];
    bytes.push(
      { major, minor, op: 'read', value: kv.rbytes ?? 0 },
      { major, minor, op: 'write', value: kv.wbytes ?? 0 },
    );
    ios.push({ major, minor, op: 'read', value: kv.rios ?? 0 }, { major, minor, op: 'write', value: kv.wios ?? 0 });
  }
  return { bytes, ios };
}

/** The keys dockerd reports from a v1 memory.stat (the rest of the file is left out). */
const V1_MEMORY_KEYS = [
  'cache',
  'rss',
  'rss_huge',
  'mapped_file',
  'dirty',
  'writeback',
  'pgpgin',
  'pgpgout',
  'pgfault',
  'pgmajfault',
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
];

/** The keys dockerd reports from a v2 memory.stat. */
const V2_MEMORY_KEYS = [
  'anon',
  'file',
  'kernel_stack',
  'slab',
  'sock',
  'shmem',
  'file_mapped',
  'file_dirty',
  'file_writeback',
  'anon_thp',
  'inactive_anon',
  'active_anon',
  'inactive_file',
  'active_file',
  'unevictable',
  'slab_reclaimable',
  'slab_unreclaimable',
  'pgfault',
  'pgmajfault',
  'workingset_refault',
  'workingset_activate',
  'workingset_nodereclaim',
  'pgrefill',
  'pgscan',
  'pgsteal',
  'pgactivate',
  'pgdeactivate',
  'pglazyfree',
  'pglazyfreed',
  'thp_fault_alloc',
  'thp_collapse_alloc',
];

function pick(raw: Record<string, number>, keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = raw[k] ?? 0;
  return out;
}

/** Nanoseconds per USER_HZ tick (cpuacct.stat counts ticks; Linux's USER_HZ is 100). */
const NS_PER_TICK = 10_000_000;

/** Host CPU time in ns (the `cpu` line of /proc/stat, as dockerd sums it) and the online CPUs. */
export function parseProcStat(text: string): { systemUsage: number; onlineCpus: number } {
  let systemUsage = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'cpu') {
      // user nice system idle iowait irq softirq (dockerd's sum; steal and guest are left out).
      systemUsage = fields.slice(1, 8).reduce((a, f) => a + Number(f), 0) * NS_PER_TICK;
    } else if (/^cpu\d+$/.test(fields[0] ?? '')) onlineCpus++;
  }
  return { systemUsage, onlineCpus };
}

/** /proc/<pid>/net/dev, without the loopback (dockerd reports the container's endpoints only). */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out[m[1]!] = {
      rx_bytes: f[0]!,
      rx_packets: f[1]!,
      rx_errors: f[2]!,
      rx_dropped: f[3]!,
      tx_bytes: f[8]!,
      tx_packets: f[9]!,
      tx_errors: f[10]!,
      tx_dropped: f[11]!,
    };
  }
  return out;
}

async function readV1(cg: TaskCgroup): Promise<Omit<TaskStats, 'read' | 'networks'>> {
  const dir = (c: string) => cg.v1.get(c);
  const at = (c: string, f: string) => {
    const d = dir(c);
    return d ? join(d, f) : '/nonexistent';
  };
  const [usage, percpu, cpuacctStat, cpuStat, memUsage, memMax, memFail, memLimit, memStat, pidsCur, pidsMax] =
    await Promise.all([
      readNum(at('cpuacct', 'cpuacct.usage')),
      readText(at('cpuacct', 'cpuacct.usage_percpu')),
      readText(at('cpuacct', 'cpuacct.stat')),
      readText(at('cpu', 'cpu.stat')),
      readNum(at('memory', 'memory.usage_in_bytes')),
      readNum(at('memory', 'memory.max_usage_in_bytes')),
      readNum(at('memory', 'memory.failcnt')),
      readNum(at('memory', 'memory.limit_in_bytes')),
      readText(at('memory', 'memory.stat')),
      readNum(at('pids', 'pids.current')),
      readNum(at('pids', 'pids.max')),
    ]);
  const [ioBytes, ioServiced] = await Promise.all([
    readText(at('blkio', 'blkio.throttle.io_service_bytes_recursive')),
    readText(at('blkio', 'blkio.throttle.io_serviced_recursive')),
  ]);
  const ticks = parseKeyValues(cpuacctStat);
  const throttle = parseKeyValues(cpuStat);
  const rawMem = parseKeyValues(memStat);
  const stats: Record<string, number> = {
    ...pick(rawMem, V1_MEMORY_KEYS),
    hierarchical_memory_limit: rawMem.hierarchical_memory_limit ?? 0,
    hierarchical_memsw_limit: rawMem.hierarchical_memsw_limit ?? 0,
  };
  for (const k of V1_MEMORY_KEYS) stats[`total_${k}`] = rawMem[`total_${k}`] ?? 0;
  const perCpu = (percpu ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return {
    pids_stats: { current: pidsCur, limit: pidsMax },
    blkio_stats: {
      io_service_bytes_recursive: parseBlkio(ioBytes),
      io_serviced_recursive: parseBlkio(ioServiced),
      io_queue_recursive: [],
      io_service_time_recursive: [],
      io_wait_time_recursive: [],
      io_merged_recursive: [],
      io_time_recursive: [],
      sectors_recursive: [],
    },
    cpu_stats: {
      cpu_usage: {
        total_usage: usage ?? 0,
        ...(perCpu.length > 0 ? { percpu_usage: perCpu } : {}),
        usage_in_kernelmode: (ticks.system ?? 0) * NS_PER_TICK,
        usage_in_usermode: (ticks.user ?? 0) * NS_PER_TICK,
      },
      throttling_data: {
        periods: throttle.nr_periods ?? 0,
        throttled_periods: throttle.nr_throttled ?? 0,
        throttled_time: throttle.throttled_time ?? 0,
      },
    },
    memory_stats: { usage: memUsage, max_usage: memMax, stats, failcnt: memFail, limit: memLimit },
  };
}

async function readV2(cg: TaskCgroup): Promise<Omit<TaskStats, 'read' | 'networks'>> {
  const d = cg.unified ?? '/nonexistent';
  const [cpuStat, memCur, memMax, memStat, memEvents, pidsCur, pidsMax, ioStat] = await Promise.all([
    readText(join(d, 'cpu.stat')),
    readNum(join(d, 'memory.current')),
    readNum(join(d, 'memory.max')),
    readText(join(d, 'memory.stat')),
    readText(join(d, 'memory.events')),
    readNum(join(d, 'pids.current')),
    readNum(join(d, 'pids.max')),
    readText(join(d, 'io.stat')),
  ]);
  const cpu = parseKeyValues(cpuStat);
  const io = parseIoStat(ioStat);
  return {
    pids_stats: { current: pidsCur, limit: pidsMax },
    blkio_stats: {
      io_service_bytes_recursive: io.bytes,
      io_serviced_recursive: io.ios,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    cpu_stats: {
      cpu_usage: {
        total_usage: (cpu.usage_usec ?? 0) * 1000,
        usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000,
        usage_in_usermode: (cpu.user_usec ?? 0) * 1000,
      },
      throttling_data: {
        periods: cpu.nr_periods ?? 0,
        throttled_periods: cpu.nr_throttled ?? 0,
        throttled_time: (cpu.throttled_usec ?? 0) * 1000,
      },
    },
    memory_stats: {
      usage: memCur,
      stats: pick(parseKeyValues(memStat), V2_MEMORY_KEYS),
      // dockerd reports memory.events' `oom` as the failure count on v2.
      failcnt: parseKeyValues(memEvents).oom,
      // `max` (no limit) reads as undefined; the machine's memory stands in for it below.
      limit: memMax ?? Number.MAX_SAFE_INTEGER,
    },
  };
}

/** Whether `pid` has a network namespace of its own (not the host's). */
async function privateNetns(pid: number): Promise<boolean> {
  try {
    const [mine, theirs] = await Promise.all([readlink('/proc/self/ns/net'), readlink(`/proc/${pid}/ns/net`)]);
    return mine !== theirs;
  } catch {
    return false;
  }
}

/** Samples a task's cgroup (v1 or v2), the host's CPU time and the task's network interfaces. */
export async function readTaskStats(pid: number, cg?: TaskCgroup): Promise<TaskStats> {
  const group = cg ?? (await taskCgroup(pid));
  const read = new Date().toISOString();
  const [base, procStat, netDev, ownNetns] = await Promise.all([
    group.version === 1 ? readV1(group) : readV2(group),
    readText('/proc/stat'),
    readText(`/proc/${pid}/net/dev`),
    privateNetns(pid),
  ]);
  const host = parseProcStat(procStat ?? '');
  const out: TaskStats = { read, ...base };
  // Go's field order: cpu_usage, system_cpu_usage, online_cpus, throttling_data.
  out.cpu_stats = {
    cpu_usage: base.cpu_stats.cpu_usage,
    system_cpu_usage: host.systemUsage,
    online_cpus: host.onlineCpus || cpus().length,
    throttling_data: base.cpu_stats.throttling_data,
  };
  // An unlimited cgroup reports a huge limit; dockerd shows the machine's memory instead.
  const machine = totalmem();
  if (out.memory_stats.limit === undefined || out.memory_stats.limit > machine) out.memory_stats.limit = machine;
  if (ownNetns && netDev) {
    const nets = parseNetDev(netDev);
    if (Object.keys(nets).length > 0) out.networks = nets;
  }
  return out;
}

/** Every process in the cgroup and its descendants (pids, or memory/freezer on v1; the unified dir on v2). */
export async function cgroupPids(cg: TaskCgroup): Promise<number[]> {
  const dir =
    cg.version === 1 ? (cg.v1.get('pids') ?? cg.v1.get('memory') ?? cg.v1.get('freezer') ?? cg.unified) : cg.unified;
  if (!dir) return [];
  const out = new Set<number>();
  const walk = async (d: string): Promise<void> => {
    for (const p of ((await readText(join(d, 'cgroup.procs'))) ?? '').split('\n'))
      if (/^\d+$/.test(p)) out.add(Number(p));
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => walk(join(d, e.name))));
  };
  await walk(dir);
  return [...out].sort((a, b) => a - b);
}
