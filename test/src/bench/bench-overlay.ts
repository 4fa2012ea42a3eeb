/**
 * The overlay benchmark (BENCH_ONLY=overlay): TCP throughput and round-trip latency between
 * containers on two skiff hosts over an overlay network, against the same between the two host
 * namespaces directly (the floor: the underlay alone). Hosts are network namespaces on a test
 * bridge with etcd on it (harness/overlay-hosts.ts), as in the e2e tests.
 *
 * The probe (tcp-probe.ts, node) runs in the containers' network namespaces (`nsenter --net`
 * on their init's /proc/<pid>/ns/net), so both paths are measured by the same program and no
 * tool has to be in the image. BENCH_OVERLAY_RUNS rounds (default 5), each one transfer of
 * BENCH_OVERLAY_MB MiB (default 256) and BENCH_OVERLAY_PINGS round trips (default 2000), the
 * two paths alternating. Reports medians and overlay/floor ratios against the issue's targets
 * (throughput ≥ 0.7×, latency ≤ 1.5×) — a report, never a threshold.
 */

import { fileURLToPath } from 'node:url';
import { startEtcd } from '@skiff/clusterstore-etcd/testing';
import { type NetnsDaemon, uid, uniqueSubnet } from '../harness/netns-daemon.js';
import { ipOn, overlayHost, pingOk, underlay, waitFor } from '../harness/overlay-hosts.js';
import { ManagedProcess } from '../harness/managed-process.js';
import { runOk, sleep } from '../harness/proc.js';
import { percentile } from './stats.js';

const PROBE = fileURLToPath(new URL('./tcp-probe.js', import.meta.url));
const PORT = 5201;

/** Where a probe runs and the address its peer reaches it at. */
interface End {
  netnsPath: string;
  address: string;
}

interface PathResult {
  mbps: number[];
  rtts: number[];
}

async function withServer<T>(server: End, fn: () => Promise<T>): Promise<T> {
  const p = new ManagedProcess('nsenter', [
    `--net=${server.netnsPath}`,
    process.execPath,
    PROBE,
    'server',
    String(PORT),
  ]);
  try {
    for (let i = 0; !p.output().includes('ready'); i++) {
      if (p.status || i > 200) throw new Error(`tcp-probe server did not start: ${p.output()}`);
      await sleep(50);
    }
    return await fn();
  } finally {
    await p.stop(5_000);
  }
}

async function probe(client: End, server: End, ...args: string[]): Promise<unknown> {
  const [mode, ...rest] = args;
  const r = await runOk(
    'nsenter',
    [`--net=${client.netnsPath}`, process.execPath, PROBE, mode!, server.address, String(PORT), ...rest],
    { timeoutMs: 300_000 },
  );
  return JSON.parse(r.stdout);
}

async function measure(client: End, server: End, into: PathResult, mib: number, pings: number): Promise<void> {
  await withServer(server, async () => {
    const tp = (await probe(client, server, 'throughput', String(mib))) as { bytes: number; ms: number };
    into.mbps.push((tp.bytes * 8) / 1e6 / (tp.ms / 1000));
    const lat = (await probe(client, server, 'latency', String(pings))) as { rtts: number[] };
    into.rtts.push(...lat.rtts);
  });
}

async function containerEnd(d: NetnsDaemon, name: string, net: string): Promise<End> {
  const pid = (await d.cli('inspect', '-f', '{{.State.Pid}}', name)).stdout.trim();
  if (!/^[1-9]\d*$/.test(pid)) throw new Error(`no pid for ${name}: ${pid}`);
  return { netnsPath: `/proc/${pid}/ns/net`, address: await ipOn(d, name, net) };
}

function env(name: string, fallback: number): number {
  const n = Number.parseInt(process.env[name] ?? String(fallback), 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

/** Runs the benchmark and prints its report; false when it failed. */
export async function overlayBenchmark(): Promise<boolean> {
  const runs = env('BENCH_OVERLAY_RUNS', 5);
  const mib = env('BENCH_OVERLAY_MB', 256);
  const pings = env('BENCH_OVERLAY_PINGS', 2000);
  console.log(
    `bench overlay: TCP between containers on two hosts over an overlay network vs the hosts directly — ${runs} rounds of ${mib} MiB and ${pings} round trips`,
  );
  const teardowns: (() => void | Promise<void>)[] = [];
  const t = { teardown: (fn: () => void | Promise<void>) => void teardowns.push(fn) };
  const floor: PathResult = { mbps: [], rtts: [] };
  const overlay: PathResult = { mbps: [], rtts: [] };
  let ok = true;
  try {
    const sw = await underlay(t);
    const etcd = await startEtcd({ host: sw.address, netns: sw.netns });
    t.teardown(() => etcd.stop());
    const [a, b] = await Promise.all([11, 12].map((n) => overlayHost(t, sw, n, { store: etcd.url })));
    const net = `bench-ov-${uid()}`;
    const created = await a.cli('network', 'create', '-d', 'overlay', '--subnet', uniqueSubnet().subnet, net);
    if (created.code !== 0) throw new Error(`docker network create: ${created.stderr}`);
    if (!(await waitFor(async () => (await b.cli('network', 'inspect', net)).code === 0, 60)))
      throw new Error('host B never saw the overlay network');
    const [ca, cb] = [`bench-a-${uid()}`, `bench-b-${uid()}`];
    for (const [d, c] of [
      [a, ca],
      [b, cb],
    ] as const) {
      const r = await d.cli('run', '-d', '--name', c, '--network', net, d.image, 'sleep', '3600');
      if (r.code !== 0) throw new Error(`docker run on ${d.netns}: ${r.stderr}`);
    }
    if (!(await waitFor(() => pingOk(a, ca, cb), 60))) throw new Error('the containers never reached each other');
    const hostEnd = (d: NetnsDaemon, n: number): End => ({
      netnsPath: `/run/netns/${d.netns}`,
      address: `${sw.prefix}.${n}`,
    });
    const [fromA, toB] = [await containerEnd(a, ca, net), await containerEnd(b, cb, net)];
    // One untimed round each to warm caches, neighbour entries and the JIT.
    await measure(hostEnd(a, 11), hostEnd(b, 12), { mbps: [], rtts: [] }, Math.min(mib, 32), 200);
    await measure(fromA, toB, { mbps: [], rtts: [] }, Math.min(mib, 32), 200);
    for (let i = 0; i < runs; i++) {
      await measure(hostEnd(a, 11), hostEnd(b, 12), floor, mib, pings);
      await measure(fromA, toB, overlay, mib, pings);
    }
  } catch (err) {
    ok = false;
    console.error(`  overlay: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => {});
  }
  if (!floor.mbps.length || !overlay.mbps.length) return false;
  const row = (name: string, r: PathResult) =>
    `${name.padEnd(22)} ${percentile(r.mbps, 50).toFixed(0).padStart(10)} ${percentile(r.rtts, 50).toFixed(1).padStart(12)} ${percentile(r.rtts, 99).toFixed(1).padStart(9)}`;
  console.log('\npath                   Mbit/s med  RTT med µs  RTT p99');
  console.log(row('host ns → host ns', floor));
  console.log(row('container → container', overlay));
  const tpRatio = percentile(overlay.mbps, 50) / percentile(floor.mbps, 50);
  const latRatio = percentile(overlay.rtts, 50) / percentile(floor.rtts, 50);
  console.log(`throughput overlay/floor: ${tpRatio.toFixed(2)}x (target ≥ 0.70x)`);
  console.log(`latency overlay/floor:    ${latRatio.toFixed(2)}x (target ≤ 1.50x, median RTT)`);
  return ok;
}
