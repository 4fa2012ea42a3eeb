/**
 * The default-bridge benchmark: `docker run --rm <busybox> true` on the engine's default bridge
 * network and with `--network none`, same docker CLI, for skiffd (with runc, and with crun where
 * it can run containers) and (when installed) dockerd.
 * Each engine runs in a network namespace of its own, so its bridge, veths and firewall rules
 * never touch the machine's. Reports medians, the bridge's cost over `none` per engine, and the
 * ratio to dockerd. BENCH_RUNS samples (default 20) after two warm-ups; never a threshold.
 */

import { crunOnThisHost } from '../harness/crun.js';
import { startNetnsDaemon, uid } from '../harness/netns-daemon.js';
import { run, runOk } from '../harness/proc.js';
import { type Engine, findDockerd, fmt, startDockerd, timeDockerCliInterleaved } from './run-bench.js';
import { type Floor, type FloorTarget, measureFloors, printFloors } from './run-floor.js';
import { type Summary, summarize } from './stats.js';

interface NetnsEngine {
  name: string;
  host: string;
  image: string;
  /** skiffd's side of the floor measurements. */
  floor?: FloorTarget;
  stop(): Promise<void>;
}

async function skiffdInNetns(runtime: string): Promise<NetnsEngine> {
  const teardowns: Array<() => void | Promise<void>> = [];
  const d = await startNetnsDaemon(
    { teardown: (fn) => void teardowns.push(fn) },
    { config: { 'default-runtime': runtime } },
  );
  return {
    name: runtime === 'runc' ? 'skiffd' : `skiffd (${runtime})`,
    host: d.host,
    image: d.image,
    floor: { dockerHost: d.host, execRoot: d.execRoot, runtime, image: d.image },
    stop: async () => {
      for (const fn of teardowns.reverse()) await fn();
    },
  };
}

/** dockerd with its defaults (docker0, iptables) inside a fresh namespace; the image comes from skiffd's. */
async function dockerdInNetns(bin: string, from: NetnsEngine): Promise<NetnsEngine> {
  const netns = `skiff-b-${uid()}`;
  await runOk('ip', ['netns', 'add', netns]);
  const dropNetns = () => run('ip', ['netns', 'del', netns]).then(() => {});
  let engine: Engine | undefined;
  try {
    await runOk('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    engine = await startDockerd(bin, undefined, { netns });
    const host = engine.dockerHost;
    await runOk('sh', ['-c', `docker -H ${from.host} save ${from.image} | docker -H ${host} load -q`]);
    const stop = engine.stop;
    return { name: 'dockerd', host, image: from.image, stop: () => stop().then(dropNetns) };
  } catch (err) {
    await engine?.stop();
    await dropNetns();
    throw err;
  }
}

interface Result {
  name: string;
  bridge: Summary;
  none: Summary;
}

/** Both engines interleaved round by round (see timeDockerCliInterleaved), bridge then none. */
async function measure(engines: NetnsEngine[], runs: number): Promise<Result[]> {
  const sample = (net: string[]) =>
    timeDockerCliInterleaved(
      engines.map((e) => e.host),
      ['run', '--rm', ...net, engines[0]!.image, 'true'],
      { runs, warmups: 2 },
    );
  const [bridge, none] = [await sample([]), await sample(['--network', 'none'])];
  return engines.map((e, i) => ({ name: e.name, bridge: summarize(bridge[i]!), none: summarize(none[i]!) }));
}

/** Runs the benchmark and prints its report; false when skiffd failed. */
export async function bridgeRunBenchmark(opts: { runs: number }): Promise<boolean> {
  console.log(
    `bench bridge: docker run --rm <busybox> true on the default bridge and with --network none — ${opts.runs} runs, each engine in its own netns, engines interleaved`,
  );
  let results: Result[] = [];
  let floors: Floor[] = [];
  const engines: NetnsEngine[] = [];
  let ok = true;
  try {
    const skiffd = await skiffdInNetns('runc');
    engines.push(skiffd);
    const crun = crunOnThisHost();
    if (crun.state === 'ok') {
      const withCrun = await skiffdInNetns('crun');
      engines.push(withCrun);
      // Every engine runs the first one's image name.
      await runOk('docker', ['-H', withCrun.host, 'tag', withCrun.image, skiffd.image]);
    } else console.log(`  skiffd with crun: not measured (crun ${crun.state} here)`);
    const bin = await findDockerd();
    if (!bin) console.log('  dockerd: not installed (Debian docker.io); no side-by-side numbers');
    else {
      const dockerd = await dockerdInNetns(bin, skiffd).catch((e: Error) => {
        console.error(`  dockerd: FAILED: ${e.message}`);
        return undefined;
      });
      if (dockerd) engines.push(dockerd);
    }
    results = await measure(engines, opts.runs);
    floors = await measureFloors(
      engines.flatMap((e) => (e.floor ? [e.floor] : [])),
      opts.runs,
    );
  } catch (err) {
    ok = false;
    console.error(`  FAILED: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    for (const e of engines.reverse()) await e.stop();
  }
  console.log('\nengine           bridge median  none median  bridge - none');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(16)} ${fmt(r.bridge.median).padStart(13)} ${fmt(r.none.median).padStart(12)} ${fmt(r.bridge.median - r.none.median).padStart(14)}`,
    );
  }
  const d = results.find((r) => r.name === 'dockerd');
  for (const s of d ? results.filter((r) => r !== d) : [])
    console.log(
      `ratio ${s.name}/dockerd on the default bridge: median ${(s.bridge.median / d!.bridge.median).toFixed(2)}x`,
    );
  // A bridged run cannot be faster than the CLI alone + the runtime alone + the bridge's own cost.
  printFloors(floors, d?.bridge.median, 'bridged run');
  return ok;
}
