// Frame-time measurement of the real dashboard (same App, stores and Ink renderer) on synthetic
// data and a fake TTY, for the benchmark: time from an input or a store update to the frame
// Ink has written.

import { PassThrough, Writable } from 'node:stream';
import { render } from 'ink';
import { App } from './App.js';
import { defaultConfig } from './config.js';
import { DetailStore } from './detail-store.js';
import { EngineStore } from './engine-store.js';
import { syntheticContainers, syntheticImages, syntheticNetworks, syntheticVolumes } from './synthetic.js';

export interface FrameTimes {
  /** Milliseconds from a `j`/`k` key to its frame. */
  scroll: number[];
  /** Milliseconds from a store update (an event-driven list refresh of every container) to its frame. */
  update: number[];
  /** CPU time (user + system) of this process per scroll and update frame: what the frame costs, whatever else the machine runs. */
  scrollCpu: number[];
  updateCpu: number[];
  /** Ink's own renderTime of every frame. */
  inkRender: number[];
  /** Bytes written to the terminal per frame, on average. */
  bytesPerFrame: number;
}

export interface MeasureOptions {
  containers: number;
  steps: number;
  columns?: number;
  rows?: number;
}

export async function measureFrames(opts: MeasureOptions): Promise<FrameTimes> {
  const columns = opts.columns ?? 160;
  const rows = opts.rows ?? 50;
  const engine = new EngineStore(() => {
    throw new Error('the benchmark has no daemon');
  }, 'unix:///bench.sock');
  let containers = syntheticContainers(opts.containers, { projects: 20 });
  engine.update({
    status: 'connected',
    containers,
    images: syntheticImages(200),
    volumes: syntheticVolumes(100),
    networks: syntheticNetworks(20),
  });
  const detail = new DetailStore();
  let bytes = 0;
  const stdout = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
    { isTTY: true, columns, rows },
  );
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    setRawMode: () => undefined,
    ref: () => undefined,
    unref: () => undefined,
  });
  let frameDone: (() => void) | undefined;
  let frames = 0;
  const inkRender: number[] = [];
  const instance = render(
    <App engine={engine} detail={detail} config={defaultConfig()} runEffect={async () => undefined} />,
    {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stdin: stdin as unknown as NodeJS.ReadStream,
      interactive: true,
      exitOnCtrlC: false,
      patchConsole: false,
      incrementalRendering: true,
      maxFps: 10_000,
      onRender: ({ renderTime }) => {
        frames++;
        inkRender.push(renderTime);
        frameDone?.();
      },
    },
  );
  const nextFrame = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame within 5 s')), 5000);
      frameDone = () => {
        clearTimeout(timer);
        frameDone = undefined;
        resolve();
      };
    });
  const gap = (): Promise<void> => new Promise((r) => setTimeout(r, 2));
  const scroll: number[] = [];
  const update: number[] = [];
  const scrollCpu: number[] = [];
  const updateCpu: number[] = [];
  const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
  try {
    await gap();
    await gap();
    const startFrames = frames;
    const startBytes = bytes;
    for (let i = 0; i < opts.steps; i++) {
      // Down through the list (crossing windows and compose groups), then back up a little.
      const key = i % 10 < 8 ? 'j' : 'k';
      let frame = nextFrame();
      let c0 = process.cpuUsage();
      let t0 = performance.now();
      stdin.write(key);
      await frame;
      scroll.push(performance.now() - t0);
      scrollCpu.push(cpuMs(process.cpuUsage(c0)));
      await gap();

      // What an event does: a fresh list of every container with one of them changed.
      const k = (i * 37) % containers.length;
      containers = containers.map((c, j) => (j === k ? { ...c, Status: `Up ${i} seconds`, State: 'running' } : c));
      frame = nextFrame();
      c0 = process.cpuUsage();
      t0 = performance.now();
      engine.update({ containers });
      await frame;
      update.push(performance.now() - t0);
      updateCpu.push(cpuMs(process.cpuUsage(c0)));
      await gap();
    }
    return {
      scroll,
      update,
      scrollCpu,
      updateCpu,
      inkRender,
      bytesPerFrame: Math.round((bytes - startBytes) / Math.max(1, frames - startFrames)),
    };
  } finally {
    instance.unmount();
    detail.close();
  }
}
