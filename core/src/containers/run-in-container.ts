import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime } from '../plugin-api/runtime.js';
import { allCapabilities } from './capabilities.js';
import type { OciSpec } from './oci-spec.js';
import { replaceOrAppendEnv } from './process-env.js';
import { resolveUser } from './user.js';

export interface ProcessOptions {
  cmd: string[];
  /** The daemon's environment for the process (processEnv of the container, with the exec's terminal). */
  baseEnv: string[];
  env: string[];
  /** Empty: the container's working directory. */
  cwd: string;
  /** Empty: the container's user. */
  user: string;
  tty: boolean;
  privileged: boolean;
}

/**
 * The OCI process of an extra process in a started container (bundle `bundle`): the container's
 * process with another command, env, cwd and user.
 */
export async function execProcessSpec(bundle: string, opts: ProcessOptions): Promise<Record<string, unknown>> {
  const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as OciSpec;
  const user = opts.user ? await resolveUser(spec.root.path, opts.user) : spec.process.user;
  const caps = opts.privileged ? [...allCapabilities()] : undefined;
  return {
    ...spec.process,
    terminal: opts.tty,
    args: opts.cmd,
    env: replaceOrAppendEnv(opts.baseEnv, opts.env),
    cwd: opts.cwd || spec.process.cwd,
    user,
    ...(caps ? { capabilities: { bounding: caps, effective: caps, permitted: caps } } : {}),
  };
}

export interface CommandResult {
  /** -1 when the command timed out (it is then killed). */
  exitCode: number;
  /** stdout and stderr interleaved, at most `maxOutput` bytes (then `...` is appended). */
  output: string;
  timedOut: boolean;
}

export interface RunOptions extends Partial<ProcessOptions> {
  cmd: string[];
  containerId: string;
  execId: string;
  bundle: string;
  /** Directory for the command's output file. */
  execRoot: string;
  /** Counted from the moment the process runs. */
  timeoutMs: number;
  maxOutput?: number;
  /** Called once the process runs. */
  onStart?: () => void;
}

/**
 * Runs a command in a running container, like a detached `docker exec` whose output is kept:
 * resolves with its exit code and output; rejects when it cannot be started.
 */
export async function runInContainer(runtime: Runtime, o: RunOptions): Promise<CommandResult> {
  if (!runtime.exec || !runtime.waitExec) throw new Error(`runtime ${runtime.name} does not support exec`);
  const maxOutput = o.maxOutput ?? 4096;
  const dir = join(o.execRoot, 'execs');
  const logPath = join(dir, `${o.execId}.log`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const process = await execProcessSpec(o.bundle, {
    cmd: o.cmd,
    baseEnv: o.baseEnv ?? [],
    env: o.env ?? [],
    cwd: o.cwd ?? '',
    user: o.user ?? '',
    tty: false,
    privileged: o.privileged ?? false,
  });
  let pid: number;
  try {
    ({ pid } = await runtime.exec(o.containerId, {
      execId: o.execId,
      process,
      terminal: false,
      stdin: false,
      logPath,
    }));
  } catch (err) {
    await rm(logPath, { force: true });
    throw err;
  }
  o.onStart?.();
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  const output = (async () => {
    for await (const entry of runtime.logs(o.containerId, logPath, { follow: true, execId: o.execId })) {
      const keep = Math.min(maxOutput - size, entry.data.length);
      if (keep > 0) {
        chunks.push(entry.data.subarray(0, keep));
        size += keep;
      }
      if (keep < entry.data.length) truncated = true;
    }
  })().catch(() => {});
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      // The runtime has no per-exec kill; the pid is the probe's process on the host.
      globalThis.process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, o.timeoutMs);
  try {
    const exit = await runtime.waitExec(o.containerId, o.execId).catch(() => ({ exitCode: 126 }));
    await output;
    const text = Buffer.concat(chunks).toString('utf8') + (truncated ? '...' : '');
    return { exitCode: timedOut ? -1 : exit.exitCode, output: text, timedOut };
  } finally {
    clearTimeout(timer);
    await rm(logPath, { force: true });
  }
}
