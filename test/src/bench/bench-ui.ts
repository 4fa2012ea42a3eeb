/**
 * The dashboard benchmark (BENCH_ONLY=ui): `skiff ui`'s real App, stores and Ink renderer on a
 * fake 160×50 TTY with 1,000 synthetic containers in 20 compose projects (no daemon). Frame time
 * = from a key (`j`/`k` scrolling) or a store update (an event-driven refresh of the whole list)
 * to the frame Ink has written; p50/p95 over BENCH_UI_STEPS (default 300) of each after a
 * warm-up. The issue's target: p95 < 16 ms. A report, never a threshold.
 */

import { availableParallelism, loadavg } from 'node:os';
import { percentile } from './stats.js';

const WARMUP = 20;

function line(label: string, samples: readonly number[]): string {
  const f = (p: number) => `${percentile(samples, p).toFixed(2)} ms`.padStart(10);
  return `  ${label.padEnd(28)} p50 ${f(50)}   p95 ${f(95)}   max ${f(100)}`;
}

export async function uiBenchmark(opts: { containers: number; steps: number }): Promise<boolean> {
  // As `skiff ui` runs: React's production build, which is picked when React is first loaded.
  process.env.NODE_ENV ??= 'production';
  const { measureFrames } = await import('@skiff/cli/dist/ui/perf.js');
  console.log(
    `skiff ui: ${opts.containers} containers, 160x50 terminal, ${opts.steps} scroll + ${opts.steps} update frames`,
  );
  await measureFrames({ containers: opts.containers, steps: WARMUP });
  const r = await measureFrames({ containers: opts.containers, steps: opts.steps });
  console.log(line('scroll (key → frame)', r.scroll));
  console.log(line('list update (store → frame)', r.update));
  console.log(line('scroll, CPU time per frame', r.scrollCpu));
  console.log(line('update, CPU time per frame', r.updateCpu));
  console.log(line("Ink's renderTime per frame", r.inkRender));
  console.log(`  bytes written per frame: ${r.bytesPerFrame}`);
  const p95 = Math.max(percentile(r.scroll, 95), percentile(r.update, 95));
  const [load1] = loadavg();
  console.log(
    `  target p95 < 16 ms: ${p95 < 16 ? 'met' : 'NOT met'} (worst p95 ${p95.toFixed(2)} ms; load average ${load1?.toFixed(2)} on ${availableParallelism()} CPUs)`,
  );
  return true;
}
