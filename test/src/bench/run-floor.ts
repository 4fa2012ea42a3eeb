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
import { timeDockerCli } from './run-bench.js';

interface FloorTarget {
  dockerHost: string;
  /** skiffd's exec root: bundles are `<execRoot>/containers/<id>/config.json`. */
  execRoot: string;
  /** The OCI runtime binary skiffd runs (`runc`, `crun`). */
  runtime: string;
}

/** Wall times (ms) of `<runtime> run` on a copy of the config.json skiffd wrote for `image`. */
export async function runtimeRunFloor(t: FloorTarget, image: string, runs: number): Promise<number[]> {
  const env = { ...process.env, DOCKER_HOST: t.dockerHost };
  // A running container keeps its rootfs mounted and its /etc files in place for the copies.
  const id = (
    await runOk(dockerCli(), ['run', '-d', '--network', 'none', image, 'sleep', '600'], { env })
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

/** Wall times (ms) of `docker version` against the engine: the CLI's own share of any command. */
export function cliFloor(dockerHost: string, runs: number): Promise<number[]> {
  return timeDockerCli(dockerHost, ['version'], { runs, warmups: 1 });
}
