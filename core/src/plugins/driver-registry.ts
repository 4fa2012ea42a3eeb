import { NotFoundError } from '../plugin-api/errors.js';
import type { DriverOptions } from '../plugin-api/manifest.js';
import type { DriverKinds, PluginKind } from '../plugin-api/tokens.js';

interface Entry<K extends PluginKind> {
  packageName: string;
  factory: (options: DriverOptions) => DriverKinds[K] | Promise<DriverKinds[K]>;
}

/**
 * Drivers provided by plugins, keyed by kind and name (not inversify named bindings: those are
 * skipped by getAll since inversify 7). Instances are created lazily, once per kind/name/options.
 * An instance whose factory fails is disabled: later gets fail at once with that error (until the
 * plugin is registered again), and `failures` reports it.
 */
export class DriverRegistry {
  private readonly entries = new Map<string, Entry<PluginKind>>();
  private readonly instances = new Map<string, Promise<unknown>>();
  private readonly failed = new Map<string, Error>();

  constructor(private readonly onFailure?: (kind: PluginKind, instance: string, err: Error) => void) {}

  add<K extends PluginKind>(kind: K, name: string, entry: Entry<K>): void {
    const key = `${kind}/${name}`;
    const existing = this.entries.get(key);
    if (existing) {
      throw new Error(`${kind} driver "${name}" is provided by both ${existing.packageName} and ${entry.packageName}`);
    }
    this.entries.set(key, entry as unknown as Entry<PluginKind>);
    this.forgetFailures(kind, name);
  }

  private forgetFailures(kind: PluginKind, name: string): void {
    for (const key of this.failed.keys()) if (key.startsWith(`${kind}/${name}/`)) this.failed.delete(key);
  }

  /** The instances of a driver that failed to start, by instance key, with their errors. */
  failures(kind: PluginKind, name: string): Map<string, Error> {
    const prefix = `${kind}/${name}/`;
    return new Map([...this.failed].filter(([k]) => k.startsWith(prefix)).map(([k, e]) => [k.slice(prefix.length), e]));
  }

  /**
   * Forgets a driver (a plugin disabled at run time) and returns its started instances, for the
   * caller to close. The caller makes sure nothing uses them any more.
   */
  remove(kind: PluginKind, name: string): unknown[] {
    this.entries.delete(`${kind}/${name}`);
    this.forgetFailures(kind, name);
    const prefix = `${kind}/${name}/`;
    const dropped: Promise<unknown>[] = [];
    for (const [key, inst] of this.instances) {
      if (key.startsWith(prefix)) {
        dropped.push(inst);
        this.instances.delete(key);
      }
    }
    return dropped;
  }

  has(kind: PluginKind, name: string): boolean {
    return this.entries.has(`${kind}/${name}`);
  }

  names(kind: PluginKind): string[] {
    return [...this.entries.keys()].filter((k) => k.startsWith(`${kind}/`)).map((k) => k.slice(kind.length + 1));
  }

  packageOf(kind: PluginKind, name: string): string | undefined {
    return this.entries.get(`${kind}/${name}`)?.packageName;
  }

  /** The driver instance; `instanceKey` distinguishes several instances of one driver (e.g. runc and crun). */
  async get<K extends PluginKind>(
    kind: K,
    name: string,
    options: DriverOptions = {},
    instanceKey = name,
  ): Promise<DriverKinds[K]> {
    const entry = this.entries.get(`${kind}/${name}`);
    if (!entry) {
      const known = this.names(kind);
      throw new NotFoundError(
        `no ${kind} driver named "${name}" (available: ${known.length ? known.join(', ') : 'none'})`,
      );
    }
    const key = `${kind}/${name}/${instanceKey}`;
    const failure = this.failed.get(key);
    if (failure) throw failure;
    let inst = this.instances.get(key);
    if (!inst) {
      inst = Promise.resolve().then(() => entry.factory(options));
      inst.catch((err: unknown) => {
        this.instances.delete(key);
        const e = err instanceof Error ? err : new Error(String(err));
        this.failed.set(key, e);
        this.onFailure?.(kind, instanceKey, e);
      });
      this.instances.set(key, inst);
    }
    return (await inst) as DriverKinds[K];
  }

  /** The instances of one driver started so far (never starts one). */
  async startedInstances(kind: PluginKind, name: string): Promise<unknown[]> {
    const prefix = `${kind}/${name}/`;
    const mine = [...this.instances].filter(([key]) => key.startsWith(prefix)).map(([, inst]) => inst);
    const settled = await Promise.allSettled(mine);
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  /** Instances created so far (to close them on shutdown). */
  async created(): Promise<unknown[]> {
    const settled = await Promise.allSettled(this.instances.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }
}
