import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { api } from './api.js';
import { cleanupDirs } from './cleanup.js';
import { describeExit, type ExitStatus, ManagedProcess } from './managed-process.js';
import { skiffdBin } from './paths.js';
import { sleep } from './proc.js';

export type StorageDriverName = 'vfs' | 'overlay';

export interface DaemonOptions {
  storageDriver: StorageDriverName;
  /**
   * daemon.json content; written to a temp file passed as --config-file. `"bridge": "none"` is
   * added unless `hostBridge` is set or the config says otherwise: daemons of the tests run in the
   * machine's own network namespace, where they must not make a bridge or firewall rules
   * (networking tests run their daemons in namespaces of their own).
   */
  config?: Record<string, unknown>;
  /** Let the daemon make its default bridge network in this namespace (quickstart). */
  hostBridge?: boolean;
  /** Raw daemon.json text instead of `config` (for malformed-config tests). */
  configText?: string;
  extraArgs?: string[];
  /** Added to the daemon's environment. */
  env?: NodeJS.ProcessEnv;
  /** Passed as --insecure-registry (127.0.0.1 registries of the harness are plain HTTP). */
  insecureRegistries?: string[];
  /** Unset: skiffd's own choice (runc, or crun where runc is missing). */
  defaultRuntime?: string;
  /** Fixed paths instead of unique temp ones (quickstart). All are deleted by stop(). */
  root?: string;
  execRoot?: string;
  socket?: string;
  /** Log to this file and detach the daemon from this process (quickstart --keep). */
  logFile?: string;
  /** How long to wait for `GET /_ping` (default 60 s). */
  timeoutMs?: number;
}

export interface Daemon {
  socket: string;
  root: string;
  execRoot: string;
  configFile: string;
  /** `unix://<socket>`, for DOCKER_HOST. */
  dockerHost: string;
  pid: number;
  output(): string;
  /**
   * SIGTERM, wait (SIGKILL after 30 s), then remove leftover containers, mounts and files —
   * unless `keepState`, which only stops the daemon (to restart another one on the same dirs).
   */
  stop(opts?: { keepState?: boolean }): Promise<ExitStatus>;
}

export class DaemonStartError extends Error {
  override name = 'DaemonStartError';
}

/** os.tmpdir() unless it is so long that socket paths would approach the 108-byte sun_path limit. */
function shortTmp(): string {
  const t = os.tmpdir();
  return t.length <= 40 ? t : '/tmp';
}

interface Prepared {
  base: string;
  root: string;
  execRoot: string;
  socket: string;
  configFile: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

async function prepare(opts: DaemonOptions): Promise<Prepared> {
  const base = await mkdtemp(path.join(shortTmp(), 'skf-'));
  const root = opts.root ?? path.join(base, 'root');
  const execRoot = opts.execRoot ?? path.join(base, 'run');
  const socket = opts.socket ?? path.join(base, 'd.sock');
  if (Buffer.byteLength(socket) >= 100) throw new DaemonStartError(`socket path too long: ${socket}`);
  await mkdir(path.dirname(socket), { recursive: true });
  const config = { ...(opts.hostBridge ? {} : { bridge: 'none' }), ...opts.config };
  const configFile = path.join(base, 'daemon.json');
  await writeFile(configFile, opts.configText ?? `${JSON.stringify(config, null, 2)}\n`);

  // dockerd refuses a directive given both as a flag and in the file; so do we.
  const args = ['--config-file', configFile, '--root', root, '--exec-root', execRoot, '-H', `unix://${socket}`];
  if (!('storage-driver' in config)) args.push('--storage-driver', opts.storageDriver);
  if (opts.defaultRuntime && !('default-runtime' in config)) args.push('--default-runtime', opts.defaultRuntime);
  if (!('insecure-registries' in config)) {
    for (const r of opts.insecureRegistries ?? []) args.push('--insecure-registry', r);
  }
  args.push(...(opts.extraArgs ?? []));
  return { base, root, execRoot, socket, configFile, args, env: { ...process.env, ...opts.env } };
}

async function ping(host: string): Promise<boolean> {
  try {
    const r = await api(host, 'GET', '/_ping', undefined, { timeoutMs: 5_000 });
    return r.status === 200;
  } catch {
    return false;
  }
}

/** Starts skiffd on a unique temp root, exec root and socket; resolves once `GET /_ping` is 200. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const p = await prepare(opts);
  const dirs = [p.base, p.root, p.execRoot];
  const proc = new ManagedProcess(skiffdBin, p.args, { env: p.env, logFile: opts.logFile });
  const dockerHost = `unix://${p.socket}`;
  let stopped: Promise<ExitStatus> | undefined;
  const stop = (o: { keepState?: boolean } = {}) => {
    if (o.keepState) return proc.stop(30_000);
    stopped ??= (async () => {
      const status = await proc.stop(30_000);
      await cleanupDirs(dirs);
      await rm(p.socket, { force: true });
      return status;
    })();
    return stopped;
  };

  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.status) {
      const out = proc.output();
      await stop();
      throw new DaemonStartError(
        `skiffd ${p.args.join(' ')} exited before answering /_ping (${describeExit(proc.status)}):\n${out}`,
      );
    }
    if (await ping(dockerHost)) break;
    if (Date.now() > deadline) {
      const out = proc.output();
      await stop();
      throw new DaemonStartError(`skiffd did not answer GET /_ping on ${p.socket} within ${timeoutMs} ms:\n${out}`);
    }
    await sleep(50);
  }
  return {
    socket: p.socket,
    root: p.root,
    execRoot: p.execRoot,
    configFile: p.configFile,
    dockerHost,
    pid: proc.pid,
    output: () => proc.output(),
    stop,
  };
}

export interface StartFailure {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Runs skiffd with options that must make it refuse to start (config errors). Resolves with its
 * exit status and output; rejects if it starts serving instead or does not exit in time.
 */
export async function expectStartFailure(opts: DaemonOptions): Promise<StartFailure> {
  const p = await prepare(opts);
  // Roots the caller passed are the caller's (a restart on a kept state): only ours are removed.
  const dirs = [p.base, ...(opts.root ? [] : [p.root]), ...(opts.execRoot ? [] : [p.execRoot])];
  const proc = new ManagedProcess(skiffdBin, p.args, { env: p.env });
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    while (!proc.status) {
      if (await ping(`unix://${p.socket}`)) {
        throw new DaemonStartError(`skiffd started although it should have refused:\n${proc.output()}`);
      }
      if (Date.now() > deadline) throw new DaemonStartError(`skiffd neither failed nor served:\n${proc.output()}`);
      await sleep(50);
    }
    const status = await proc.exited;
    return { code: status.code, signal: status.signal, output: proc.output() };
  } finally {
    await proc.stop(10_000);
    await cleanupDirs(dirs);
    await rm(p.socket, { force: true });
  }
}
