import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real etcd (Debian `etcd-server`) for tests: its own data dir, ports, optionally in a netns. */
export interface EtcdServer {
  /** `etcd://host:port` for the cluster store. */
  url: string;
  clientPort: number;
  host: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(host: string, port: number, netns: string | undefined, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline && !exited) {
    const ok = await new Promise<boolean>((resolve) => {
      // A node child: it works inside a namespace the test process is not in.
      const script = `fetch(${JSON.stringify(`http://${host}:${port}/health`)}, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))`;
      const node = [process.execPath, '-e', script];
      const p = netns
        ? spawn('ip', ['netns', 'exec', netns, ...node], { stdio: ['ignore', 'pipe', 'ignore'] })
        : spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.on('exit', (code) => resolve(code === 0 && /"health":\s*"?true/.test(out)));
      p.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(exited ? 'etcd exited during start' : 'etcd did not become healthy');
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
}

function launch(
  host: string,
  netns: string | undefined,
  me: Member,
  all: Member[],
  dir: string,
): { child: ChildProcess; stop: () => Promise<void> } {
  const args = [
    '--name',
    me.name,
    '--data-dir',
    dir,
    '--listen-client-urls',
    `http://${host}:${me.clientPort}`,
    '--advertise-client-urls',
    `http://${host}:${me.clientPort}`,
    '--listen-peer-urls',
    `http://${host}:${me.peerPort}`,
    '--initial-advertise-peer-urls',
    `http://${host}:${me.peerPort}`,
    '--initial-cluster',
    all.map((m) => `${m.name}=http://${host}:${m.peerPort}`).join(','),
    '--initial-cluster-token',
    `skiff-${all.map((m) => m.peerPort).join('-')}`,
    '--log-level',
    'error',
  ];
  const child = netns
    ? spawn('ip', ['netns', 'exec', netns, 'etcd', ...args], { stdio: 'ignore' })
    : spawn('etcd', args, { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };
  return { child, stop };
}

/**
 * Starts etcd listening on `host` (default 127.0.0.1) with free ports, inside the named network
 * namespace when `netns` is given (`ip netns` name). Ports are probed on the host's loopback, which
 * is good enough in a fresh namespace (nothing else listens there).
 */
export async function startEtcd(opts: { host?: string; netns?: string; name?: string } = {}): Promise<EtcdServer> {
  return (await startEtcdCluster(1, opts)).members[0]!;
}

/** `size` members on one host (distinct ports); `url` names them all, as a client of a real cluster would. */
export async function startEtcdCluster(
  size: number,
  opts: { host?: string; netns?: string; name?: string } = {},
): Promise<{ url: string; members: EtcdServer[]; stop(): Promise<void> }> {
  const host = opts.host ?? '127.0.0.1';
  const members: Member[] = [];
  for (let i = 0; i < size; i++)
    members.push({
      name: `${opts.name ?? 'skiff-test'}-${i}`,
      clientPort: await freePort(),
      peerPort: await freePort(),
    });
  const started = await Promise.all(
    members.map(async (m) => ({
      m,
      ...launch(host, opts.netns, m, members, await mkdtemp(join(tmpdir(), 'skiff-etcd-'))),
    })),
  );
  const stopAll = () => Promise.all(started.map((s) => s.stop())).then(() => {});
  try {
    await Promise.all(started.map((s) => waitHealthy(host, s.m.clientPort, opts.netns, s.child)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    url: `etcd://${members.map((m) => `${host}:${m.clientPort}`).join(',')}`,
    members: started.map((s) => ({
      url: `etcd://${host}:${s.m.clientPort}`,
      clientPort: s.m.clientPort,
      host,
      pid: s.child.pid!,
      stop: s.stop,
    })),
    stop: stopAll,
  };
}
