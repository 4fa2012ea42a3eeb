import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../plugin-api/logger.js';
import type { Runtime } from '../plugin-api/runtime.js';
import type { ContainerRecord, HealthcheckResult, HealthConfig, HealthState } from './container-types.js';
import { runInContainer } from './run-in-container.js';

// Defaults and limits of moby's daemon/health.go.
const NS_PER_MS = 1_000_000;
export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_START_INTERVAL_MS = 5_000;
export const DEFAULT_RETRIES = 3;
const MAX_LOG_ENTRIES = 5;
const MAX_OUTPUT = 4096;

/** What the monitor needs from the container service. */
export interface HealthHost {
  /** The current record; throws when the container is gone. */
  get(id: string): ContainerRecord;
  update(c: ContainerRecord): void;
  runtimeOf(c: ContainerRecord): Promise<Runtime>;
  bundlePath(id: string): string;
  /** The daemon's environment for a process of the container (processEnv, links included). */
  processEnv(c: ContainerRecord, tty: boolean): string[];
  execRoot: string;
  publish(c: ContainerRecord, action: string, extra?: Record<string, string>): void;
}

/** The probe's command line, or undefined when the container has no (enabled) healthcheck. */
export function probeCommand(hc: HealthConfig | undefined): string[] | undefined {
  const [kind, ...rest] = hc?.Test ?? [];
  if (kind === 'CMD' && rest.length > 0) return rest;
  // moby joins nothing: CMD-SHELL carries one shell string (more are passed as extra arguments).
  if (kind === 'CMD-SHELL' && rest.length > 0) return ['/bin/sh', '-c', ...rest];
  return undefined;
}

const ms = (ns: number | undefined, fallback: number) => (ns ? ns / NS_PER_MS : fallback);

/** A Go time.Duration string for the timeout message ("30s", "500ms", "1m30s"). */
export function goDuration(msValue: number): string {
  if (msValue < 1000) return `${msValue}ms`;
  const s = msValue / 1000;
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  if (m < 60) return `${m}m${rest}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${rest}s`;
}

/**
 * Healthchecks as in dockerd: while the container runs, the probe runs as an exec every Interval
 * (StartInterval during StartPeriod), Timeout each; Retries failures in a row make it unhealthy;
 * status changes are `health_status: …` events; the last five probes are kept in `State.Health`.
 */
export class HealthMonitor {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly host: HealthHost,
    private readonly log: Logger,
  ) {}

  /**
   * Starts probing a container that has just started: its status starts over (the last probes
   * stay, as in dockerd). With `resume` (found running by a restarted daemon), the persisted
   * status, failing streak and log go on from where they were: the container did not restart.
   */
  start(c: ContainerRecord, opts: { resume?: boolean } = {}): void {
    const cmd = probeCommand(c.Config.Healthcheck);
    if (!cmd) return;
    this.running.get(c.Id)?.abort();
    const ac = new AbortController();
    this.running.set(c.Id, ac);
    const prev = c.State.Health;
    c.State.Health =
      opts.resume && prev
        ? { Status: prev.Status, FailingStreak: prev.FailingStreak, Log: prev.Log.slice(-MAX_LOG_ENTRIES) }
        : { Status: 'starting', FailingStreak: 0, Log: prev?.Log ?? [] };
    this.host.update(c);
    const from = c.State.Health.Status;
    void this.loop(c.Id, c.Config.Healthcheck!, cmd, Date.parse(c.State.StartedAt), ac.signal, from).catch((err) => {
      if (!ac.signal.aborted) this.log.warn('health monitor stopped', { id: c.Id, error: err as Error });
    });
  }

  /** Stops probing (the container exited); like dockerd, a stopped monitor leaves the status unhealthy. */
  stop(id: string): void {
    const ac = this.running.get(id);
    if (!ac) return;
    ac.abort();
    this.running.delete(id);
    try {
      const c = this.host.get(id);
      if (c.State.Health) {
        c.State.Health.Status = 'unhealthy';
        this.host.update(c);
      }
    } catch {
      // Removed meanwhile.
    }
  }

  private async loop(
    id: string,
    hc: HealthConfig,
    cmd: string[],
    startedAt: number,
    signal: AbortSignal,
    from: HealthState['Status'],
  ) {
    const interval = ms(hc.Interval, DEFAULT_INTERVAL_MS);
    const startInterval = ms(hc.StartInterval, DEFAULT_START_INTERVAL_MS);
    const startPeriod = ms(hc.StartPeriod, 0);
    const timeout = ms(hc.Timeout, DEFAULT_TIMEOUT_MS);
    const retries = hc.Retries && hc.Retries > 0 ? hc.Retries : DEFAULT_RETRIES;
    // moby's getInterval: within the start period, StartInterval while starting, and never past its end.
    const nextDelay = (status: HealthState['Status']) => {
      const elapsed = Date.now() - startedAt;
      if (elapsed >= startPeriod) return interval;
      const remaining = startPeriod - elapsed;
      if (remaining < interval) return remaining;
      return status === 'starting' ? startInterval : interval;
    };
    let status = from;
    for (;;) {
      await sleep(nextDelay(status), undefined, { signal });
      const c = this.host.get(id);
      if (c.State.Paused) continue;
      const result = await this.probe(c, cmd, timeout, signal);
      if (signal.aborted) return;
      status = this.record(id, result, retries, startPeriod, startedAt) ?? status;
    }
  }

  private async probe(c: ContainerRecord, cmd: string[], timeoutMs: number, signal: AbortSignal) {
    const start = new Date();
    const execId = randomBytes(32).toString('hex');
    const line = cmd.join(' ');
    const attrs = { execID: execId };
    const result: HealthcheckResult = { Start: start.toISOString(), End: '', ExitCode: -1, Output: '' };
    try {
      const runtime = await this.host.runtimeOf(c);
      this.host.publish(c, `exec_create: ${line}`, attrs);
      const r = await runInContainer(runtime, {
        cmd,
        containerId: c.Id,
        execId,
        bundle: this.host.bundlePath(c.Id),
        execRoot: this.host.execRoot,
        user: c.Config.User,
        cwd: c.Config.WorkingDir,
        baseEnv: this.host.processEnv(c, false),
        timeoutMs,
        maxOutput: MAX_OUTPUT,
        onStart: () => this.host.publish(c, `exec_start: ${line}`, attrs),
      });
      if (!signal.aborted) this.host.publish(c, 'exec_die', { ...attrs, exitCode: String(r.exitCode) });
      result.ExitCode = r.exitCode;
      result.Output = r.timedOut
        ? `Health check exceeded timeout (${goDuration(timeoutMs)})${r.output ? `: ${r.output}` : ''}`
        : r.output;
    } catch (err) {
      result.Output = (err as Error).message;
    }
    result.End = new Date().toISOString();
    return result;
  }

  /** moby's handleProbeResult; returns the new status (undefined when the container is gone). */
  private record(
    id: string,
    result: HealthcheckResult,
    retries: number,
    startPeriodMs: number,
    startedAt: number,
  ): HealthState['Status'] | undefined {
    let c: ContainerRecord;
    try {
      c = this.host.get(id);
    } catch {
      return undefined;
    }
    const h: HealthState = c.State.Health ?? { Status: 'starting', FailingStreak: 0, Log: [] };
    const old = h.Status;
    h.Log = [...h.Log, result].slice(-MAX_LOG_ENTRIES);
    if (result.ExitCode === 0) {
      h.FailingStreak = 0;
      h.Status = 'healthy';
    } else if (!(h.Status === 'starting' && Date.parse(result.Start) - startedAt < startPeriodMs)) {
      // Failures within the start period do not count until a probe has succeeded.
      h.FailingStreak++;
      if (h.FailingStreak >= retries) h.Status = 'unhealthy';
    }
    c.State.Health = h;
    this.host.update(c);
    if (old !== h.Status) this.host.publish(c, `health_status: ${h.Status}`);
    return h.Status;
  }
}
