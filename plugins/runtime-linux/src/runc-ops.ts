import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '@skiff/core/plugin-api';
import { cgroupPids, readTaskStats, type TaskStats, taskCgroup } from './cgroups.js';
import { classify, lastLogError, type OciCli } from './oci-cli.js';

/** Runs one runtime subcommand. */
function runOci(oci: OciCli, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(oci.binary, [...oci.flags, '--log-format=json', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err: Buffer[] = [];
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new SystemError(`${oci.binary}: ${e.message}`, { cause: e })));
    child.on('close', (code, sig) => {
      if (code === 0) return resolve();
      const stderr = Buffer.concat(err).toString('utf8');
      const msg = lastLogError(stderr) ?? (stderr.trim() || (sig ? `killed by ${sig}` : `exit status ${code}`));
      reject(classify(msg, `${oci.binary} ${args[0]}`));
    });
  });
}

/** Freezes every process of the task (cgroup freezer). */
export function pauseTask(oci: OciCli, id: string): Promise<void> {
  return runOci(oci, ['pause', id]);
}

export function resumeTask(oci: OciCli, id: string): Promise<void> {
  return runOci(oci, ['resume', id]);
}

/**
 * `runtime update --resources FILE` with an OCI `linux.resources` object. runc leaves whatever the
 * object does not mention (or sets to 0) as it is. A file, not `-`: crun reads `-` by opening
 * /dev/stdin, which a socket (Node's stdio pipes) refuses.
 */
export async function updateTask(oci: OciCli, id: string, resources: Record<string, unknown>): Promise<void> {
  if (typeof resources !== 'object' || resources === null || Array.isArray(resources))
    throw new InvalidParameterError('resources must be an object');
  const dir = await mkdtemp(join(tmpdir(), 'skiff-update-'));
  try {
    const file = join(dir, 'resources.json');
    await writeFile(file, JSON.stringify(resources), { mode: 0o600 });
    await runOci(oci, ['update', '--resources', file, id]);
  } catch (e) {
    // The kernel refuses values it cannot apply (EINVAL/EBUSY on a cgroup file): the caller's input.
    if (e instanceof SystemError && /invalid argument|device or resource busy/i.test(e.message))
      throw new InvalidParameterError(e.message, { cause: e });
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The task's init pid (conmon's pidfile), if its process still exists. */
async function livePid(taskDir: string, id: string): Promise<number> {
  let pid: number;
  try {
    pid = Number.parseInt(await readFile(join(taskDir, 'pidfile'), 'utf8'), 10);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no such task: ${id}`);
    throw e;
  }
  if (!(pid > 0)) throw new ConflictError(`container ${id} is not running`);
  try {
    await readFile(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    throw new ConflictError(`container ${id} is not running`);
  }
  return pid;
}

/** Resource usage of a running task from its cgroup, in Docker's stats shape. */
export async function taskStats(taskDir: string, id: string, exited: boolean): Promise<TaskStats> {
  if (exited) throw new ConflictError(`container ${id} is not running`);
  const pid = await livePid(taskDir, id);
  return readTaskStats(pid, await taskCgroup(pid));
}

/** Host pids of every process in the task's cgroup. */
export async function taskPids(taskDir: string, id: string, exited: boolean): Promise<number[]> {
  if (exited) throw new ConflictError(`container ${id} is not running`);
  return cgroupPids(await taskCgroup(await livePid(taskDir, id)));
}
