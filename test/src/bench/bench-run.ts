/**
 * The run benchmark: median/p90 wall time of `docker run --rm --network none IMAGE true` against
 * skiffd (storage drivers from BENCH_DRIVERS, default overlay; with runc, the default runtime, and
 * with crun where it can run containers), and against a private dockerd when
 * one is installed, with the ratio skiffd/dockerd. BENCH_RUNS (default 20) timed runs follow 2
 * warm-ups, the engines taking turns run by run. A report, never a pass/fail threshold.
 */

import { crunOnThisHost } from '../harness/crun.js';
import { type StorageDriverName, startDaemon } from '../harness/daemon.js';
import { registryWithBusybox } from '../harness/fixture.js';
import { type Floor, type FloorTarget, measureFloors, printFloors } from './run-floor.js';
import { type Engine, findDockerd, fmt, pull, startDockerd, timeDockerCliInterleaved } from './run-bench.js';
import { type Summary, summarize } from './stats.js';

const warmups = 2;

/** Runs the benchmark and prints its report; false when an engine failed. */
export async function runBenchmark(opts: { runs: number; drivers: StorageDriverName[] }): Promise<boolean> {
  const { runs, drivers } = opts;
  const registry = await registryWithBusybox();
  const engines: Array<Engine & { floor?: FloorTarget }> = [];
  const results: Array<{ name: string; summary: Summary }> = [];
  let floors: Floor[] = [];
  let failed = false;
  try {
    console.log(
      `bench run: docker run --rm --network none ${registry.image} true — ${runs} runs after ${warmups} warm-ups, engines interleaved`,
    );
    const crun = crunOnThisHost();
    if (crun.state !== 'ok') console.log(`  skiffd with crun: not measured (crun ${crun.state} here)`);
    const runtimes = ['runc', ...(crun.state === 'ok' ? ['crun'] : [])];
    for (const [driver, runtime] of drivers.flatMap((d) => runtimes.map((r) => [d, r] as const))) {
      const name = `skiffd (${driver}${runtime === 'runc' ? '' : `, ${runtime}`})`;
      try {
        const d = await startDaemon({
          storageDriver: driver,
          insecureRegistries: [registry.host],
          defaultRuntime: runtime,
        });
        engines.push({
          name,
          dockerHost: d.dockerHost,
          pid: d.pid,
          output: d.output,
          stop: async () => void (await d.stop()),
          floor: { dockerHost: d.dockerHost, execRoot: d.execRoot, runtime, image: registry.image },
        });
      } catch (e) {
        failed = true;
        console.error(`  ${name}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const dockerd = await findDockerd();
    if (!dockerd) console.log('  dockerd: not installed (Debian docker.io); no side-by-side numbers');
    else {
      try {
        engines.push(await startDockerd(dockerd, registry.host));
      } catch (e) {
        console.error(`  dockerd: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    try {
      for (const engine of engines) await pull(engine, registry.image);
      const samples = await timeDockerCliInterleaved(
        engines.map((e) => e.dockerHost),
        ['run', '--rm', '--network', 'none', registry.image, 'true'],
        { runs, warmups },
      );
      engines.forEach((e, i) => results.push({ name: e.name, summary: summarize(samples[i]!) }));
      floors = await measureFloors(
        engines.flatMap((e) => (e.floor ? [e.floor] : [])),
        runs,
      );
    } catch (e) {
      failed = true;
      console.error(`  FAILED: ${e instanceof Error ? e.message : String(e)}`);
      for (const engine of engines)
        console.error(`${engine.name}:\n${engine.output().split('\n').slice(-30).join('\n')}`);
    }
  } finally {
    for (const engine of engines.reverse()) await engine.stop();
    await registry.stop();
  }

  console.log('\nengine                   runs   median      p90      min      max');
  for (const { name, summary: s } of results) {
    console.log(
      `${name.padEnd(24)} ${String(s.runs).padStart(4)} ${fmt(s.median).padStart(8)} ${fmt(s.p90).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}`,
    );
  }
  const base = results.find((r) => r.name === 'dockerd');
  if (base) {
    for (const r of results.filter((x) => x !== base)) {
      console.log(
        `ratio ${r.name}/dockerd: median ${(r.summary.median / base.summary.median).toFixed(2)}x, p90 ${(r.summary.p90 / base.summary.p90).toFixed(2)}x`,
      );
    }
  }
  // What skiffd's run cannot go below: the CLI's own cost plus the runtime running the same config.
  printFloors(floors, base?.summary.median, 'run');
  return !failed;
}
