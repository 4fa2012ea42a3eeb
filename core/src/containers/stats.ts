import { setTimeout as sleep } from 'node:timers/promises';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** How often dockerd's stats collector samples (and a stream emits). */
export const STATS_INTERVAL_MS = 1000;

/** What one look at a container gives: its runtime's sample, or why there is none. */
export type StatsSample =
  | { kind: 'running'; stats: Record<string, unknown> }
  | { kind: 'stopped' }
  /** The container is gone: a stream ends. */
  | { kind: 'gone' };

function zeroCpu(): Record<string, unknown> {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

function zeroBlkio(): Record<string, null> {
  const out: Record<string, null> = {};
  for (const k of [
    'io_service_bytes_recursive',
    'io_serviced_recursive',
    'io_queue_recursive',
    'io_service_time_recursive',
    'io_wait_time_recursive',
    'io_merged_recursive',
    'io_time_recursive',
    'sectors_recursive',
  ])
    out[k] = null;
  return out;
}

/** Docker's StatsJSON with its keys in dockerd's order; absent parts are Go's zero values. */
function frame(
  name: string,
  id: string,
  s: Record<string, unknown> | undefined,
  pre: { read: string; cpu: Record<string, unknown> },
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    read: s?.read ?? ZERO_TIME,
    preread: pre.read,
    pids_stats: s?.pids_stats ?? {},
    blkio_stats: s?.blkio_stats ?? zeroBlkio(),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: s?.cpu_stats ?? zeroCpu(),
    precpu_stats: pre.cpu,
    memory_stats: s?.memory_stats ?? {},
    name,
    id,
  };
  if (s?.networks) out.networks = s.networks;
  return out;
}

export interface StatsOptions {
  name: string;
  id: string;
  /** One object per second until the client goes or the container is removed. */
  stream: boolean;
  /** With `stream=false`: answer at once, without the second sample that fills `precpu_stats`. */
  oneShot: boolean;
  signal: AbortSignal;
  intervalMs?: number;
}

/**
 * dockerd's ContainerStats: `precpu_stats`/`preread` carry the previous sample, so a single
 * answer (`stream=false`) samples twice, one interval apart, unless `one-shot` is set. A
 * container that is not running gives Go's zero-valued stats with its name and id.
 */
export async function* statsFrames(
  sample: () => Promise<StatsSample>,
  opts: StatsOptions,
): AsyncGenerator<Record<string, unknown>> {
  const interval = opts.intervalMs ?? STATS_INTERVAL_MS;
  let pre = { read: ZERO_TIME, cpu: zeroCpu() };
  let primed = opts.stream || opts.oneShot;
  for (;;) {
    if (opts.signal.aborted) return;
    const s = await sample();
    if (s.kind === 'gone') return;
    if (s.kind === 'stopped') {
      yield frame(opts.name, opts.id, undefined, { read: ZERO_TIME, cpu: zeroCpu() });
      if (!opts.stream) return;
    } else {
      const out = frame(opts.name, opts.id, s.stats, pre);
      pre = {
        read: String(s.stats.read ?? ZERO_TIME),
        cpu: (s.stats.cpu_stats as Record<string, unknown>) ?? zeroCpu(),
      };
      if (primed) {
        yield out;
        if (!opts.stream) return;
      }
      primed = true;
    }
    try {
      await sleep(interval, undefined, { signal: opts.signal });
    } catch {
      return;
    }
  }
}
