import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { api } from './api.js';
import { cleanupDirs } from './cleanup.js';
import { docker } from './clients.js';
import { describeExit, ManagedProcess } from './managed-process.js';
import { repoRoot } from './paths.js';
import { run, sleep } from './proc.js';

/**
 * A real dockerd 20.10 (Debian's docker.io, unpacked by scripts/dockerd-peer.sh, never installed)
 * to compare skiffd with. Each peer has its own containerd, data root, exec root and socket under
 * one temp dir, no iptables and no bridge, so peers run beside skiffd, each other and the tests.
 */
export interface DockerdPeer {
  /** `unix://<socket>`, for DOCKER_HOST and api(). */
  dockerHost: string;
  socket: string;
  /** The temp dir holding every file of this peer (data root, exec root, containerd state). */
  dir: string;
  /** dockerd's --data-root and --exec-root, below `dir`. */
  root: string;
  execRoot: string;
  /** dockerd's pid. */
  pid: number;
  /** dockerd's and containerd's output. */
  output(): string;
  /** Removes its containers, stops dockerd and containerd, and removes every mount, process and file. */
  stop(): Promise<void>;
}

export interface DockerdPeerOptions {
  /** Registries to pull from over plain HTTP (loopback ones already are, as in dockerd). */
  insecureRegistries?: string[];
  /** How long to wait for `GET /_ping` (default 60 s). */
  timeoutMs?: number;
}

/** There is no dockerd to start here: the message says why and how to get one. */
export class DockerdPeerUnavailable extends Error {
  override name = 'DockerdPeerUnavailable';
}

export class DockerdPeerStartError extends Error {
  override name = 'DockerdPeerStartError';
}

/** Where scripts/dockerd-peer.sh unpacks the packages: $SKIFF_PEER_DIR or its default. */
export function dockerdPeerDir(): string {
  return process.env.SKIFF_PEER_DIR || '/var/cache/skiff-test/dockerd-peer';
}

const isCi = () => process.env.CI === 'true';

let provided: Promise<string> | undefined;

/**
 * The unpacked dockerd. In CI (`CI=true`) a missing one is fetched by scripts/dockerd-peer.sh
 * (setup.sh normally did that already); elsewhere it throws DockerdPeerUnavailable instead of
 * downloading 60 MB behind a developer's back.
 */
export function dockerdPeerBinary(): Promise<string> {
  provided ??= (async () => {
    const dir = dockerdPeerDir();
    const dockerd = path.join(dir, 'usr/sbin/dockerd');
    if (existsSync(dockerd) && existsSync(path.join(dir, 'usr/bin/containerd'))) return dockerd;
    const script = path.join(repoRoot, 'scripts/dockerd-peer.sh');
    if (!isCi()) {
      throw new DockerdPeerUnavailable(`no dockerd under ${dir}; run ${script} (as root) to unpack Debian's docker.io`);
    }
    const r = await run('bash', [script], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new DockerdPeerUnavailable(`${script} exited ${r.code}:\n${r.stderr.trim()}`);
    return r.stdout.trim();
  })();
  return provided;
}

/** containerd's config: every path inside `dir`, and no CRI (dockerd's own supervisor disables it too). */
function containerdConfig(dir: string): string {
  const q = (p: string) => JSON.stringify(path.join(dir, p));
  return [
    'version = 2',
    `root = ${q('root')}`,
    `state = ${q('state')}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = ${q('c.sock')}`,
    '[debug]',
    '  address = ""',
    // Its default is /opt/containerd, outside the peer's dir.
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${q('opt')}`,
    '',
  ].join('\n');
}

async function answers(host: string): Promise<boolean> {
  try {
    return (await api(host, 'GET', '/_ping', undefined, { timeoutMs: 5_000 })).status === 200;
  } catch {
    return false;
  }
}

/** Waits until `ready()` or until `proc` exits or the deadline passes; returns a reason when not ready. */
async function waitFor(
  what: string,
  proc: ManagedProcess,
  ready: () => Promise<boolean>,
  deadline: number,
): Promise<string | undefined> {
  for (;;) {
    if (proc.status) return `${what} exited (${describeExit(proc.status)})`;
    if (await ready()) return undefined;
    if (Date.now() > deadline) return `${what} not ready in time`;
    await sleep(100);
  }
}

/**
 * Starts a private containerd and a dockerd on it (overlay2, `--iptables=false --ip-masq=false
 * --bridge=none`, its own data root, exec root, socket and pidfile); resolves once `GET /_ping`
 * answers. Throws DockerdPeerUnavailable when there is no dockerd, DockerdPeerStartError when it
 * does not come up (everything already cleaned up then).
 */
export async function startDockerdPeer(opts: DockerdPeerOptions = {}): Promise<DockerdPeer> {
  const dockerd = await dockerdPeerBinary();
  const peer = path.resolve(dockerd, '../../..');
  // Short: unix socket paths must stay under 108 bytes.
  const dir = await mkdtemp('/tmp/dkp-');
  const cdir = path.join(dir, 'containerd');
  await mkdir(cdir);
  await writeFile(path.join(cdir, 'config.toml'), containerdConfig(cdir));
  await writeFile(path.join(dir, 'daemon.json'), '{}\n'); // not the host's /etc/docker/daemon.json
  const socket = path.join(dir, 'd.sock');
  const root = path.join(dir, 'root');
  const execRoot = path.join(dir, 'run');
  const dockerHost = `unix://${socket}`;

  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DOCKER_') && k !== 'CONTAINERD_ADDRESS' && k !== 'NOTIFY_SOCKET') env[k] = v;
  }
  // containerd finds its shim, and dockerd docker-init (-> tini-static), through PATH; runc is the host's.
  env.PATH = [path.join(peer, 'usr/bin'), path.join(peer, 'usr/sbin'), process.env.PATH ?? '/usr/sbin:/usr/bin'].join(
    ':',
  );
  // Libraries the script had to unpack because the host lacks them (libdevmapper).
  env.LD_LIBRARY_PATH = [path.join(peer, 'lib/x86_64-linux-gnu'), path.join(peer, 'usr/lib/x86_64-linux-gnu')]
    .concat(process.env.LD_LIBRARY_PATH ? [process.env.LD_LIBRARY_PATH] : [])
    .join(':');

  const containerd = new ManagedProcess(path.join(peer, 'usr/bin/containerd'), ['--config', `${cdir}/config.toml`], {
    env,
  });
  let dockerdProc: ManagedProcess | undefined;
  const output = () =>
    `--- containerd:\n${containerd.output()}\n--- dockerd:\n${dockerdProc?.output() ?? '(not started)'}`;

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (dockerdProc && !dockerdProc.status) {
        // dockerd would stop each container on SIGTERM, with its 10 s grace: remove them first.
        const list = await api(dockerHost, 'GET', '/containers/json?all=1').catch(() => undefined);
        const ids = Array.isArray(list?.json) ? (list.json as Array<{ Id: string }>).map((c) => c.Id) : [];
        await Promise.all(
          ids.map((id) => api(dockerHost, 'DELETE', `/containers/${id}?force=1&v=1`).catch(() => undefined)),
        );
        await dockerdProc.stop(30_000);
      }
      await containerd.stop(15_000);
      // Shims, runc state (exec root), netns and overlay mounts, files: all below `dir`.
      await cleanupDirs([dir]);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const cSock = path.join(cdir, 'c.sock');
    const cErr = await waitFor('containerd', containerd, async () => existsSync(cSock), deadline);
    if (cErr) throw new DockerdPeerStartError(`${cErr}\n${output()}`);
    const args = [
      '--config-file',
      path.join(dir, 'daemon.json'),
      '--containerd',
      cSock,
      '--data-root',
      root,
      '--exec-root',
      execRoot,
      '-H',
      dockerHost,
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--storage-driver',
      'overlay2',
      ...(opts.insecureRegistries ?? []).flatMap((r) => ['--insecure-registry', r]),
    ];
    dockerdProc = new ManagedProcess(dockerd, args, { env });
    const dErr = await waitFor('dockerd', dockerdProc, () => answers(dockerHost), deadline);
    if (dErr) throw new DockerdPeerStartError(`${dockerd} ${args.join(' ')}: ${dErr}\n${output()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { dockerHost, socket, dir, root, execRoot, pid: dockerdProc.pid, output, stop };
}

/** `docker pull image` into the peer, throwing with both outputs when it fails. */
export async function pullIntoPeer(peer: DockerdPeer, image: string): Promise<void> {
  const r = await docker(['pull', '-q', image], { host: peer.dockerHost });
  if (r.code !== 0)
    throw new DockerdPeerStartError(`docker pull ${image} exited ${r.code}: ${r.stderr}\n${peer.output()}`);
}
