import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  NotImplementedError,
  SkiffError,
  SystemError,
} from '../plugin-api/errors.js';
import type { Runtime } from '../plugin-api/runtime.js';
import type { ContainerRecord } from './container-types.js';
import { planUpdate } from './resources.js';
import { type StatsSample, statsFrames } from './stats.js';
import { containerTop, type TopResult, validatePsArgs } from './top.js';

/** What the operations need from ContainerService (which owns the records and their locking). */
export interface ResourceOpsDeps {
  get(ref: string): ContainerRecord;
  save(c: ContainerRecord): void;
  runtimeOf(c: ContainerRecord): Promise<Runtime>;
  publish(c: ContainerRecord, action: string): void;
  serial<T>(id: string, fn: () => Promise<T>): Promise<T>;
}

/** dockerd prefixes runtime failures ("Cannot pause container <id>: …"); the status stays the cause's. */
function prefixed(prefix: string, err: unknown): Error {
  const msg = `${prefix}: ${(err as Error).message}`;
  if (err instanceof InvalidParameterError) return new InvalidParameterError(msg, { cause: err });
  if (err instanceof ConflictError) return new ConflictError(msg, { cause: err });
  if (err instanceof NotFoundError) return new ConflictError(msg, { cause: err });
  if (err instanceof SkiffError && err.status === 501) return err;
  return new SystemError(msg, { cause: err });
}

/** pause/unpause, `docker update`, stats and top of containers, on the runtime's optional methods. */
export class ResourceOps {
  constructor(private readonly deps: ResourceOpsDeps) {}

  private async runtime<K extends 'pause' | 'resume' | 'update' | 'stats' | 'pids'>(
    c: ContainerRecord,
    method: K,
    what: string,
  ): Promise<Runtime & Required<Pick<Runtime, K>>> {
    const rt = await this.deps.runtimeOf(c);
    if (!rt[method]) throw new NotImplementedError(`runtime ${c.RuntimeName} cannot ${what}`);
    return rt as Runtime & Required<Pick<Runtime, K>>;
  }

  /** Records the freezer state; synchronous, so no other change to the record interleaves. */
  private setPaused(id: string, paused: boolean): ContainerRecord | undefined {
    let c: ContainerRecord;
    try {
      c = this.deps.get(id);
    } catch {
      return undefined;
    }
    if (!c.State.Running || c.State.Paused === paused) return undefined;
    c.State = { ...c.State, Paused: paused, Status: paused ? 'paused' : 'running' };
    this.deps.save(c);
    return c;
  }

  async pause(ref: string): Promise<void> {
    const c0 = this.deps.get(ref);
    await this.deps.serial(c0.Id, async () => {
      const c = this.deps.get(c0.Id);
      if (!c.State.Running) throw new ConflictError(`Container ${c.Id} is not running`);
      if (c.State.Paused) throw new ConflictError(`Container ${c.Id} is already paused`);
      const rt = await this.runtime(c, 'pause', 'pause containers');
      try {
        await rt.pause(c.Id);
      } catch (err) {
        throw prefixed(`Cannot pause container ${c.Id}`, err);
      }
      const saved = this.setPaused(c.Id, true);
      if (saved) this.deps.publish(saved, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const c0 = this.deps.get(ref);
    await this.deps.serial(c0.Id, async () => {
      const c = this.deps.get(c0.Id);
      // dockerd answers this one with a plain error (500), not a conflict.
      if (!c.State.Paused) throw new SystemError(`Container ${c.Id} is not paused`);
      const rt = await this.runtime(c, 'resume', 'unpause containers');
      try {
        await rt.resume(c.Id);
      } catch (err) {
        throw prefixed(`Cannot unpause container ${c.Id}`, err);
      }
      const saved = this.setPaused(c.Id, false);
      if (saved) this.deps.publish(saved, 'unpause');
    });
  }

  /**
   * After a signal to a paused container: thaw it so the signal is delivered (dockerd resumes
   * the task after kill and stop); the record follows.
   */
  async thawAfterSignal(id: string): Promise<void> {
    let c: ContainerRecord;
    try {
      c = this.deps.get(id);
    } catch {
      return;
    }
    if (!c.State.Paused) return;
    const rt = await this.deps.runtimeOf(c);
    await rt.resume?.(c.Id).catch(() => {});
    const saved = this.setPaused(c.Id, false);
    if (saved) this.deps.publish(saved, 'unpause');
  }

  /** `POST /containers/{id}/update`: live on a running (or paused) container, stored in any case. */
  async update(ref: string, body: unknown): Promise<{ Warnings: string[] }> {
    const c0 = this.deps.get(ref);
    return this.deps.serial(c0.Id, async () => {
      const c = this.deps.get(c0.Id);
      if (c.State.Status === 'removing' || c.State.Dead)
        throw new ConflictError(
          `Cannot update container ${c.Id}: container is marked for removal and cannot be "update"`,
        );
      const plan = planUpdate(c.Id, c.HostConfig, body);
      if (c.State.Running && Object.keys(plan.resources).length > 0) {
        const rt = await this.runtime(c, 'update', 'update resources');
        try {
          await rt.update(c.Id, { ...plan.resources });
        } catch (err) {
          throw prefixed(`Cannot update container ${c.Id}`, err);
        }
      }
      const fresh = this.deps.get(c.Id);
      fresh.HostConfig = plan.hostConfig;
      this.deps.save(fresh);
      this.deps.publish(fresh, 'update');
      return { Warnings: [] };
    });
  }

  private async sample(id: string): Promise<StatsSample> {
    let c: ContainerRecord;
    try {
      c = this.deps.get(id);
    } catch {
      return { kind: 'gone' };
    }
    if (!c.State.Running) return { kind: 'stopped' };
    const rt = await this.runtime(c, 'stats', 'report resource usage');
    try {
      return { kind: 'running', stats: await rt.stats(c.Id) };
    } catch (err) {
      // It stopped between the look at the record and the one at its cgroup.
      if (err instanceof ConflictError || err instanceof NotFoundError) return { kind: 'stopped' };
      throw err;
    }
  }

  /** `GET /containers/{id}/stats`: Docker's stats objects, one or one per second. */
  stats(
    ref: string,
    opts: { stream: boolean; oneShot: boolean; signal: AbortSignal },
  ): AsyncGenerator<Record<string, unknown>> {
    const c = this.deps.get(ref);
    return statsFrames(() => this.sample(c.Id), { ...opts, name: c.Name, id: c.Id });
  }

  /** `GET /containers/{id}/top`: the host's `ps`, narrowed to the container's processes. */
  async top(ref: string, psArgs: string): Promise<TopResult> {
    validatePsArgs(psArgs || '-ef');
    const c = this.deps.get(ref);
    if (!c.State.Running) throw new ConflictError(`Container ${c.Id} is not running`);
    const rt = await this.runtime(c, 'pids', 'list processes');
    let pids: number[];
    try {
      pids = await rt.pids(c.Id);
    } catch (err) {
      if (err instanceof NotFoundError) throw new ConflictError(`Container ${c.Id} is not running`);
      throw err;
    }
    const result = await containerTop(pids, psArgs);
    this.deps.publish(c, 'top');
    return result;
  }
}
