// Derived container stats (the docker CLI's formulas) and their short history for the graphs.

export interface RawStats {
  read?: string;
  pids_stats?: { current?: number };
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }> | null;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
}

export interface DerivedStats {
  /** Milliseconds since the epoch of the sample. */
  time: number;
  cpuPercent: number;
  memUsage: number;
  memLimit: number;
  memPercent: number;
  netRx: number;
  netTx: number;
  blkRead: number;
  blkWrite: number;
  pids: number;
}

export function deriveStats(s: RawStats, fallbackTime: number): DerivedStats {
  const cpu = s.cpu_stats ?? {};
  const pre = s.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const sysDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const cpus = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  const cpuPercent = cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const mem = s.memory_stats ?? {};
  const ms = mem.stats ?? {};
  // docker CLI: usage minus inactive file cache (cgroup v1 total_inactive_file, v2 inactive_file).
  const cache = ms.total_inactive_file ?? ms.inactive_file ?? 0;
  const memUsage = Math.max(0, (mem.usage ?? 0) - (cache < (mem.usage ?? 0) ? cache : 0));
  const memLimit = mem.limit ?? 0;
  let netRx = 0;
  let netTx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    netRx += n.rx_bytes ?? 0;
    netTx += n.tx_bytes ?? 0;
  }
  let blkRead = 0;
  let blkWrite = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = (e.op ?? '').toLowerCase();
    if (op === 'read') blkRead += e.value ?? 0;
    else if (op === 'write') blkWrite += e.value ?? 0;
  }
  const parsed = s.read ? Date.parse(s.read) : Number.NaN;
  return {
    time: Number.isFinite(parsed) && parsed > 0 ? parsed : fallbackTime,
    cpuPercent,
    memUsage,
    memLimit,
    memPercent: memLimit > 0 ? (memUsage / memLimit) * 100 : 0,
    netRx,
    netTx,
    blkRead,
    blkWrite,
    pids: s.pids_stats?.current ?? 0,
  };
}

/** Per-second rate of a counter between two samples (0 on reset or no time passed). */
export function rate(prev: number, cur: number, ms: number): number {
  if (ms <= 0 || cur < prev) return 0;
  return ((cur - prev) * 1000) / ms;
}

export interface StatsHistory {
  samples: readonly DerivedStats[];
  cpu: readonly number[];
  mem: readonly number[];
  netRxRate: readonly number[];
  netTxRate: readonly number[];
  blkReadRate: readonly number[];
  blkWriteRate: readonly number[];
}

export const EMPTY_HISTORY: StatsHistory = {
  samples: [],
  cpu: [],
  mem: [],
  netRxRate: [],
  netTxRate: [],
  blkReadRate: [],
  blkWriteRate: [],
};

function push<T>(list: readonly T[], value: T, max: number): T[] {
  const next = [...list, value];
  if (next.length > max) next.splice(0, next.length - max);
  return next;
}

export function addSample(h: StatsHistory, s: DerivedStats, max = 120): StatsHistory {
  const prev = h.samples[h.samples.length - 1];
  const ms = prev ? s.time - prev.time : 0;
  return {
    samples: push(h.samples, s, 2),
    cpu: push(h.cpu, s.cpuPercent, max),
    mem: push(h.mem, s.memUsage, max),
    netRxRate: push(h.netRxRate, prev ? rate(prev.netRx, s.netRx, ms) : 0, max),
    netTxRate: push(h.netTxRate, prev ? rate(prev.netTx, s.netTx, ms) : 0, max),
    blkReadRate: push(h.blkReadRate, prev ? rate(prev.blkRead, s.blkRead, ms) : 0, max),
    blkWriteRate: push(h.blkWriteRate, prev ? rate(prev.blkWrite, s.blkWrite, ms) : 0, max),
  };
}

const BARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** The last `width` values as a sparkline scaled to [0, max] (max defaults to the largest value). */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  const shown = values.slice(-width);
  const top = max ?? Math.max(0, ...shown);
  const line = shown
    .map((v) => {
      if (top <= 0) return BARS[0];
      const i = Math.round((Math.max(0, Math.min(v, top)) / top) * (BARS.length - 1));
      return BARS[i];
    })
    .join('');
  return line.padStart(width, ' ');
}
