import { mkdir } from 'node:fs/promises';
import { mountAll, unmountAll } from '../host/mount.js';
import { ConflictError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { ContainerRecord } from './container-types.js';

/**
 * `--pid container:<name>` and `--ipc container:<name>`: the container joins the PID or IPC
 * namespace of another one's task (`/proc/<pid>/ns/pid|ipc`), as dockerd does (moby:
 * daemon/container_operations_unix.go getPIDContainer/getIPCContainer, oci_linux.go WithNamespaces).
 */

const PREFIX = 'container:';

/** The container a `container:<ref>` mode names, or undefined for other modes. */
export function namespaceDonorRef(mode: unknown): string | undefined {
  return typeof mode === 'string' && mode.startsWith(PREFIX) ? mode.slice(PREFIX.length) : undefined;
}

type Lookup = (ref: string) => ContainerRecord;

function donor(lookup: Lookup, ref: string): ContainerRecord {
  try {
    return lookup(ref);
  } catch (err) {
    // dockerd: errdefs.InvalidParameter(err) — a 400 that keeps the "No such container" text.
    if (err instanceof NotFoundError) throw new InvalidParameterError(err.message);
    throw err;
  }
}

/**
 * At create: the named containers must exist (400, "No such container: x"); the modes are stored
 * with the donor's full ID, as dockerd stores them (inspect shows `container:<id>`).
 */
export function resolveNamespaceDonors(hc: Record<string, unknown>, lookup: Lookup): void {
  const pid = namespaceDonorRef(hc.PidMode);
  if (pid !== undefined) hc.PidMode = `${PREFIX}${donor(lookup, pid).Id}`;
  const ipc = namespaceDonorRef(hc.IpcMode);
  if (ipc !== undefined) hc.IpcMode = `${PREFIX}${donor(lookup, ipc).Id}`;
}

function notRunning(id: string): ConflictError {
  return new ConflictError(`container ${id} is not running`);
}

export interface SharedNamespacePaths {
  pidNamespacePath?: string;
  ipcNamespacePath?: string;
  /** The container whose IPC namespace (and /dev/shm) is joined. */
  ipcDonor?: ContainerRecord;
}

/**
 * At start: the namespace paths of the donors' tasks. A donor that is not running (or is
 * restarting) is a 409 with dockerd's message; an IPC donor must have been created `shareable`
 * (or share the host's), as dockerd requires.
 */
export function sharedNamespacePaths(c: ContainerRecord, lookup: Lookup): SharedNamespacePaths {
  const out: SharedNamespacePaths = {};
  const pidRef = namespaceDonorRef(c.HostConfig.PidMode);
  if (pidRef !== undefined) {
    const d = donor(lookup, pidRef);
    if (d.Id === c.Id) throw new InvalidParameterError('cannot join own pid namespace');
    if (!d.State.Running || !d.State.Pid) throw notRunning(d.Id);
    if (d.State.Restarting)
      throw new ConflictError(`container ${d.Id} is restarting, wait until the container is running`);
    out.pidNamespacePath = `/proc/${d.State.Pid}/ns/pid`;
  }
  const ipcRef = namespaceDonorRef(c.HostConfig.IpcMode);
  if (ipcRef !== undefined) {
    const d = donor(lookup, ipcRef);
    const prefix = `can't join IPC of container ${d.Id}`;
    if (d.Id === c.Id) throw new InvalidParameterError(`${prefix}: cannot join own IPC namespace`);
    if (!d.State.Running || !d.State.Pid) throw new ConflictError(`${prefix}: ${notRunning(d.Id).message}`);
    const mode = d.HostConfig.IpcMode;
    if (mode !== 'shareable' && mode !== 'host')
      throw new InvalidParameterError(
        `${prefix}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`,
      );
    out.ipcNamespacePath = `/proc/${d.State.Pid}/ns/ipc`;
    if (mode === 'shareable') out.ipcDonor = d;
  }
  return out;
}

/**
 * /dev/shm shared with joiners, as dockerd's `mounts/shm`: a `shareable` container gets a tmpfs
 * mounted on the host at `dir` (bound into it as /dev/shm), and a container joining its IPC
 * namespace binds the same directory, so POSIX shared memory is shared along with the namespace.
 * Returns the directory to bind, or undefined for a private /dev/shm.
 */
export async function prepareSharedShm(
  c: ContainerRecord,
  ipcDonor: ContainerRecord | undefined,
  dirOf: (id: string) => string,
): Promise<string | undefined> {
  if (ipcDonor) return dirOf(ipcDonor.Id);
  if (c.HostConfig.IpcMode !== 'shareable') return undefined;
  const dir = dirOf(c.Id);
  await unmountAll(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const size = c.HostConfig.ShmSize ? [`size=${c.HostConfig.ShmSize}`] : [];
  await mountAll([{ type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', ...size] }], dir);
  return dir;
}

/** Unmounts a `shareable` container's /dev/shm from the host (joiners keep their own binds). */
export async function releaseSharedShm(c: ContainerRecord, dirOf: (id: string) => string): Promise<void> {
  if (c.HostConfig.IpcMode === 'shareable') await unmountAll(dirOf(c.Id));
}
