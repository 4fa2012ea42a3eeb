/**
 * The vm benchmark (BENCH_ONLY=vm): `docker run --rm --runtime vm IMAGE true`, boot to exit, with
 * the accelerator the runtime picks (KVM when a guest boots under it, else TCG). Reports the
 * median and p90 of the CLI's wall time (BENCH_VM_RUNS, default 10, after 1 warm-up), and a
 * breakdown measured on the runtime directly (the same VM path without the daemon):
 *   - host:    create until qemu is launched (conmon, the OCI shim, virtiofsd)
 *   - qemu:    qemu launch until the guest kernel's clock starts (qemu, firmware, decompression)
 *   - kernel:  kernel boot until the agent (PID 1) runs
 *   - agent:   modules, virtio-fs mount, cgroup, until the process is started
 *   - process: the process itself (`true`)
 *   - exit:    from the process's exit until wait() returns (power-off, qemu and conmon exit)
 * A report, never a threshold (the targets: under 3 s with TCG, under 300 ms with KVM).
 */

import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { busyboxRootfs } from '@skiff/core/testkit';
import { DEFAULT_ASSETS_DIR, defaultFirmware, findAssets, VmRuntime } from '@skiff/runtime-vm';
import { startDaemon } from '../harness/daemon.js';
import { registryWithBusybox } from '../harness/fixture.js';
import { fmt, pull, timeDockerCli } from './run-bench.js';
import { percentile, summarize } from './stats.js';

const PHASES = ['host', 'qemu', 'kernel', 'agent', 'process', 'exit'] as const;
type Phase = (typeof PHASES)[number];

function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** One VM run through the runtime API, timed phase by phase (ms). */
async function phasesOfOneRun(
  rt: VmRuntime,
  base: string,
  stateDir: string,
  n: number,
): Promise<Record<Phase, number>> {
  const id = `bench-vm-${process.pid}-${n}`;
  const bundle = path.join(base, 'bundle');
  const wall0 = Date.now();
  const t0 = process.hrtime.bigint();
  await rt.create({ id, bundle, terminal: false, stdin: false, logPath: path.join(base, `${id}.log`) });
  await rt.start(id);
  const exit = await rt.wait(id);
  const total = msSince(t0);
  if (exit.exitCode !== 0) throw new Error(`the VM's process exited ${exit.exitCode}`);
  const dir = path.join(stateDir, 'conmon', 'roots', 'skiff-vm-oci', id);
  const qemuLaunched = (await stat(path.join(dir, 'qemu.pid'))).mtimeMs - wall0;
  const exited = (await stat(path.join(dir, 'status'))).mtimeMs - wall0;
  const console = await readFile(path.join(dir, 'console.log'), 'latin1');
  const m = /timing init=([\d.]+) ready=([\d.]+) start=([\d.]+) exit=([\d.]+)/.exec(console);
  await rt.delete(id);
  if (!m) throw new Error('no timing line from the agent on the VM console');
  const [init, , start, end] = m.slice(1).map((s) => Number(s) * 1000) as [number, number, number, number];
  return {
    host: qemuLaunched,
    qemu: exited - qemuLaunched - end,
    kernel: init,
    agent: start - init,
    process: end - start,
    exit: total - exited,
  };
}

async function breakdown(runs: number): Promise<Record<Phase, number[]>> {
  const assets = await findAssets(DEFAULT_ASSETS_DIR);
  if (!assets) throw new Error(`no VM assets in ${DEFAULT_ASSETS_DIR}: run skiff-vm-assets`);
  const base = await mkdtemp(path.join(os.tmpdir(), 'skiff-bench-vm-'));
  const stateDir = path.join(base, 'state');
  const rt = new VmRuntime({
    stateDir,
    assets,
    qemu: '/usr/bin/qemu-system-x86_64',
    virtiofsd: '/usr/lib/qemu/virtiofsd',
    share: 'virtiofs',
    firmware: defaultFirmware(),
    accel: 'auto',
    memoryMiB: 256,
    cpus: 1,
  });
  try {
    const rootfs = path.join(base, 'bundle', 'rootfs');
    await mkdir(rootfs, { recursive: true });
    await busyboxRootfs(rootfs);
    const config = {
      ociVersion: '1.0.2',
      process: { args: ['true'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } },
      root: { path: 'rootfs' },
      hostname: 'bench',
    };
    await writeFile(path.join(base, 'bundle', 'config.json'), JSON.stringify(config));
    const out = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<Phase, number[]>;
    for (let i = 0; i <= runs; i++) {
      const r = await phasesOfOneRun(rt, base, stateDir, i);
      if (i === 0) continue; // warm-up (the accelerator probe runs on first use)
      for (const p of PHASES) out[p].push(r[p]);
    }
    return out;
  } finally {
    await rt.close();
    await rm(base, { recursive: true, force: true });
  }
}

/** Runs the benchmark and prints its report; false when it failed. */
export async function vmBenchmark(opts: { runs: number }): Promise<boolean> {
  const registry = await registryWithBusybox();
  console.log(`bench vm: docker run --rm --runtime vm ${registry.image} true — ${opts.runs} runs after 1 warm-up`);
  let ok = true;
  try {
    const d = await startDaemon({
      storageDriver: 'overlay',
      insecureRegistries: [registry.host],
      config: { runtimes: { vm: { runtimeType: 'vm' } } },
    });
    try {
      const engine = { name: 'skiffd', dockerHost: d.dockerHost, pid: d.pid, output: d.output, stop: async () => {} };
      await pull(engine, registry.image);
      const samples = await timeDockerCli(d.dockerHost, ['run', '--rm', '--runtime', 'vm', registry.image, 'true'], {
        runs: opts.runs,
        warmups: 1,
      });
      const s = summarize(samples);
      const accel = /vm runtime ready.*?accel="?(\w+)/.exec(d.output())?.[1] ?? 'unknown';
      console.log(`  skiffd (accel ${accel}): median ${fmt(s.median)}, p90 ${fmt(s.p90)}`);
    } catch (e) {
      ok = false;
      console.error(`  skiffd: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      console.error(d.output().split('\n').slice(-30).join('\n'));
    } finally {
      await d.stop();
    }
    const phases = await breakdown(opts.runs);
    console.log('  breakdown (runtime API, medians):');
    for (const p of PHASES) console.log(`    ${p.padEnd(8)} ${fmt(percentile(phases[p], 50))}`);
  } catch (e) {
    ok = false;
    console.error(`  FAILED: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await registry.stop();
  }
  return ok;
}
