import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '@skiff/core/plugin-api';
import { cgroupPids, readTaskStats, type TaskStats, taskCgroup } from './cgroups.js';
import { classify, lastLogError, type OciCli } from './oci-cli.js';

/** Runs one runtime subcommand, optionally feeding `input` on its stdin. */
function runOci(oci: OciCli, args: readonly string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(oci.binary, [...oci.flags, '--log-format=json', ...args], {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
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
    if (input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
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
 * `runtime update --resources -` with an OCI `linux.resources` object. runc leaves whatever the
 * object does not mention (or sets to 0) as it is.
 */
export async function updateTask(oci: OciCli, id: string, resources: Record<string, unknown>): Promise<void> {
  if (typeof resources !== 'object' || resources === null || Array.isArray(resources))
    throw new InvalidParameterError('resources must be an object');
  try {
    await runOci(oci, ['update', '--resources', '-', id], JSON.stringify(resources));
  } catch (e) {
    // The kernel refuses values it cannot apply (EINVAL/EBUSY on a cgroup file): the caller's input.
    if (e instanceof SystemError && /invalid argument|device or resource busy/i.test(e.message))
      throw new InvalidParameterError(e.message, { cause: e });
    throw e;
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
