/**
 * The footprint benchmark, per engine (skiffd on the first BENCH_DRIVERS driver, and a private
 * dockerd when installed): idle RSS of the engine's process tree; wall time of N `docker run -d`
 * started concurrently; the engine's growth per running container (daemon plus monitors, not the
 * containers' own processes), as RSS and as PSS (N monitors share one copy of their binary and
 * libraries; RSS counts it N times); and the median latency of `docker ps -a` with M containers.
 * BENCH_CONCURRENT (default 50) and BENCH_PS_CONTAINERS (default 500). A report, never a threshold.
 */

import { readdir, readFile } from 'node:fs/promises';
import { docker } from '../harness/clients.js';
import { type StorageDriverName, startDaemon } from '../harness/daemon.js';
import { registryWithBusybox } from '../harness/fixture.js';
import { nodeFloorMiB } from './node-floor.js';
import { type Engine, findDockerd, fmt, pull, startDockerd, timeDockerCli } from './run-bench.js';
import { summarize } from './stats.js';

const CONTAINER_COMMAND = 'sleep';

interface ProcessInfo {
  ppid: number;
  rssKiB: number;
  /** Proportional set size: shared pages (libraries, the binary) split among the processes mapping them. */
  pssKiB: number;
  comm: string;
}

/** pid → its memory and parent, for every process on the host. */
async function processTable(): Promise<Map<number, ProcessInfo>> {
  const out = new Map<number, ProcessInfo>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    if (!status) continue;
    const rollup = await readFile(`/proc/${name}/smaps_rollup`, 'utf8').catch(() => '');
    out.set(Number(name), {
      ppid: Number(field('PPid') ?? 0),
      rssKiB: Number(field('VmRSS') ?? 0),
      pssKiB: Number(/^Pss:\s*(\d+)/m.exec(rollup)?.[1] ?? 0),
      comm: field('Name') ?? '',
    });
  }
  return out;
}

/**
 * RSS (MiB) of the engine — `root` and its descendants — and of the container monitors (the
 * parents of the containers' processes: conmon for skiffd, containerd-shim for dockerd, which
 * daemonizes out of the engine's tree), never counting the containers' own processes.
 */
async function footprintMiB(root: number): Promise<Memory> {
  const table = await processTable();
  const monitors = new Set<number>();
  for (const p of table.values()) if (p.comm === CONTAINER_COMMAND && table.has(p.ppid)) monitors.add(p.ppid);
  const children = new Map<number, number[]>();
  for (const [pid, p] of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const engine = { rss: 0, pss: 0 };
  const walk = (pid: number) => {
    const p = table.get(pid);
    if (!p || p.comm === CONTAINER_COMMAND || monitors.has(pid)) return;
    engine.rss += p.rssKiB;
    engine.pss += p.pssKiB;
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  const sum = (f: (p: ProcessInfo) => number) => [...monitors].reduce((n, pid) => n + f(table.get(pid)!), 0) / 1024;
  return {
    engine: engine.rss / 1024,
    enginePss: engine.pss / 1024,
    monitors: sum((p) => p.rssKiB),
    monitorsPss: sum((p) => p.pssKiB),
  };
}

interface Memory {
  engine: number;
  enginePss: number;
  monitors: number;
  monitorsPss: number;
}

interface Footprint {
  name: string;
  idleMiB: number;
  concurrentMs: number;
  perContainerMiB: number;
  /** The same, counting shared pages proportionally (what the machine really pays). */
  perContainerPssMiB: number;
  psMedianMs: number;
}

async function measure(engine: Engine, image: string, concurrent: number, psContainers: number): Promise<Footprint> {
  await pull(engine, image);
  await new Promise((r) => setTimeout(r, 2000));
  const idle = await footprintMiB(engine.pid);
  const idleMiB = idle.engine;
  const host = engine.dockerHost;
  const t0 = performance.now();
  const started = await Promise.all(
    Array.from({ length: concurrent }, () =>
      docker(['run', '-d', '--network', 'none', image, CONTAINER_COMMAND, '600'], { host, timeoutMs: 300_000 }),
    ),
  );
  const concurrentMs = performance.now() - t0;
  const failed = started.filter((r) => r.code !== 0);
  if (failed.length) throw new Error(`${failed.length} of ${concurrent} runs failed: ${failed[0]!.stderr.trim()}`);
  await new Promise((r) => setTimeout(r, 2000));
  const busy = await footprintMiB(engine.pid);
  const perContainerMiB = (busy.engine - idle.engine + busy.monitors) / concurrent;
  const perContainerPssMiB = (busy.enginePss - idle.enginePss + busy.monitorsPss) / concurrent;

  for (let made = concurrent; made < psContainers; made += 10) {
    const batch = Math.min(10, psContainers - made);
    const created = await Promise.all(
      Array.from({ length: batch }, () => docker(['create', '--network', 'none', image, 'true'], { host })),
    );
    const bad = created.find((r) => r.code !== 0);
    if (bad) throw new Error(`docker create failed: ${bad.stderr.trim()}`);
  }
  const ps = summarize(await timeDockerCli(host, ['ps', '-a'], { runs: 10, warmups: 2 }));
  return { name: engine.name, idleMiB, concurrentMs, perContainerMiB, perContainerPssMiB, psMedianMs: ps.median };
}

/** Runs the benchmark and prints its report; false when an engine failed. */
export async function footprintBenchmark(opts: {
  concurrent: number;
  psContainers: number;
  drivers: StorageDriverName[];
}): Promise<boolean> {
  const { concurrent, psContainers } = opts;
  const driver = opts.drivers[0] ?? 'overlay';
  const registry = await registryWithBusybox();
  const results: Footprint[] = [];
  let failed = false;
  console.log(
    `bench footprint: idle RSS, ${concurrent} concurrent docker run -d, growth per running container, docker ps -a with ${psContainers} containers`,
  );
  const engines: Array<{ name: string; start: () => Promise<Engine> }> = [
    {
      name: `skiffd (${driver})`,
      start: async () => {
        const d = await startDaemon({ storageDriver: driver, insecureRegistries: [registry.host] });
        return {
          name: `skiffd (${driver})`,
          dockerHost: d.dockerHost,
          pid: d.pid,
          output: d.output,
          stop: async () => void (await d.stop()),
        };
      },
    },
  ];
  console.log(
    `  node floor (bin/skiffd's node and flags, Fastify + inversify + node:sqlite + a spawn, no skiff code): ${(await nodeFloorMiB()).toFixed(1)} MiB`,
  );
  const dockerd = await findDockerd();
  if (dockerd) engines.push({ name: 'dockerd', start: () => startDockerd(dockerd, registry.host) });
  else console.log('  dockerd: not installed (Debian docker.io); no side-by-side numbers');
  try {
    for (const e of engines) {
      let engine: Engine | undefined;
      try {
        engine = await e.start();
        const f = await measure(engine, registry.image, concurrent, psContainers);
        results.push(f);
        console.log(
          `  ${f.name}: idle ${f.idleMiB.toFixed(1)} MiB, ${concurrent} concurrent runs ${fmt(f.concurrentMs)}, ` +
            `per running container ${f.perContainerMiB.toFixed(2)} MiB RSS / ${f.perContainerPssMiB.toFixed(2)} MiB PSS, ps -a ${fmt(f.psMedianMs)}`,
        );
      } catch (err) {
        failed = true;
        console.error(`  ${e.name}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await engine?.stop();
      }
    }
  } finally {
    await registry.stop();
  }
  const base = results.find((r) => r.name === 'dockerd');
  if (base) {
    for (const r of results.filter((x) => x !== base)) {
      console.log(
        `ratio ${r.name}/dockerd: idle RSS ${(r.idleMiB / base.idleMiB).toFixed(2)}x, concurrent runs ${(r.concurrentMs / base.concurrentMs).toFixed(2)}x, ` +
          `per container ${(r.perContainerMiB / base.perContainerMiB).toFixed(2)}x RSS / ${(r.perContainerPssMiB / base.perContainerPssMiB).toFixed(2)}x PSS, ps -a ${(r.psMedianMs / base.psMedianMs).toFixed(2)}x`,
      );
    }
  }
  return !failed;
}
