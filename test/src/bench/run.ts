/**
 * `npm run bench`: runs the benchmarks (bench-run.ts: `docker run`; bench-pull.ts: `docker pull`;
 * bench-footprint.ts: memory, concurrency, `docker ps`) and prints their reports. BENCH_ONLY=run|pull|footprint|netattach|bridge|cp|build picks one; BENCH_DRIVERS (default overlay) the
 * storage drivers; BENCH_RUNS / BENCH_PULL_RUNS the sample counts; BENCH_DOCKERD a dockerd binary.
 */

import type { StorageDriverName } from '../harness/daemon.js';
import { bridgeRunBenchmark } from './bench-bridge.js';
import { cpBenchmark } from './bench-cp.js';
import { buildBenchmark } from './bench-build.js';
import { footprintBenchmark } from './bench-footprint.js';
import { netattachBenchmark } from './bench-netattach.js';
import { pullBenchmark } from './bench-pull.js';
import { runBenchmark } from './bench-run.js';
import { uiBenchmark } from './bench-ui.js';

const BENCHMARKS = {
  run: () => runBenchmark({ runs: positive('BENCH_RUNS', 20), drivers }),
  pull: () => pullBenchmark({ runs: positive('BENCH_PULL_RUNS', 5), drivers }),
  footprint: () =>
    footprintBenchmark({
      concurrent: positive('BENCH_CONCURRENT', 50),
      psContainers: positive('BENCH_PS_CONTAINERS', 500),
      drivers,
    }),
  netattach: () => netattachBenchmark({ runs: positive('BENCH_NETATTACH_RUNS', 50) }),
  bridge: () => bridgeRunBenchmark({ runs: positive('BENCH_RUNS', 20) }),
  cp: () => cpBenchmark({ runs: positive('BENCH_CP_RUNS', 5) }),
  ui: () => uiBenchmark({ containers: positive('BENCH_UI_CONTAINERS', 1000), steps: positive('BENCH_UI_STEPS', 300) }),
  build: () => buildBenchmark({ runs: positive('BENCH_BUILD_RUNS', 5) }),
  overlay: () => import('./bench-overlay.js').then((m) => m.overlayBenchmark()),
  vm: () => import('./bench-vm.js').then((m) => m.vmBenchmark({ runs: positive('BENCH_VM_RUNS', 10) })),
} as const;
type Name = keyof typeof BENCHMARKS;

function positive(env: string, fallback: number): number {
  const text = process.env[env];
  const n = text === undefined ? fallback : Number.parseInt(text, 10);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: ${env} must be a positive integer, got ${text}`);
    process.exit(2);
  }
  return n;
}

const drivers = (process.env.BENCH_DRIVERS ?? 'overlay')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as StorageDriverName[];

const only = process.env.BENCH_ONLY?.trim();
if (only && !Object.hasOwn(BENCHMARKS, only)) {
  console.error(`bench: BENCH_ONLY must be one of ${Object.keys(BENCHMARKS).join(', ')}, got ${only}`);
  process.exit(2);
}
const chosen = only ? [only as Name] : (Object.keys(BENCHMARKS) as Name[]);

let ok = true;
for (const [i, name] of chosen.entries()) {
  if (i > 0) console.log('');
  ok = (await BENCHMARKS[name]()) && ok;
}
process.exitCode = ok ? 0 : 1;
