/**
 * The network-attach benchmark (BENCH_ONLY=netattach): what a bridge endpoint costs a container
 * start and removal — BridgeDriver.attach + detach of one endpoint (veth pair, addresses and
 * default route inside the container namespace), median over BENCH_NETATTACH_RUNS (default 50)
 * after 5 warm-ups. The budget: attach + detach ≤ 15 ms over `--network none`.
 *
 * Everything runs inside namespaces made for the run: the driver (rtnetlink, nftables, DNS
 * server, as skiffd runs it) in a worker started with `ip netns exec <host-ns>`; the same loop
 * with the `ip -batch` backend runs in this process for comparison. A report, never a threshold.
 */

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlink } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AttachRequest, NetworkDriver, NetworkSpec } from '@skiff/core/plugin-api';
import { NftablesFirewall } from '@skiff/firewall-nftables';
import { BridgeDriver } from '@skiff/net-bridge';
import { type Summary, summarize } from './stats.js';

const sh = promisify(execFile);
const warmups = 5;

interface Samples {
  attach: number[];
  detach: number[];
  total: number[];
}

/** A process in a new network namespace, as a container's init (the namespace dies with it). */
async function containerProcess(): Promise<{ netns: string; exit(): Promise<void> }> {
  const child = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // unshare enters the new namespace after it started: wait until it has.
  const own = await readlink('/proc/self/ns/net');
  while ((await readlink(`/proc/${child.pid}/ns/net`)) === own) await new Promise((r) => setTimeout(r, 1));
  return {
    netns: `/proc/${child.pid}/ns/net`,
    exit: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/**
 * The measured loop: one network; attach/detach `runs + warmups` times. `ctrNetns` given: the same
 * live namespace each time (`docker network disconnect`); else a fresh process per round whose
 * namespace is gone by the time detach runs (`docker run --rm`).
 */
async function loop(driver: NetworkDriver, ctrNetns: string | undefined, runs: number): Promise<Samples> {
  const spec: NetworkSpec = {
    id: randomBytes(32).toString('hex'),
    name: `bench-${randomBytes(3).toString('hex')}`,
    driver: 'bridge',
    internal: false,
    ipv6: false,
    options: {},
    labels: {},
  };
  await driver.createNetwork(spec, [{ poolId: 'bench', subnet: '10.240.0.0/24', gateway: '10.240.0.1' }]);
  const out: Samples = { attach: [], detach: [], total: [] };
  try {
    for (let i = 0; i < runs + warmups; i++) {
      const proc = ctrNetns ? undefined : await containerProcess();
      const req: AttachRequest = {
        endpointId: randomBytes(32).toString('hex'),
        containerId: randomBytes(32).toString('hex'),
        dnsNames: [`c${i}`],
        network: spec,
        netnsPath: ctrNetns ?? proc!.netns,
        ifName: 'eth0',
        addresses: [`10.240.0.${2 + (i % 200)}/24`],
        gateway: '10.240.0.1',
        ports: [],
        aliases: [],
        options: {},
      };
      const t0 = performance.now();
      const result = await driver.attach(req);
      let t1 = performance.now();
      if (proc) {
        const gap = performance.now();
        await proc.exit();
        t1 += performance.now() - gap;
      }
      await driver.detach(req, result);
      const t2 = performance.now();
      if (i < warmups) continue;
      out.attach.push(t1 - t0);
      out.detach.push(t2 - t1);
      out.total.push(t2 - t0);
    }
  } finally {
    await driver.deleteNetwork(spec);
  }
  return out;
}

/** Worker mode: `node bench-netattach.js --worker <ctr-netns> <runs>` inside the host namespace. */
async function worker(ctrNetns: string, runs: number): Promise<void> {
  const firewall = new NftablesFirewall({ table: 'skiff_bench' });
  const driver = new BridgeDriver({ firewall, dnsUpstreams: [] });
  const live = await loop(driver, ctrNetns, runs);
  const exited = await loop(driver, undefined, runs);
  await driver.close();
  await firewall.teardown();
  process.stdout.write(JSON.stringify({ live, exited }));
}

async function inWorker(hostNs: string, ctrNetns: string, runs: number): Promise<{ live: Samples; exited: Samples }> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', hostNs, process.execPath, self, '--worker', ctrNetns, String(runs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as { live: Samples; exited: Samples })
        : reject(new Error(`worker exit ${code}`)),
    );
  });
}

const fmt = (ms: number) => `${ms.toFixed(2).padStart(7)} ms`;

function report(name: string, s: Samples): void {
  const rows: Array<[string, Summary]> = [
    ['attach', summarize(s.attach)],
    ['detach', summarize(s.detach)],
    ['attach+detach', summarize(s.total)],
  ];
  console.log(`  ${name}`);
  for (const [what, x] of rows)
    console.log(
      `    ${what.padEnd(14)} median ${fmt(x.median)}  p90 ${fmt(x.p90)}  min ${fmt(x.min)}  max ${fmt(x.max)}`,
    );
}

/** Runs the benchmark and prints its report; false when it failed. */
export async function netattachBenchmark(opts: { runs: number }): Promise<boolean> {
  const id = randomBytes(3).toString('hex');
  const hostNs = `skiff-bench-h-${id}`;
  const ctrNs = `skiff-bench-c-${id}`;
  console.log(`bench netattach: bridge attach + detach of one endpoint — ${opts.runs} runs after ${warmups} warm-ups`);
  try {
    await sh('ip', ['netns', 'add', hostNs]);
    await sh('ip', ['netns', 'add', ctrNs]);
    await sh('ip', ['-n', hostNs, 'link', 'set', 'lo', 'up']);
    const rt = await inWorker(hostNs, `/run/netns/${ctrNs}`, opts.runs);
    report('rtnetlink backend (as skiffd runs it), live namespace (network connect/disconnect)', rt.live);
    report('rtnetlink backend, detach after the container exited (docker run --rm)', rt.exited);
    const firewall = new NftablesFirewall({ netns: `/run/netns/${hostNs}`, table: 'skiff_bench_ip' });
    const ip = await loop(
      new BridgeDriver({ firewall, netns: `/run/netns/${hostNs}`, dnsUpstreams: [] }),
      `/run/netns/${ctrNs}`,
      opts.runs,
    );
    report('ip -batch backend (host namespace reached through nsenter), live namespace', ip);
    const budget = summarize(rt.exited.total).median;
    console.log(
      `\n  docker run --rm path: attach+detach median ${fmt(budget)} — issue budget 15 ms over --network none`,
    );
    return true;
  } catch (e) {
    console.error(`  FAILED: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  } finally {
    await sh('ip', ['netns', 'del', ctrNs]).catch(() => {});
    await sh('ip', ['netns', 'del', hostNs]).catch(() => {});
  }
}

if (process.argv[2] === '--worker') await worker(process.argv[3]!, Number(process.argv[4]));
