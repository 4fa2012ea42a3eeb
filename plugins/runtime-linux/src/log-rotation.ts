import { type FSWatcher, watch } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger, LogRotation } from '@skiff/core/plugin-api';
import { openControl, reopenLog, rotatedPath, shiftLogFiles } from './log-files.js';

export interface RotationTarget {
  logPath: string;
  /** conmon's control fifo for the task. */
  ctlFifo: string;
  rotation: LogRotation;
}

/**
 * The most a log may grow to while no daemon rotates it (conmon's own `--log-size-max`, which
 * truncates the current file instead of keeping it): generous, so that a daemon that is merely
 * late never loses output to it, yet bounded, so a chatty task cannot fill the disk meanwhile.
 */
export function truncationCap(r: LogRotation): number {
  return Math.max(r.maxSize * 4, r.maxSize + 64 * 1024 * 1024);
}

/**
 * Size-based log rotation as kubelet does it for CRI runtimes: when the file conmon writes reaches
 * max-size, it is renamed to `<log>.1` (older ones shift up) and conmon is told to reopen its log
 * path. Nothing is lost (conmon keeps appending to the renamed file until it reopens) and nothing
 * polls: inotify on the log's directory says when the file grew. A file may overshoot max-size by
 * what is written before the rotation happens.
 */
export class LogRotator {
  private readonly tracked = new Map<string, { watcher: FSWatcher; stop: () => void }>();

  constructor(private readonly log?: Logger) {}

  has(key: string): boolean {
    return this.tracked.has(key);
  }

  track(key: string, t: RotationTarget): void {
    if (this.tracked.has(key)) return;
    const name = basename(t.logPath);
    let running = false;
    let again = false;
    let stopped = false;
    const check = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          if (stopped) return;
          const st = await stat(t.logPath).catch(() => undefined);
          if (!st || st.size < t.rotation.maxSize) continue;
          // Only while conmon runs: after the exit, the file is final and stays where it is.
          const ctl = await openControl(t.ctlFifo);
          if (!ctl) return;
          try {
            // Rotation comes after the file outgrew max-size (dockerd's comes before a write would),
            // so the fresh file may stay empty: with max-file 1 the previous one stays until the next
            // rotation, or logs could come back empty.
            await shiftLogFiles(t.logPath, Math.max(2, t.rotation.maxFiles));
            if (!(await reopenLog(ctl))) {
              // conmon exited in between: its last file goes back to the current name.
              await rename(rotatedPath(t.logPath, 1), t.logPath).catch(() => {});
              return;
            }
          } finally {
            await ctl.close();
          }
        } while (again);
      } catch (err) {
        this.log?.warn('log rotation failed', { id: key, error: String(err) });
      } finally {
        running = false;
      }
    };
    let watcher: FSWatcher;
    try {
      watcher = watch(dirname(t.logPath), { persistent: false }, (_event, file) => {
        if (file === null || file === name) void check();
      });
    } catch (err) {
      this.log?.warn('cannot watch the log for rotation', { id: key, error: String(err) });
      return;
    }
    watcher.on('error', () => this.untrack(key));
    this.tracked.set(key, {
      watcher,
      stop: () => {
        stopped = true;
      },
    });
    // It may have grown while nobody watched (a daemon restart).
    void check();
  }

  untrack(key: string): void {
    const t = this.tracked.get(key);
    if (!t) return;
    this.tracked.delete(key);
    t.stop();
    t.watcher.close();
  }

  close(): void {
    for (const key of [...this.tracked.keys()]) this.untrack(key);
  }
}
