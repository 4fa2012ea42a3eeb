/**
 * `npm run quickstart` (via scripts/quickstart.sh): builds the busybox image, starts a local
 * registry and skiffd, and runs a container with the docker CLI and the skiff CLI — offline.
 *
 *   node test/dist/harness/quickstart.js [--keep]
 *
 * Defaults (env overrides): socket /run/skiff/skiff.sock (SKIFF_QUICKSTART_SOCKET), data root
 * /var/lib/skiff-quickstart, exec root /run/skiff-quickstart, storage driver overlay
 * (SKIFF_QUICKSTART_DRIVER). Without --keep everything is stopped and removed at the end.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api } from './api.js';
import { busyboxLayout, pushImage } from './busybox.js';
import { cleanupDirs } from './cleanup.js';
import { docker, skiff } from './clients.js';
import { type Daemon, type StorageDriverName, startDaemon } from './daemon.js';
import { dockerCli, repoRoot, skiffBin } from './paths.js';
import type { RunResult } from './proc.js';
import { type Registry, startRegistry } from './registry.js';

const keep = process.argv.includes('--keep');
const socket = process.env.SKIFF_QUICKSTART_SOCKET ?? '/run/skiff/skiff.sock';
const root = '/var/lib/skiff-quickstart';
const execRoot = '/run/skiff-quickstart';
const driver = (process.env.SKIFF_QUICKSTART_DRIVER ?? 'overlay') as StorageDriverName;

const step = (s: string) => console.log(`\n==> ${s}`);
const info = (s: string) => console.log(`    ${s}`);

function show(r: RunResult): void {
  for (const line of `${r.stderr}${r.stdout}`.trimEnd().split('\n')) if (line) info(`| ${line}`);
  info(r.code === 0 ? 'ok (exit 0)' : `FAILED (exit ${r.code})`);
}

async function answers(host: string): Promise<boolean> {
  try {
    return (await api(host, 'GET', '/_ping', undefined, { timeoutMs: 3_000 })).status === 200;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('quickstart: skiffd needs root (mounts, namespaces, runc); run it as root');
    return 1;
  }
  let registry: Registry | undefined;
  let daemon: Daemon | undefined;
  const logDir = keep ? await mkdtemp(path.join(os.tmpdir(), 'skiff-quickstart-')) : undefined;
  const stopAll = async () => {
    await daemon?.stop();
    await registry?.stop();
    if (logDir) await rm(logDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    console.log('\ninterrupted: stopping skiffd and the registry');
    void stopAll().finally(() => process.exit(130));
  });

  try {
    step('Building a busybox image from /bin/busybox (Debian busybox-static) with umoci');
    const layout = await busyboxLayout();
    info(`OCI layout: ${layout}`);

    step('Starting a local registry (Debian docker-registry) on a free loopback port');
    registry = await startRegistry({ logFile: logDir && path.join(logDir, 'registry.log') });
    info(`registry at http://${registry.host} (pid ${registry.pid}, storage ${registry.dir})`);

    const image = `${registry.host}/busybox:latest`;
    step(`Pushing ${image} with skopeo`);
    await pushImage(layout, image);
    info('pushed');

    const host = `unix://${socket}`;
    step(`Starting skiffd (storage driver ${driver}) on ${host}`);
    if (await answers(host)) {
      console.error(`quickstart: a daemon already answers on ${socket}; stop it or set SKIFF_QUICKSTART_SOCKET`);
      return 1;
    }
    await rm(socket, { force: true }); // a stale socket of a daemon that died
    await cleanupDirs([root, execRoot]); // leftovers of an earlier quickstart --keep
    info(`data root ${root}, exec root ${execRoot}`);
    daemon = await startDaemon({
      storageDriver: driver,
      insecureRegistries: [registry.host],
      root,
      execRoot,
      socket,
      logFile: logDir && path.join(logDir, 'skiffd.log'),
      hostBridge: true,
    });
    info(`skiffd is up (pid ${daemon.pid}): GET /_ping answered 200`);

    let failed = false;
    step(`DOCKER_HOST=${host} ${dockerCli()} run --rm ${image} echo "hello from skiff"`);
    const viaDocker = await docker(['run', '--rm', image, 'echo', 'hello from skiff'], { host });
    show(viaDocker);
    failed ||= viaDocker.code !== 0;

    if (existsSync(skiffBin) && existsSync(path.join(repoRoot, 'cli-tui/dist/main.js'))) {
      step(`SKIFF_HOST=${host} skiff run --rm ${image} echo "hello from skiff"`);
      const viaSkiff = await skiff(['run', '--rm', image, 'echo', 'hello from skiff'], { host });
      show(viaSkiff);
      failed ||= viaSkiff.code !== 0;
    } else {
      step('skiff CLI not built (cli-tui/dist/main.js missing): skipping `skiff run`');
    }
    if (failed) {
      step('skiffd output (last 40 lines)');
      for (const l of daemon.output().trimEnd().split('\n').slice(-40)) info(`| ${l}`);
    }

    if (keep) {
      step('Leaving skiffd and the registry running (--keep)');
      info(`export DOCKER_HOST=${host}`);
      info(`docker run --rm ${image} echo hi`);
      info(`logs: ${logDir}`);
      info(`stop: kill ${daemon.pid} ${registry.pid}; then rm -rf ${root} ${execRoot} ${registry.dir}`);
    } else {
      step('Stopping skiffd and the registry, removing their data (use --keep to leave them running)');
      const status = await daemon.stop();
      daemon = undefined;
      await registry.stop();
      registry = undefined;
      info(`skiffd stopped (${status.signal ?? `exit ${status.code}`}); ${root} and ${execRoot} removed`);
    }
    console.log(failed ? '\nquickstart: FAILED' : '\nquickstart: OK');
    return failed ? 1 : 0;
  } catch (e) {
    console.error(`\nquickstart: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    await stopAll();
    return 1;
  }
}

process.exitCode = await main();
