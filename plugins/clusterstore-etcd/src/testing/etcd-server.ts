import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real etcd (Debian `etcd-server`) for tests: its own data dir, ports, optionally in a netns. */
export interface EtcdServer {
  /** `etcd://host:port` (`etcds://` with TLS) for the cluster store. */
  url: string;
  clientPort: number;
  host: string;
  pid: number;
  /** SIGKILL; the data stays for `restart()`. */
  kill(): Promise<void>;
  /** Starts again on the same data and ports (after `kill()`), once healthy. */
  restart(): Promise<void>;
  /** SIGKILL and the data removed. */
  stop(): Promise<void>;
}

/** PEM files: etcd then serves clients over TLS and requires a client certificate signed by `ca`. */
export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
  /** A client certificate (and key) the health check presents. */
  clientCert: string;
  clientKey: string;
}

export interface EtcdOptions {
  host?: string;
  /** `ip netns` name to run in. */
  netns?: string;
  name?: string;
  tls?: EtcdTls;
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

async function healthy(host: string, port: number, opts: EtcdOptions): Promise<boolean> {
  // A node child: it works inside a namespace the test process is not in.
  const tls = opts.tls ? { ca: opts.tls.ca, cert: opts.tls.clientCert, key: opts.tls.clientKey } : undefined;
  const script = `const fs = require('node:fs');
    const tls = ${JSON.stringify(tls ?? null)};
    const lib = require(tls ? 'node:https' : 'node:http');
    const o = tls ? { ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) } : {};
    const req = lib.get(${JSON.stringify(`${tls ? 'https' : 'http'}://${host}:${port}/health`)}, { ...o, timeout: 2000 }, (res) => {
      let t = ''; res.on('data', (b) => (t += b)); res.on('end', () => { process.stdout.write(t); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => process.exit(1));`;
  const node = [process.execPath, '-e', script];
  return new Promise<boolean>((resolve) => {
    const p = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, ...node], { stdio: ['ignore', 'pipe', 'ignore'] })
      : spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('exit', (code) => resolve(code === 0 && /"health":\s*"?true/.test(out)));
    p.on('error', () => resolve(false));
  });
}

async function waitHealthy(host: string, port: number, opts: EtcdOptions, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = child.exitCode !== null || child.signalCode !== null;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline && !exited) {
    if (await healthy(host, port, opts)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(exited ? 'etcd exited during start' : 'etcd did not become healthy');
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
}

function etcdArgs(host: string, me: Member, all: Member[], dir: string, tls: EtcdTls | undefined): string[] {
  const client = `${tls ? 'https' : 'http'}://${host}:${me.clientPort}`;
  return [
    '--name',
    me.name,
    '--data-dir',
    dir,
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
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
    ...(tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, '--client-cert-auth'] : []),
  ];
}

/** One member: started, killed (data kept), restarted, stopped (data removed). */
class MemberProcess {
  child!: ChildProcess;
  constructor(
    private readonly args: string[],
    private readonly netns: string | undefined,
    readonly dir: string,
  ) {
    this.spawn();
  }

  spawn(): void {
    this.child = this.netns
      ? spawn('ip', ['netns', 'exec', this.netns, 'etcd', ...this.args], { stdio: 'ignore' })
      : spawn('etcd', this.args, { stdio: 'ignore' });
  }

  async kill(): Promise<void> {
    const c = this.child;
    if (c.exitCode === null && c.signalCode === null) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    }
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts etcd listening on `host` (default 127.0.0.1) with free ports, inside the named network
 * namespace when `netns` is given (`ip netns` name). Ports are probed on the host's loopback, which
 * is good enough in a fresh namespace (nothing else listens there).
 */
export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdServer> {
  return (await startEtcdCluster(1, opts)).members[0]!;
}

/** `size` members on one host (distinct ports); `url` names them all, as a client of a real cluster would. */
export async function startEtcdCluster(
  size: number,
  opts: EtcdOptions = {},
): Promise<{ url: string; members: EtcdServer[]; stop(): Promise<void> }> {
  const host = opts.host ?? '127.0.0.1';
  const scheme = opts.tls ? 'etcds' : 'etcd';
  const members: Member[] = [];
  for (let i = 0; i < size; i++)
    members.push({
      name: `${opts.name ?? 'skiff-test'}-${i}`,
      clientPort: await freePort(),
      peerPort: await freePort(),
    });
  const started = await Promise.all(
    members.map(async (m) => {
      const dir = await mkdtemp(join(tmpdir(), 'skiff-etcd-'));
      return { m, p: new MemberProcess(etcdArgs(host, m, members, dir, opts.tls), opts.netns, dir) };
    }),
  );
  const stopAll = () => Promise.all(started.map((s) => s.p.stop())).then(() => {});
  try {
    await Promise.all(started.map((s) => waitHealthy(host, s.m.clientPort, opts, s.p.child)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    url: `${scheme}://${members.map((m) => `${host}:${m.clientPort}`).join(',')}`,
    members: started.map(({ m, p }) => ({
      url: `${scheme}://${host}:${m.clientPort}`,
      clientPort: m.clientPort,
      host,
      get pid() {
        return p.child.pid!;
      },
      kill: () => p.kill(),
      restart: async () => {
        await p.kill();
        p.spawn();
        await waitHealthy(host, m.clientPort, opts, p.child);
      },
      stop: () => p.stop(),
    })),
    stop: stopAll,
  };
}
