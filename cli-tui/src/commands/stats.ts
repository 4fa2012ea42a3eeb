// skiff stats: live resource usage per container, computed like docker's stats collector,
// as a table redrawn every half second (or once with --no-stream).

import type { IncomingMessage } from 'node:http';
import { readJSONStream } from '../api/json-stream.js';
import { StatusError } from '../cli/errors.js';
import { FormatError, formatList } from '../format/table-format.js';
import { templateStruct } from '../format/template.js';
import { truncateId } from '../format/text.js';
import { bytesSize, humanSizeWithPrecision } from '../format/units.js';
import { containerPath } from './container-ops.js';
import type { Command, CommandContext } from './types.js';

/** The parts of GET /containers/{id}/stats that docker's CLI reads. */
export interface StatsResponse {
  id?: string;
  name?: string;
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
  pids_stats?: { current?: number };
}

interface CpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

export interface StatsEntry {
  container: string;
  name: string;
  id: string;
  cpuPercentage: number;
  memory: number;
  memoryLimit: number;
  memoryPercentage: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pidsCurrent: number;
  isInvalid: boolean;
}

/** calculateCPUPercentUnix */
function cpuPercent(v: StatsResponse): number {
  const cpuDelta = (v.cpu_stats?.cpu_usage?.total_usage ?? 0) - (v.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (v.cpu_stats?.system_cpu_usage ?? 0) - (v.precpu_stats?.system_cpu_usage ?? 0);
  let online = v.cpu_stats?.online_cpus ?? 0;
  if (online === 0) online = v.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** calculateMemUsageUnixNoCache: usage minus the inactive file cache (cgroup v1 or v2 key). */
function memUsage(mem: NonNullable<StatsResponse['memory_stats']>): number {
  const usage = mem.usage ?? 0;
  const v1 = mem.stats?.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = mem.stats?.inactive_file ?? 0;
  return v2 < usage ? usage - v2 : usage;
}

export function statsEntry(container: string, v: StatsResponse): StatsEntry {
  const mem = v.memory_stats ?? {};
  const memory = memUsage(mem);
  const limit = mem.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(v.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  let read = 0;
  let write = 0;
  for (const e of v.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = (e.op ?? '').toLowerCase();
    if (op === 'read') read += e.value ?? 0;
    else if (op === 'write') write += e.value ?? 0;
  }
  return {
    container,
    name: v.name ?? '',
    id: v.id ?? '',
    cpuPercentage: cpuPercent(v),
    memory,
    memoryLimit: limit,
    memoryPercentage: limit !== 0 ? (memory / limit) * 100 : 0,
    networkRx: rx,
    networkTx: tx,
    blockRead: read,
    blockWrite: write,
    pidsCurrent: v.pids_stats?.current ?? 0,
    isInvalid: false,
  };
}

export const STATS_HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

export const DEFAULT_STATS_TABLE =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

const pct = (n: number): string => `${n.toFixed(2)}%`;
const pair = (a: number, b: number): string => `${humanSizeWithPrecision(a, 3)} / ${humanSizeWithPrecision(b, 3)}`;

/** docker's statsContext. */
export function statsContext(e: StatsEntry, trunc: boolean): object {
  const invalid = e.isInvalid;
  return templateStruct('*formatter.statsContext', {
    BlockIO: () => (invalid ? '--' : pair(e.blockRead, e.blockWrite)),
    CPUPerc: () => (invalid ? '--' : pct(e.cpuPercentage)),
    Container: () => e.container,
    ID: () => (trunc ? truncateId(e.id) : e.id),
    MemPerc: () => (invalid ? '--' : pct(e.memoryPercentage)),
    MemUsage: () => (invalid ? '-- / --' : `${bytesSize(e.memory)} / ${bytesSize(e.memoryLimit)}`),
    Name: () => (e.name.length > 1 ? e.name.slice(1) : '--'),
    NetIO: () => (invalid ? '--' : pair(e.networkRx, e.networkTx)),
    PIDs: () => (invalid ? '--' : String(e.pidsCurrent)),
  });
}

interface Target {
  /** What the user typed (or the ID when listing). */
  label: string;
  id: string;
}

function emptyEntry(t: Target, invalid: boolean): StatsEntry {
  return {
    container: t.label,
    name: '',
    id: t.id,
    cpuPercentage: 0,
    memory: 0,
    memoryLimit: 0,
    memoryPercentage: 0,
    networkRx: 0,
    networkTx: 0,
    blockRead: 0,
    blockWrite: 0,
    pidsCurrent: 0,
    isInvalid: invalid,
  };
}

async function targets(ctx: CommandContext, refs: readonly string[], all: boolean): Promise<Target[]> {
  if (refs.length === 0) {
    const list = await ctx.client.json<{ Id: string }[]>('GET', '/containers/json', { query: { all } });
    return list.map((c) => ({ label: c.Id, id: c.Id }));
  }
  return Promise.all(
    refs.map(async (ref) => {
      const c = await ctx.client.json<{ Id: string }>('GET', containerPath(ref, '/json'));
      return { label: ref, id: c.Id };
    }),
  );
}

function render(ctx: CommandContext, entries: StatsEntry[], format: string | undefined, trunc: boolean): string {
  try {
    return formatList(
      entries.map((e) => statsContext(e, trunc)),
      { format, defaultTable: DEFAULT_STATS_TABLE },
      STATS_HEADERS,
    );
  } catch (err) {
    if (err instanceof FormatError) throw new StatusError(1, err.message);
    throw err;
  }
}

export const statsCommand: Command = {
  name: 'stats',
  usage: 'stats [OPTIONS] [CONTAINER...]',
  summary: 'Display a live stream of container(s) resource usage statistics',
  interspersed: true,
  args: {},
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    {
      name: 'format',
      type: 'string',
      description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'",
    },
    { name: 'no-stream', type: 'bool', description: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  ],
  async run(ctx, { flags, args }) {
    const format = flags.format as string | undefined;
    const trunc = flags['no-trunc'] !== true;
    const all = flags.all === true;
    if (flags['no-stream'] === true) {
      const list = await targets(ctx, args, all);
      const entries = await Promise.all(
        list.map(async (t) => {
          try {
            const v = await ctx.client.json<StatsResponse>('GET', containerPath(t.id, '/stats'), {
              query: { stream: '0' },
            });
            return statsEntry(t.label, v);
          } catch {
            return emptyEntry(t, true);
          }
        }),
      );
      ctx.streams.stdout.write(render(ctx, entries, format, trunc));
      return 0;
    }
    return streamStats(ctx, args, all, format, trunc);
  },
};

interface ContainerEvent {
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string };
}

interface Slot {
  res?: IncomingMessage;
  entry: StatsEntry;
  target: Target;
}

/** One stats stream per shown container; the table is redrawn on a 500 ms tick until interrupted. */
async function streamStats(
  ctx: CommandContext,
  refs: readonly string[],
  all: boolean,
  format: string | undefined,
  trunc: boolean,
): Promise<number> {
  const streams = new Map<string, Slot>();
  let stopped = false;
  const follow = (t: Target): Promise<void> => {
    let first: () => void = () => {};
    const firstSample = new Promise<void>((resolve) => {
      first = resolve;
    });
    const slot: Slot = { entry: emptyEntry(t, false), target: t };
    streams.set(t.id, slot);
    void (async () => {
      try {
        const res = await ctx.client.stream('GET', containerPath(t.id, '/stats'), { query: { stream: true } });
        slot.res = res;
        if (stopped) res.destroy();
        for await (const v of readJSONStream<StatsResponse>(res)) {
          slot.entry = statsEntry(t.label, v);
          first();
        }
      } catch {
        slot.entry = { ...slot.entry, isInvalid: true };
      }
      first();
    })();
    // Like docker's collector: a container silent for 2 s is shown without data rather than waited for.
    return Promise.race([firstSample, new Promise<void>((r) => setTimeout(r, 2000).unref())]);
  };
  // Without names the set follows the containers through the daemon's events (subscribed before
  // listing, so no start is missed), as docker does: start adds, die removes (destroy with -a).
  let events: IncomingMessage | undefined;
  if (refs.length === 0) {
    events = await ctx.client.stream('GET', '/events', {
      query: { filters: JSON.stringify({ type: { container: true } }) },
    });
    const source = events;
    void (async () => {
      try {
        for await (const e of readJSONStream<ContainerEvent>(source)) {
          const id = e.Actor?.ID ?? e.id;
          const action = e.Action ?? e.status;
          if (!id || !action || stopped) continue;
          if (action === 'start' || (all && action === 'create')) {
            if (!streams.has(id)) void follow({ label: id, id });
          } else if (action === 'destroy' || (!all && action === 'die')) {
            streams.get(id)?.res?.destroy();
            streams.delete(id);
          }
        }
      } catch {
        // the events stream ended: the set stays as it is
      }
    })();
  }
  // The first table waits for every container's first sample, as docker's does.
  await Promise.all((await targets(ctx, refs, all)).filter((t) => !streams.has(t.id)).map(follow));
  let wake: () => void = () => {};
  const stop = (): void => {
    stopped = true;
    wake();
  };
  ctx.hooks.on('SIGINT', stop);
  ctx.hooks.on('SIGTERM', stop);
  const clear = ctx.streams.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
  try {
    while (!stopped) {
      const entries = [...streams.values()].map((s) => s.entry);
      ctx.streams.stdout.write(clear + render(ctx, entries, format, trunc));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 500);
      });
    }
  } finally {
    ctx.hooks.off('SIGINT', stop);
    ctx.hooks.off('SIGTERM', stop);
    events?.destroy();
    for (const s of streams.values()) s.res?.destroy();
  }
  return 0;
}
