import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxRootfs } from '@skiff/core/testkit';
import type { ExecutionContext } from 'ava';
import { api, cleanupDirs, docker, ManagedProcess, run, runOk, skiffdBin, sleep } from './index.js';

/**
 * A skiffd that runs inside a network namespace of its own (networking tests never touch the
 * machine's namespace): bridges, veths, nft tables and published ports all live in there, and go
 * with it. Images come from `docker import` of a busybox rootfs (the test registry listens on the
 * host's loopback, which this namespace cannot reach).
 */
export interface NetnsDaemon {
  /** `ip netns` name; `/run/netns/<name>`. */
  netns: string;
  host: string;
  image: string;
  root: string;
  execRoot: string;
  cli(...args: string[]): ReturnType<typeof docker>;
  /** Runs a host binary inside the daemon's namespace. */
  inNs(cmd: string, args: string[], opts?: { stdin?: string; timeoutMs?: number }): ReturnType<typeof run>;
  output(): string;
  /** kill -9 and start again on the same directories (crash recovery). */
  crashAndRestart(): Promise<void>;
  /** kill -9 only (the namespace and its containers stay); `relaunch()` starts it again, with `config` replacing daemon.json's keys it names. */
  crash(): Promise<void>;
  relaunch(config?: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export const uid = () => randomBytes(4).toString('hex');

/** A /24 unlikely to collide with another test's: 10.<100-199>.<0-255>.0/24. */
export function uniqueSubnet(): { subnet: string; prefix: string } {
  const prefix = `10.${randomInt(100, 200)}.${randomInt(0, 256)}`;
  return { subnet: `${prefix}.0/24`, prefix };
}

async function ping(host: string): Promise<boolean> {
  try {
    return (await api(host, 'GET', '/_ping', undefined, { timeoutMs: 5_000 })).status === 200;
  } catch {
    return false;
  }
}

export async function startNetnsDaemon(
  t: Pick<ExecutionContext, 'teardown'>,
  opts: {
    config?: Record<string, unknown>;
    /** Runs once the namespace exists, before skiffd starts in it (e.g. to wire an underlay). */
    beforeStart?: (netns: string) => Promise<void>;
  } = {},
): Promise<NetnsDaemon> {
  const netns = `skiff-t-${uid()}`;
  await runOk('ip', ['netns', 'add', netns]);
  await runOk('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  const base = await mkdtemp(join(tmpdir().length <= 40 ? tmpdir() : '/tmp', 'skf-n-'));
  const root = join(base, 'root');
  const execRoot = join(base, 'run');
  const socket = join(base, 'd.sock');
  const configFile = join(base, 'daemon.json');
  // No DNS upstreams: names a network does not know fail at once, and no query leaves the machine.
  const config = { 'plugin-config': { '@skiff/net-bridge': { dnsUpstreams: [] } }, ...opts.config };
  await writeFile(configFile, JSON.stringify(config));
  const host = `unix://${socket}`;
  const args = [
    `--net=/run/netns/${netns}`,
    skiffdBin,
    '--config-file',
    configFile,
    '--root',
    root,
    '--exec-root',
    execRoot,
    '-H',
    host,
    '--storage-driver',
    'overlay',
  ];
  let proc: ManagedProcess;
  const launch = async () => {
    proc = new ManagedProcess('nsenter', args);
    for (let i = 0; !(await ping(host)); i++) {
      if (proc.status || i > 1200) throw new Error(`skiffd in ${netns} did not start:\n${proc.output()}`);
      await sleep(50);
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // Containers first (their endpoints and published ports), then the daemon, then the namespace.
      const ids = (await docker(['ps', '-aq'], { host }).catch(() => ({ stdout: '' }))).stdout
        .split('\n')
        .filter(Boolean);
      if (ids.length) await docker(['rm', '-f', ...ids], { host }).catch(() => {});
      await proc.stop(30_000);
      await cleanupDirs([base]);
      await run('ip', ['netns', 'del', netns]);
    })());
  t.teardown(stop);
  await opts.beforeStart?.(netns);
  await launch();
  const cli = (...a: string[]) => docker(a, { host, timeoutMs: 120_000 });
  const image = `bb-${uid()}`;
  const rootfs = join(base, 'img');
  await mkdir(rootfs, { recursive: true });
  await busyboxRootfs(rootfs);
  await runOk('tar', ['-C', rootfs, '-cf', join(base, 'img.tar'), '.']);
  await rm(rootfs, { recursive: true, force: true });
  const imported = await cli('import', '-c', 'ENV PATH=/bin', join(base, 'img.tar'), image);
  if (imported.code !== 0) throw new Error(`docker import failed: ${imported.stderr}`);
  return {
    netns,
    host,
    image,
    root,
    execRoot,
    cli,
    inNs: (cmd, a, o = {}) => run('nsenter', [`--net=/run/netns/${netns}`, cmd, ...a], o),
    output: () => proc.output(),
    crashAndRestart: async () => {
      process.kill(proc.pid, 'SIGKILL');
      await proc.exited;
      await launch();
    },
    crash: async () => {
      process.kill(proc.pid, 'SIGKILL');
      await proc.exited;
    },
    relaunch: async (more) => {
      if (more) await writeFile(configFile, JSON.stringify({ ...config, ...more }));
      await launch();
    },
    stop,
  };
}
