import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api } from '../harness/api.js';
import { cleanupDirs } from '../harness/cleanup.js';
import { describeExit, ManagedProcess } from '../harness/managed-process.js';
import { dockerCli } from '../harness/paths.js';
import { run, runOk, sleep } from '../harness/proc.js';

export interface Engine {
  name: string;
  dockerHost: string;
  /** The daemon's process ID (for /proc/<pid>/status). */
  pid: number;
  stop(): Promise<void>;
  output(): string;
}

export const fmt = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;

/** Runs `docker <args>` against `host` `runs` times after `warmups` untimed runs; wall times in ms. */
export async function timeDockerCli(
  host: string,
  args: readonly string[],
  opts: { runs: number; warmups: number },
): Promise<number[]> {
  const config = await mkdtemp(path.join(os.tmpdir(), 'skiff-bench-cli-'));
  try {
    await writeFile(path.join(config, 'config.json'), '{}\n');
    const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: config };
    const samples: number[] = [];
    for (let i = 0; i < opts.warmups + opts.runs; i++) {
      const t0 = process.hrtime.bigint();
      const r = await run(dockerCli(), args, { env, timeoutMs: 120_000 });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      if (i >= opts.warmups) samples.push(ms);
    }
    return samples;
  } finally {
    await rm(config, { recursive: true, force: true });
  }
}

const SETTLE_MS = 200;

/**
 * Like timeDockerCli, for several engines at once: each round runs `args` once against every host,
 * in an order that alternates from round to round, so a machine that gets slower or faster during
 * the benchmark (other tenants, thermal limits) weighs on every engine alike and their ratio holds.
 * A pause after each run lets work an engine does after answering (skiffd tears a `--rm` container
 * down after releasing its waiters) finish before another engine is timed. Wall times in ms, one
 * array per host.
 */
export async function timeDockerCliInterleaved(
  hosts: readonly string[],
  args: readonly string[],
  opts: { runs: number; warmups: number },
): Promise<number[][]> {
  const config = await mkdtemp(path.join(os.tmpdir(), 'skiff-bench-cli-'));
  try {
    await writeFile(path.join(config, 'config.json'), '{}\n');
    const samples = hosts.map(() => [] as number[]);
    for (let i = 0; i < opts.warmups + opts.runs; i++) {
      const order = hosts.map((_, h) => h);
      if (i % 2) order.reverse();
      for (const h of order) {
        const env = { ...process.env, DOCKER_HOST: hosts[h], DOCKER_CONFIG: config };
        const t0 = process.hrtime.bigint();
        const r = await run(dockerCli(), args, { env, timeoutMs: 120_000 });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.code !== 0)
          throw new Error(`docker ${args.join(' ')} on ${hosts[h]} exited ${r.code}: ${r.stderr.trim()}`);
        if (i >= opts.warmups) samples[h]!.push(ms);
        await sleep(SETTLE_MS);
      }
    }
    return samples;
  } finally {
    await rm(config, { recursive: true, force: true });
  }
}

/** $BENCH_DOCKERD, else the dockerd in PATH (Debian docker.io), else undefined. */
export async function findDockerd(): Promise<string | undefined> {
  if (process.env.BENCH_DOCKERD) return path.resolve(process.env.BENCH_DOCKERD);
  const r = await run('sh', ['-c', 'command -v dockerd']);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * A private dockerd for side-by-side numbers: own data root, exec root (its managed containerd
 * lives there too), socket, pidfile and config, and no bridge or iptables rules, so it does not
 * touch the host's network or a system dockerd.
 */
export async function startDockerd(
  bin: string,
  insecureRegistry: string | undefined,
  opts: { netns?: string } = {},
): Promise<Engine> {
  const base = await mkdtemp('/tmp/skiff-dockerd-');
  const socket = path.join(base, 'docker.sock');
  await mkdir(path.join(base, 'data'));
  await writeFile(path.join(base, 'daemon.json'), '{}\n');
  const args = [
    '--config-file',
    path.join(base, 'daemon.json'),
    '--data-root',
    path.join(base, 'data'),
    '--exec-root',
    path.join(base, 'exec'),
    '--pidfile',
    path.join(base, 'docker.pid'),
    '-H',
    `unix://${socket}`,
    '--log-level=warn',
    // In the machine's namespace: no docker0, no iptables rules. In a namespace of its own: its defaults.
    ...(opts.netns ? [] : ['--bridge=none', '--iptables=false', '--ip-masq=false']),
    ...(insecureRegistry ? ['--insecure-registry', insecureRegistry] : []),
  ];
  const proc = new ManagedProcess(
    opts.netns ? 'nsenter' : bin,
    opts.netns ? [`--net=/run/netns/${opts.netns}`, bin, ...args] : args,
    {
      // containerd and docker-init are looked up in PATH: prefer the ones beside this dockerd
      // (e.g. an unpacked docker.io .deb: usr/sbin/dockerd, usr/bin/containerd).
      env: {
        ...process.env,
        PATH: [path.dirname(bin), path.resolve(path.dirname(bin), '../bin'), process.env.PATH].join(':'),
      },
    },
  );
  const engine: Engine = {
    name: 'dockerd',
    dockerHost: `unix://${socket}`,
    pid: proc.pid,
    output: () => proc.output(),
    stop: async () => {
      await proc.stop(30_000);
      await cleanupDirs([base]);
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.status) {
      const out = proc.output();
      await engine.stop();
      throw new Error(`dockerd exited (${describeExit(proc.status)}):\n${out}`);
    }
    const ok = await api(engine.dockerHost, 'GET', '/_ping', undefined, { timeoutMs: 5_000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return engine;
    if (Date.now() > deadline) {
      const out = proc.output();
      await engine.stop();
      throw new Error(`dockerd did not answer /_ping within 60 s:\n${out}`);
    }
    await sleep(100);
  }
}

/** `docker pull` through the engine (untimed preparation). */
export async function pull(engine: Engine, image: string): Promise<void> {
  const config = await mkdtemp(path.join(os.tmpdir(), 'skiff-bench-cli-'));
  try {
    await runOk(dockerCli(), ['pull', '-q', image], {
      env: { ...process.env, DOCKER_HOST: engine.dockerHost, DOCKER_CONFIG: config },
      timeoutMs: 300_000,
    });
  } finally {
    await rm(config, { recursive: true, force: true });
  }
}
