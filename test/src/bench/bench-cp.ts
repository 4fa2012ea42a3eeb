/**
 * The cp benchmark: wall time of `docker cp` of a 100 MiB directory (many files of mixed sizes in
 * nested directories) into a running container and back out, against skiffd and against a
 * private dockerd (the harness's dockerd peer, else BENCH_DOCKERD / the dockerd in PATH), with
 * the ratios skiffd/dockerd. BENCH_CP_RUNS (default 5) timed runs each way follow one warm-up;
 * the engines take turns.
 * A report, never a pass/fail threshold.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { docker } from '../harness/clients.js';
import { startDaemon } from '../harness/daemon.js';
import { DockerdPeerUnavailable, startDockerdPeer } from '../harness/dockerd-peer.js';
import { registryWithBusybox } from '../harness/fixture.js';
import { type Engine, findDockerd, fmt, pull, startDockerd, timeDockerCli } from './run-bench.js';
import { type Summary, summarize } from './stats.js';

const TOTAL = 100 * 1024 * 1024;

/**
 * Writes the tree: 60 directories two levels deep holding about 1300 files — mostly small ones
 * (1–16 KiB), every 8th 256 KiB, every 100th 4 MiB — up to 100 MiB of random (incompressible) bytes.
 */
async function makeTree(dir: string): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  let files = 0;
  const pool = randomBytes(4 * 1024 * 1024);
  for (let i = 0; bytes < TOTAL; i++) {
    const sub = path.join(dir, `d${i % 6}`, `e${i % 10}`);
    await mkdir(sub, { recursive: true });
    const want = i % 100 === 99 ? 4 * 1024 * 1024 : i % 8 === 7 ? 256 * 1024 : 1024 * (1 + ((i * 37) % 16));
    const size = Math.min(want, TOTAL - bytes);
    const off = (i * 7919) % (pool.length - size + 1);
    await writeFile(path.join(sub, `f${i}`), pool.subarray(off, off + size));
    bytes += size;
    files++;
  }
  return { files, bytes };
}

interface Result {
  name: string;
  into: Summary;
  out: Summary;
}

/** One engine with a running container to copy into and out of. */
interface Subject {
  engine: Engine;
  container: string;
  into: number[];
  out: number[];
  failed?: boolean;
}

async function prepare(engine: Engine, image: string): Promise<Subject> {
  await pull(engine, image);
  const container = `bench-cp-${randomBytes(4).toString('hex')}`;
  const r = await docker(['run', '-d', '--network', 'none', '--name', container, image, 'sleep', '3600'], {
    host: engine.dockerHost,
  });
  if (r.code !== 0) throw new Error(`docker run: ${r.stderr}`);
  return { engine, container, into: [], out: [] };
}

/** One timed `docker cp` in and one out (the tree is removed from the container first, untimed). */
async function once(s: Subject, tree: string, outDir: string, keep: boolean): Promise<void> {
  const host = s.engine.dockerHost;
  const r = await docker(['exec', s.container, 'rm', '-rf', '/tree'], { host });
  if (r.code !== 0) throw new Error(`docker exec rm: ${r.stderr}`);
  const [tIn] = await timeDockerCli(host, ['cp', tree, `${s.container}:/tree`], { runs: 1, warmups: 0 });
  const dest = path.join(outDir, `${s.container}-${s.into.length}`);
  const [tOut] = await timeDockerCli(host, ['cp', `${s.container}:/tree`, dest], { runs: 1, warmups: 0 });
  await rm(dest, { recursive: true, force: true });
  if (!keep) return;
  s.into.push(tIn!);
  s.out.push(tOut!);
}

/** The harness's dockerd peer, else a dockerd from BENCH_DOCKERD or PATH; undefined when there is none. */
async function startPeer(registryHost: string): Promise<Engine | undefined> {
  try {
    const peer = await startDockerdPeer({ insecureRegistries: [registryHost] });
    return { name: 'dockerd', dockerHost: peer.dockerHost, pid: peer.pid, output: peer.output, stop: peer.stop };
  } catch (e) {
    if (!(e instanceof DockerdPeerUnavailable)) throw e;
  }
  const bin = await findDockerd();
  return bin ? startDockerd(bin, registryHost) : undefined;
}

/**
 * Runs the benchmark and prints its report; false when skiffd failed. Both engines run side by
 * side and take turns (in alternating order), so a machine whose load changes during the run
 * weighs on both alike.
 */
export async function cpBenchmark(opts: { runs: number }): Promise<boolean> {
  const registry = await registryWithBusybox();
  const work = await mkdtemp(path.join(os.tmpdir(), 'skiff-bench-cp-'));
  const engines: Engine[] = [];
  const subjects: Subject[] = [];
  let failed = false;
  try {
    const tree = path.join(work, 'tree');
    const outDir = path.join(work, 'out');
    await mkdir(outDir);
    const { files, bytes } = await makeTree(tree);
    console.log(
      `bench cp: docker cp of a ${(bytes / 1024 ** 2).toFixed(0)} MiB directory (${files} files) into a running container and out — ${opts.runs} runs after 1 warm-up, engines taking turns`,
    );
    try {
      const d = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [registry.host] });
      const skiffd: Engine = {
        name: 'skiffd (overlay)',
        dockerHost: d.dockerHost,
        pid: d.pid,
        output: d.output,
        stop: async () => void (await d.stop()),
      };
      engines.push(skiffd);
      subjects.push(await prepare(skiffd, registry.image));
    } catch (e) {
      failed = true;
      console.error(`  skiffd: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      const peer = await startPeer(registry.host);
      if (!peer) console.log('  dockerd: not available; no side-by-side numbers');
      else {
        engines.push(peer);
        subjects.push(await prepare(peer, registry.image));
      }
    } catch (e) {
      console.error(`  dockerd: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (let i = 0; i <= opts.runs; i++) {
      const order = i % 2 === 0 ? subjects : [...subjects].reverse();
      for (const s of order) {
        if (s.failed) continue;
        try {
          await once(s, tree, outDir, i > 0);
        } catch (e) {
          if (s.engine.name !== 'dockerd') failed = true;
          console.error(`  ${s.engine.name}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
          console.error(s.engine.output().split('\n').slice(-30).join('\n'));
          s.failed = true;
        }
      }
    }
  } finally {
    for (const s of subjects) await docker(['rm', '-f', s.container], { host: s.engine.dockerHost });
    for (const e of engines) await e.stop().catch(() => {});
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }

  const results: Result[] = subjects
    .filter((s) => !s.failed && s.into.length > 0)
    .map((s) => ({ name: s.engine.name, into: summarize(s.into), out: summarize(s.out) }));
  console.log('\nengine               runs  in median   in p90  out median  out p90');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(20)} ${String(r.into.runs).padStart(4)} ${fmt(r.into.median).padStart(10)} ${fmt(r.into.p90).padStart(8)} ${fmt(r.out.median).padStart(11)} ${fmt(r.out.p90).padStart(8)}`,
    );
  }
  const base = results.find((r) => r.name === 'dockerd');
  if (base) {
    for (const r of results.filter((x) => x !== base)) {
      console.log(
        `ratio ${r.name}/dockerd: cp in ${(r.into.median / base.into.median).toFixed(2)}x, cp out ${(r.out.median / base.out.median).toFixed(2)}x (medians)`,
      );
    }
  }
  return !failed;
}
