import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Daemon, type DaemonOptions, startDaemon } from './daemon.js';

export interface RestartableDaemon {
  /** The daemon serving now. */
  readonly current: Daemon;
  /** Replaces the daemon by a new one on the same root, exec root and socket. */
  restart(how: 'sigterm' | 'sigkill', beforeStart?: () => Promise<void>): Promise<Daemon>;
  /** Stops whichever daemon serves and removes everything the first one was given. */
  stop(): Promise<void>;
}

/** A daemon for restart tests: the state survives `restart()`; `stop()` cleans it all up. */
export async function startRestartableDaemon(opts: DaemonOptions): Promise<RestartableDaemon> {
  const first = await startDaemon(opts);
  let current = first;
  return {
    get current() {
      return current;
    },
    async restart(how, beforeStart) {
      if (how === 'sigterm') await current.stop({ keepState: true });
      else {
        process.kill(current.pid, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 300));
      }
      await beforeStart?.();
      current = await startDaemon({ ...opts, root: first.root, execRoot: first.execRoot, socket: first.socket });
      return current;
    },
    async stop() {
      await current.stop();
      if (current !== first) await first.stop();
      await rm(dirname(first.socket), { recursive: true, force: true });
    },
  };
}
