/**
 * The build benchmark: `docker build` of a 10-step Dockerfile (RUN, COPY, WORKDIR and metadata
 * steps), cold (`--no-cache`) and fully cached, against skiffd's classic builder and the dockerd
 * peer's (harness/dockerd-peer.ts) when one is available; medians and the skiffd/dockerd ratios.
 * BENCH_BUILD_RUNS (default 5) timed builds of each kind follow one warm-up. A report, never a
 * pass/fail threshold.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../harness/daemon.js';
import { DockerdPeerUnavailable, pullIntoPeer, startDockerdPeer } from '../harness/dockerd-peer.js';
import { registryWithBusybox } from '../harness/fixture.js';
import { type Engine, fmt, pull, timeDockerCli } from './run-bench.js';
import { type Summary, summarize } from './stats.js';

const dockerfile = (image: string) => `FROM ${image}
ENV GREETING=hello
RUN echo one > /one
COPY f1.txt /f1.txt
RUN echo two > /two
WORKDIR /app
COPY f2.txt .
RUN cat /f1.txt f2.txt > /app/cat
LABEL bench=build
CMD ["cat", "/app/cat"]
`;

interface Result {
  name: string;
  cold: Summary;
  cached: Summary;
}

async function measure(engine: Engine, image: string, ctx: string, runs: number): Promise<Result> {
  await pull(engine, image);
  const tag = `bench-build:${Date.now()}`;
  const cold = summarize(
    await timeDockerCli(engine.dockerHost, ['build', '-q', '--no-cache', '-t', tag, ctx], { runs, warmups: 1 }),
  );
  const cached = summarize(
    await timeDockerCli(engine.dockerHost, ['build', '-q', '-t', tag, ctx], { runs, warmups: 1 }),
  );
  return { name: engine.name, cold, cached };
}

/** Runs the benchmark and prints its report; false when an engine failed. */
export async function buildBenchmark(opts: { runs: number }): Promise<boolean> {
  const { runs } = opts;
  const registry = await registryWithBusybox();
  const ctx = await mkdtemp(join(tmpdir(), 'skiff-bench-build-'));
  const results: Result[] = [];
  let failed = false;
  try {
    await writeFile(join(ctx, 'Dockerfile'), dockerfile(registry.image));
    await writeFile(join(ctx, 'f1.txt'), 'first file\n');
    await writeFile(join(ctx, 'f2.txt'), 'second file\n'.repeat(1000));
    console.log(`bench build: 10-step Dockerfile, cold (--no-cache) and cached — ${runs} builds each after a warm-up`);

    let skiff: Engine | undefined;
    try {
      const d = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [registry.host] });
      skiff = {
        name: 'skiffd (overlay)',
        dockerHost: d.dockerHost,
        pid: d.pid,
        output: d.output,
        stop: async () => void (await d.stop()),
      };
      const r = await measure(skiff, registry.image, ctx, runs);
      results.push(r);
      console.log(`  ${r.name}: cold median ${fmt(r.cold.median)}, cached median ${fmt(r.cached.median)}`);
    } catch (e) {
      failed = true;
      console.error(`  skiffd: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      if (skiff) console.error(skiff.output().split('\n').slice(-30).join('\n'));
    } finally {
      await skiff?.stop();
    }

    try {
      const peer = await startDockerdPeer({ insecureRegistries: [registry.host] });
      try {
        await pullIntoPeer(peer, registry.image);
        const engine: Engine = {
          name: 'dockerd',
          dockerHost: peer.dockerHost,
          pid: peer.pid,
          output: peer.output,
          stop: peer.stop,
        };
        const r = await measure(engine, registry.image, ctx, runs);
        results.push(r);
        console.log(`  dockerd: cold median ${fmt(r.cold.median)}, cached median ${fmt(r.cached.median)}`);
      } finally {
        await peer.stop();
      }
    } catch (e) {
      if (e instanceof DockerdPeerUnavailable) console.log(`  dockerd: not available (${e.message})`);
      else console.error(`  dockerd: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
  } finally {
    await rm(ctx, { recursive: true, force: true });
    await registry.stop();
  }

  console.log('\nengine               kind    runs   median      p90      min      max');
  for (const r of results) {
    for (const [kind, s] of [
      ['cold', r.cold],
      ['cached', r.cached],
    ] as const) {
      console.log(
        `${r.name.padEnd(20)} ${kind.padEnd(7)} ${String(s.runs).padStart(4)} ${fmt(s.median).padStart(8)} ${fmt(s.p90).padStart(8)} ${fmt(s.min).padStart(8)} ${fmt(s.max).padStart(8)}`,
      );
    }
  }
  const base = results.find((r) => r.name === 'dockerd');
  if (base) {
    for (const r of results.filter((x) => x !== base)) {
      console.log(
        `ratio ${r.name}/dockerd: cold median ${(r.cold.median / base.cold.median).toFixed(2)}x (target ≤ 1.0x), cached median ${(r.cached.median / base.cached.median).toFixed(2)}x (target ≤ 0.5x)`,
      );
    }
  }
  return !failed;
}
