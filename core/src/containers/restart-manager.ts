import type { Logger } from '../plugin-api/logger.js';
import type { ContainerStore } from './container-store.js';
import { type ContainerRecord, ZERO_TIME } from './container-types.js';
import type { RestartPolicy } from './policy-config.js';

/** moby's restartmanager: 100 ms, doubled after every quick exit, at most a minute. */
export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
/** A run at least this long resets the back-off. */
export const BACKOFF_RESET_AFTER_MS = 10_000;

/** Whether the policy wants another run (moby's ShouldRestart, without the back-off). */
export function policyWantsRestart(
  policy: RestartPolicy,
  exitCode: number,
  manuallyStopped: boolean,
  restartCount: number,
): boolean {
  switch (policy.Name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !manuallyStopped;
    case 'on-failure':
      return exitCode !== 0 && (policy.MaximumRetryCount === 0 || restartCount < policy.MaximumRetryCount);
    default:
      return false;
  }
}

/** The next back-off after a run of `ranMs`, given the previous one (0 = none yet). */
export function nextBackoff(previousMs: number, ranMs: number): number {
  const prev = ranMs >= BACKOFF_RESET_AFTER_MS ? 0 : previousMs;
  return prev === 0 ? BACKOFF_START_MS : Math.min(prev * 2, BACKOFF_MAX_MS);
}

const SIGNAL_NUMBERS: Record<string, string> = { '1': 'HUP', '2': 'INT', '3': 'QUIT', '9': 'KILL', '15': 'TERM' };

function signalName(s: string): string {
  const name = s.replace(/^SIG/i, '').toUpperCase();
  return SIGNAL_NUMBERS[name] ?? name;
}

interface Entry {
  backoffMs: number;
  /** A user stopped or killed the container: no restart until its next start. */
  canceled: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Restart policies: after an exit, decides whether and when the container starts again; a user's
 * stop or kill cancels that until the next start. Per-container state lives in memory for one
 * daemon run (as in dockerd); `HasBeenManuallyStopped` and `RestartCount` are kept on the record.
 */
export class RestartManager {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: ContainerStore,
    private readonly log: Logger,
  ) {}

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { backoffMs: 0, canceled: false };
      this.entries.set(id, e);
    }
    return e;
  }

  /**
   * After the task of `c` exited with `exitCode`: when the policy restarts it, puts `c` in the
   * `restarting` state (the caller saves it) and returns the delay before the next start.
   */
  onExit(c: ContainerRecord, exitCode: number): number | undefined {
    if (c.HostConfig.RestartPolicy.Name === 'no' || c.HostConfig.AutoRemove) return undefined;
    const e = this.entry(c.Id);
    if (e.canceled || e.timer) return undefined;
    const started = Date.parse(c.State.StartedAt);
    const ranMs = Number.isFinite(started) ? Date.parse(c.State.FinishedAt) - started : 0;
    const backoff = nextBackoff(e.backoffMs, ranMs);
    if (!policyWantsRestart(c.HostConfig.RestartPolicy, exitCode, !!c.HasBeenManuallyStopped, c.RestartCount)) {
      return undefined;
    }
    e.backoffMs = backoff;
    c.RestartCount++;
    c.State = { ...c.State, Status: 'restarting', Restarting: true, FinishedAt: new Date().toISOString() };
    return backoff;
  }

  /** Runs `start` after `delayMs` unless a stop, kill or removal cancels it first. */
  schedule(id: string, delayMs: number, start: () => Promise<void>): void {
    const e = this.entry(id);
    clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (e.canceled) return;
      start().catch((err) => this.log.warn('restart by policy failed', { id, error: err as Error }));
    }, delayMs);
  }

  /** Whether a scheduled restart has not been dropped by a stop, kill or removal. */
  wanted(id: string): boolean {
    return !this.entries.get(id)?.canceled;
  }

  /**
   * A user's stop or kill (`cancel`: one that ends the container, see moby's killWithSignal):
   * marks `c` as manually stopped and, when `cancel`, drops any pending restart until the next start.
   */
  manualStop(c: ContainerRecord, cancel: boolean): void {
    if (cancel) {
      const e = this.entry(c.Id);
      e.canceled = true;
      clearTimeout(e.timer);
      e.timer = undefined;
    }
    if (!c.HasBeenManuallyStopped) {
      c.HasBeenManuallyStopped = true;
      this.store.update(c);
    }
  }

  /**
   * A user's kill with `signal`: as in moby's killWithSignal, it counts as a manual stop, and it
   * cancels the policy when it is SIGKILL, the container's stop signal, or any signal if none is set.
   * Returns whether it cancels.
   */
  manualKill(c: ContainerRecord, signal: string): boolean {
    const sig = signalName(signal);
    const cancels = sig === 'KILL' || !c.Config.StopSignal || signalName(c.Config.StopSignal) === sig;
    this.manualStop(c, cancels);
    return cancels;
  }

  /** Ends the `restarting` state of `c` (its restart was dropped) and saves it; false if it was not restarting. */
  settle(c: ContainerRecord): boolean {
    if (!c.State.Restarting) return false;
    c.State = { ...c.State, Status: 'exited', Restarting: false };
    this.store.update(c);
    return true;
  }

  /** A user's start: a fresh back-off and RestartCount, and the policy applies again. */
  reset(c: ContainerRecord): void {
    this.forget(c.Id);
    c.RestartCount = 0;
    c.HasBeenManuallyStopped = false;
  }

  forget(id: string): void {
    clearTimeout(this.entries.get(id)?.timer);
    this.entries.delete(id);
  }

  /**
   * At daemon start, after reconcile: containers the policy wants running but that are not (and
   * have no restart pending), as moby's restore does (`always` even after a user's stop).
   * Each is started with `start` (a user-like start: RestartCount and back-off reset).
   */
  async startAtBoot(containers: ContainerRecord[], start: (id: string) => Promise<void>): Promise<void> {
    for (const c of containers) {
      // The daemon went away during a back-off: the container is stopped until decided below.
      if (!this.entries.get(c.Id)?.timer) this.settle(c);
    }
    const due = containers.filter((c) => {
      if (c.State.Running || c.State.Restarting) return false;
      if (c.State.StartedAt === ZERO_TIME || c.HostConfig.AutoRemove) return false;
      return policyWantsRestart(
        c.HostConfig.RestartPolicy,
        c.State.ExitCode,
        !!c.HasBeenManuallyStopped,
        c.RestartCount,
      );
    });
    await Promise.all(
      due.map((c) =>
        start(c.Id).catch((err) =>
          this.log.warn('cannot start container by its restart policy', { id: c.Id, error: err as Error }),
        ),
      ),
    );
  }
}
