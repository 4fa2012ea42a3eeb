/**
 * The floors under the run benchmark, measured on the same machine in the same minute: the OCI
 * runtime alone running skiffd's own config.json for the image (`runc run`, no daemon, no conmon,
 * no CLI), and the docker CLI alone (`docker version` against skiffd: process start, ping, one
 * request). skiffd's `docker run` cannot be faster than their sum; the rest is skiffd's own.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dockerCli } from '../harness/paths.js';
import { run, runOk } from '../harness/proc.js';
import { fmt, timeDockerCli } from './run-bench.js';
import { summarize } from './stats.js';

export interface FloorTarget {
  dockerHost: string;
  /** skiffd's exec root: bundles are `<execRoot>/containers/<id>/config.json`. */
  execRoot: string;
  /** The OCI runtime binary skiffd runs (`runc`, `crun`). */
  runtime: string;
  /** An image skiffd has, to run the floor's config from. */
  image: string;
}

export interface Floor {
  name: string;
  /** Median wall time, ms. */
  median: number;
}

/** Wall times (ms) of `<runtime> run` on a copy of the config.json skiffd wrote for the image. */
async function runtimeRunFloor(t: FloorTarget, runs: number): Promise<number[]> {
  const env = { ...process.env, DOCKER_HOST: t.dockerHost };
  // A running container keeps its rootfs mounted and its /etc files in place for the copies.
  const id = (
    await runOk(dockerCli(), ['run', '-d', '--network', 'none', t.image, 'sleep', '600'], { env })
  ).stdout.trim();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-floor-'));
  try {
    const spec = JSON.parse(await readFile(path.join(t.execRoot, 'containers', id, 'config.json'), 'utf8')) as {
      process: { args: string[]; terminal?: boolean };
      linux: { cgroupsPath?: string };
    };
    spec.process.args = ['true'];
    spec.process.terminal = false;
    spec.linux.cgroupsPath = `/skiff-floor/${path.basename(dir)}`;
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(spec));
    const samples: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const t0 = process.hrtime.bigint();
      const r = await run(t.runtime, ['--root', path.join(dir, 'state'), 'run', '-b', dir, `floor-${i}`], {
        timeoutMs: 60_000,
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.code !== 0) throw new Error(`${t.runtime} run exited ${r.code}: ${r.stderr.trim()}`);
      if (i > 0) samples.push(ms);
    }
    return samples;
  } finally {
    await run(dockerCli(), ['rm', '-f', id], { env });
    await rm(dir, { recursive: true, force: true });
  }
}

/** The CLI's floor (`docker version` against the first skiffd), then each skiffd's runtime floor. */
export async function measureFloors(targets: readonly FloorTarget[], runs: number): Promise<Floor[]> {
  if (!targets[0]) return [];
  const cli = await timeDockerCli(targets[0].dockerHost, ['version'], { runs, warmups: 1 });
  const out = [{ name: 'docker version', median: summarize(cli).median }];
  for (const t of targets)
    out.push({ name: `${t.runtime} run`, median: summarize(await runtimeRunFloor(t, runs)).median });
  return out;
}

/** Prints the floors, each also as a ratio to dockerd's median (`what` names that run). */
export function printFloors(floors: readonly Floor[], dockerdMedian: number | undefined, what: string): void {
  if (!floors.length) return;
  console.log('\nfloors (no daemon work):  median');
  for (const f of floors) {
    const ratio = dockerdMedian ? ` = ${(f.median / dockerdMedian).toFixed(2)}x dockerd's ${what}` : '';
    console.log(`  ${f.name.padEnd(22)} ${fmt(f.median).padStart(8)}${ratio}`);
  }
}
