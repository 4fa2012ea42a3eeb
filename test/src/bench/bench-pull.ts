/**
 * The pull benchmark: wall time of `docker pull` of an image with five 16 MiB random layers from
 * a local registry, against skiffd (storage drivers from BENCH_DRIVERS), a private dockerd when
 * one is installed, and `skopeo copy` to a directory (the floor: download and verify only).
 * Every sample uses a fresh daemon, so nothing is cached and skiffd's peak RSS (VmHWM) covers
 * exactly one start and one pull. BENCH_PULL_RUNS (default 5) samples after one warm-up.
 * Reports medians and their ratios; never a pass/fail threshold.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type StorageDriverName, startDaemon } from '../harness/daemon.js';
import { pushImageSpec, randomLayer } from '../harness/image-builder.js';
import { run } from '../harness/proc.js';
import { startRegistry } from '../harness/registry.js';
import { type Engine, findDockerd, fmt, startDockerd, timeDockerCli } from './run-bench.js';
import { type Summary, summarize } from './stats.js';

const LAYERS = 5;
const LAYER_BYTES = 16 * 1024 * 1024;
const warmups = 1;

/** Peak resident set size of a live process in bytes (VmHWM), or NaN when unreadable. */
async function peakRss(pid: number): Promise<number> {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

interface Result {
  name: string;
  time: Summary;
  rss?: Summary;
}

/** Samples `docker pull image` against a fresh engine each time. */
async function measureEngine(start: () => Promise<Engine>, image: string, runs: number): Promise<Result> {
  const times: number[] = [];
  const rss: number[] = [];
  let name = '';
  for (let i = 0; i < warmups + runs; i++) {
    const engine = await start();
    name = engine.name;
    try {
      const [ms] = await timeDockerCli(engine.dockerHost, ['pull', image], { runs: 1, warmups: 0 });
      const peak = await peakRss(engine.pid);
      if (i >= warmups) {
        times.push(ms!);
        rss.push(peak);
      }
    } catch (e) {
      console.error(engine.output().split('\n').slice(-30).join('\n'));
      throw e;
    } finally {
      await engine.stop();
    }
  }
  return { name, time: summarize(times), rss: summarize(rss) };
}

async function measureSkopeo(image: string, runs: number): Promise<Result> {
  const times: number[] = [];
  for (let i = 0; i < warmups + runs; i++) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-bench-skopeo-'));
    try {
      const t0 = process.hrtime.bigint();
      const r = await run(
        'skopeo',
        ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${image}`, `dir:${dir}/img`],
        { timeoutMs: 300_000 },
      );
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.code !== 0) throw new Error(`skopeo copy exited ${r.code}: ${r.stderr.trim()}`);
      if (i >= warmups) times.push(ms);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { name: 'skopeo copy (dir:)', time: summarize(times) };
}

/** Runs the benchmark and prints its report; false when an engine failed. */
export async function pullBenchmark(opts: { runs: number; drivers: StorageDriverName[] }): Promise<boolean> {
  const { runs, drivers } = opts;
  const registry = await startRegistry();
  const image = `${registry.host}/bench/pull:latest`;
  const results: Result[] = [];
  let failed = false;
  try {
    const layers = Array.from({ length: LAYERS }, (_, i) =>
      randomLayer(`layer${i}.bin`, LAYER_BYTES, 'gzip', 'docker'),
    );
    await pushImageSpec(registry.host, 'bench/pull', 'latest', { layers, format: 'docker' });
    console.log(
      `bench pull: docker pull ${image} (${LAYERS} × ${mib(LAYER_BYTES)} random layers) — ${runs} runs after ${warmups} warm-up, fresh daemon each`,
    );

    const attempt = async (label: string, fn: () => Promise<Result>, critical: boolean) => {
      try {
        const r = await fn();
        results.push(r);
        const rss = r.rss ? `, peak RSS median ${mib(r.rss.median)} (max ${mib(r.rss.max)})` : '';
        console.log(`  ${r.name}: median ${fmt(r.time.median)}, p90 ${fmt(r.time.p90)}${rss}`);
      } catch (e) {
        if (critical) failed = true;
        console.error(`  ${label}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      }
    };

    for (const driver of drivers) {
      const start = async (): Promise<Engine> => {
        const d = await startDaemon({ storageDriver: driver, insecureRegistries: [registry.host] });
        return {
          name: `skiffd (${driver})`,
          dockerHost: d.dockerHost,
          pid: d.pid,
          output: d.output,
          stop: async () => void (await d.stop()),
        };
      };
      await attempt(`skiffd (${driver})`, () => measureEngine(start, image, runs), true);
    }
    const dockerd = await findDockerd();
    if (dockerd)
      await attempt('dockerd', () => measureEngine(() => startDockerd(dockerd, registry.host), image, runs), false);
    else console.log('  dockerd: not installed (Debian docker.io); no side-by-side numbers');
    await attempt('skopeo', () => measureSkopeo(image, runs), false);
  } finally {
    await registry.stop();
  }

  console.log('\nengine               runs   median      p90      min      max  peak RSS (median)');
  for (const { name, time: s, rss } of results) {
    console.log(
      `${name.padEnd(20)} ${String(s.runs).padStart(4)} ${fmt(s.median).padStart(8)} ${fmt(s.p90).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}  ${rss ? mib(rss.median) : '-'}`,
    );
  }
  for (const baseName of ['dockerd', 'skopeo copy (dir:)']) {
    const base = results.find((r) => r.name === baseName);
    if (!base) continue;
    for (const r of results.filter((x) => x.name.startsWith('skiffd'))) {
      console.log(`ratio ${r.name}/${baseName}: median ${(r.time.median / base.time.median).toFixed(2)}x`);
    }
  }
  return !failed;
}
