import { constants } from 'node:fs';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';

/**
 * A task's log and its rotated predecessors, as dockerd's json-file names them: `<log>` is the
 * current file, `<log>.1` the one before it, `<log>.2` older still.
 */
export function rotatedPath(logPath: string, n: number): string {
  return n === 0 ? logPath : `${logPath}.${n}`;
}

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === code;
}

/**
 * Shifts `<log>.k` to `<log>.k+1` (dropping the ones beyond `maxFiles - 1`) and renames the current
 * file to `<log>.1`. The writer keeps appending to the renamed file until it reopens the path.
 */
export async function shiftLogFiles(logPath: string, maxFiles: number): Promise<void> {
  const keep = Math.max(1, maxFiles - 1);
  // Anything beyond what is kept (max-file lowered since, or a truncating writer left it) goes.
  for (let n = keep; ; n++) {
    try {
      await rm(rotatedPath(logPath, n), { force: false });
    } catch (e) {
      if (isErrno(e, 'ENOENT')) break;
      throw e;
    }
  }
  for (let n = keep - 1; n >= 0; n--) {
    try {
      await rename(rotatedPath(logPath, n), rotatedPath(logPath, n + 1));
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  }
}

/**
 * conmon's control fifo, opened for writing without blocking; undefined when no conmon reads it
 * any more (the task has exited).
 */
export async function openControl(ctlFifo: string): Promise<FileHandle | undefined> {
  try {
    return await open(ctlFifo, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENXIO') || isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** Asks conmon to reopen its log file (control message type 2, as CRI-O's ReopenContainerLog sends it). */
export async function reopenLog(ctl: FileHandle): Promise<boolean> {
  try {
    await ctl.write('2 0 0\n');
    return true;
  } catch (e) {
    if (isErrno(e, 'EPIPE')) return false;
    throw e;
  }
}
