import { randomBytes } from 'node:crypto';
import { ConflictError, InvalidParameterError, NotFoundError, SkiffError } from '../plugin-api/errors.js';
import { checkFilterKeys, matchLabel, pruneLabelsMatch } from '../util/filter-values.js';
import { diskUsage } from '../host/usage.js';
import type { EventBus } from '../plugin-api/events.js';
import type { Logger } from '../plugin-api/logger.js';
import type { VolumeDriver } from '../plugin-api/volume.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';
import type { VolumeRecord, VolumeStore } from './volume-store.js';
import { goMap } from '../util/go-json.js';

export const DEFAULT_VOLUME_DRIVER = 'local';

export interface CreateVolumeRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Docker's `Volume` object. */
export interface VolumeView {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local' | 'global';
  UsageData?: { RefCount: number; Size: number };
}

function stringMap(v: unknown, field: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError(`${field} must be an object`);
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new InvalidParameterError(`${field}.${k} must be a string`);
  }
  return v as Record<string, string>;
}

/** Parses a `POST /volumes/create` body. */
export function parseCreateVolume(body: unknown): CreateVolumeRequest {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidParameterError('body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const f of ['Name', 'Driver'] as const) {
    if (b[f] !== undefined && typeof b[f] !== 'string') throw new InvalidParameterError(`${f} must be a string`);
  }
  return {
    Name: (b.Name as string | undefined) || undefined,
    Driver: (b.Driver as string | undefined) || undefined,
    DriverOpts: stringMap(b.DriverOpts, 'DriverOpts'),
    Labels: stringMap(b.Labels, 'Labels'),
  };
}

/** Volumes: records in SQLite, data with their driver; in use while any container's mounts name them. */
export class VolumeService {
  private readonly creating = new Map<string, Promise<VolumeRecord>>();

  constructor(
    readonly store: VolumeStore,
    private readonly drivers: DriverRegistry,
    private readonly events: EventBus,
    private readonly log: Logger,
    /** Driver of new volumes that name none (daemon.json default-volume-driver). */
    readonly defaultDriver: string = DEFAULT_VOLUME_DRIVER,
  ) {}

  driver(name: string): Promise<VolumeDriver> {
    if (!this.drivers.has('volume', name))
      throw new NotFoundError(`error looking up volume plugin ${name}: plugin "${name}" not found`);
    return this.drivers.get('volume', name);
  }

  /** Creates a volume, or returns the existing one of that name (as dockerd does). */
  async create(req: CreateVolumeRequest, anonymous = false): Promise<VolumeRecord> {
    const name = req.Name || randomBytes(32).toString('hex');
    const driverName = req.Driver || this.defaultDriver;
    const pending = this.creating.get(name);
    if (pending) await pending.catch(() => {});
    const existing = this.store.get(name);
    if (existing) {
      if (req.Driver && existing.driver !== driverName) {
        throw new ConflictError(`a volume with the name ${name} already exists with driver "${existing.driver}"`);
      }
      return existing;
    }
    const p = this.doCreate(name, driverName, req, anonymous);
    this.creating.set(name, p);
    try {
      return await p;
    } finally {
      if (this.creating.get(name) === p) this.creating.delete(name);
    }
  }

  private async doCreate(
    name: string,
    driverName: string,
    req: CreateVolumeRequest,
    anonymous: boolean,
  ): Promise<VolumeRecord> {
    const driver = await this.driver(driverName);
    const info = await driver.create(name, req.DriverOpts ?? {}, req.Labels ?? {}).catch((err: unknown) => {
      // dockerd names the volume in the message: `create x/y: "x/y" includes invalid characters…`.
      if (err instanceof SkiffError)
        throw new (err.constructor as new (m: string) => SkiffError)(`create ${name}: ${err.message}`);
      throw err;
    });
    const rec: VolumeRecord = {
      name,
      driver: driverName,
      createdAt: info.createdAt.toISOString(),
      labels: req.Labels ?? null,
      options: req.DriverOpts ?? null,
      anonymous,
    };
    try {
      this.store.insert(rec);
    } catch (err) {
      await driver.remove(name).catch(() => {});
      throw err;
    }
    this.events.publish({ Type: 'volume', Action: 'create', Actor: { ID: name, Attributes: { driver: driverName } } });
    return rec;
  }

  get(name: string): VolumeRecord {
    const v = this.store.get(name);
    if (!v) throw new NotFoundError(`get ${name}: no such volume`);
    return v;
  }

  /**
   * Every volume with `UsageData` (`docker system df`): the containers that use it and the bytes
   * it holds where its driver can tell (-1 elsewhere, as dockerd reports for other drivers).
   */
  async usage(): Promise<VolumeView[]> {
    const counts = this.store.userCounts();
    return Promise.all(
      this.store.list().map(async (v) => {
        const view = await this.view(v, counts.get(v.name) ?? 0);
        const driver = await this.driver(v.driver).catch(() => undefined);
        const size = await driver?.usage?.(v.name).catch(() => undefined);
        if (size !== undefined) view.UsageData = { RefCount: counts.get(v.name) ?? 0, Size: size };
        return view;
      }),
    );
  }

  async view(v: VolumeRecord, usage?: number): Promise<VolumeView> {
    // A volume whose driver is gone is still listed (and can be removed with force).
    const driver = await this.driver(v.driver).catch(() => undefined);
    const info = await driver?.get(v.name).catch(() => undefined);
    const out: VolumeView = {
      CreatedAt: v.createdAt.replace(/\.\d+Z$/, 'Z'),
      Driver: v.driver,
      Labels: goMap(v.labels),
      Mountpoint: info?.mountpoint ?? '',
      Name: v.name,
      Options: goMap(v.options),
      Scope: driver?.capabilities().scope ?? 'local',
    };
    if (usage !== undefined) out.UsageData = { RefCount: usage, Size: -1 };
    return out;
  }

  /** Volume events (`create`, `destroy`, `mount`, `unmount`) as dockerd sends them. */
  publish(name: string, action: string, attributes: Record<string, string>): void {
    this.events.publish({ Type: 'volume', Action: action, Actor: { ID: name, Attributes: attributes } });
  }

  /** `GET /volumes` with Docker's filters: dangling, driver, label, name. */
  list(filters: Map<string, string[]>): VolumeRecord[] {
    for (const k of filters.keys()) {
      if (!['dangling', 'driver', 'label', 'name'].includes(k))
        throw new InvalidParameterError(`invalid filter '${k}'`);
    }
    const counts = this.store.userCounts();
    return this.store.list().filter((v) => matches(v, filters, counts.get(v.name) ?? 0));
  }

  /** ConflictError while a container uses it; with `force`, a missing volume is not an error. */
  async remove(name: string, force = false): Promise<void> {
    const v = this.store.get(name);
    if (!v) {
      if (force) return;
      throw new NotFoundError(`get ${name}: no such volume`);
    }
    const users = this.store.users(name);
    if (users.length > 0) throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    const driver = await this.driver(v.driver).catch((err: unknown) => {
      if (force) return undefined;
      throw err;
    });
    try {
      await driver?.remove(name);
    } catch (err) {
      if (!(err instanceof NotFoundError) && !force) throw err;
      if (!(err instanceof NotFoundError)) this.log.warn('volume driver failed to remove; record purged', { name });
    }
    this.store.delete(name);
    this.events.publish({ Type: 'volume', Action: 'destroy', Actor: { ID: name, Attributes: { driver: v.driver } } });
  }

  /** Removes the volumes no container uses (API 1.41: named ones too). */
  async prune(filters: Map<string, string[]>): Promise<{ deleted: string[]; reclaimed: number }> {
    checkFilterKeys(filters, ['label', 'label!', 'all']);
    const deleted: string[] = [];
    let reclaimed = 0;
    const counts = this.store.userCounts();
    for (const v of this.store.list()) {
      if ((counts.get(v.name) ?? 0) > 0) continue;
      if (!pruneLabelsMatch(v.labels ?? {}, filters)) continue;
      try {
        const size = await this.sizeOf(v);
        await this.remove(v.name);
        deleted.push(v.name);
        reclaimed += size;
      } catch (err) {
        this.log.warn('prune could not remove a volume', { name: v.name, error: err as Error });
      }
    }
    return { deleted, reclaimed };
  }

  /** Bytes in a local volume (as dockerd, only `local` volumes count toward SpaceReclaimed). */
  private async sizeOf(v: VolumeRecord): Promise<number> {
    if (v.driver !== DEFAULT_VOLUME_DRIVER) return 0;
    const info = await (await this.driver(v.driver)).get(v.name).catch(() => undefined);
    return info ? (await diskUsage(info.mountpoint).catch(() => ({ size: 0 }))).size : 0;
  }
}

function matches(v: VolumeRecord, f: Map<string, string[]>, users: number): boolean {
  const dangling = f.get('dangling');
  if (dangling) {
    const want = dangling.map((d) => {
      if (['true', '1'].includes(d)) return true;
      if (['false', '0'].includes(d)) return false;
      throw new InvalidParameterError(`invalid filter 'dangling=${d}'`);
    });
    if (!want.includes(users === 0)) return false;
  }
  const drivers = f.get('driver');
  if (drivers && !drivers.includes(v.driver)) return false;
  const names = f.get('name');
  if (names && !names.some((n) => v.name.includes(n))) return false;
  const labels = f.get('label');
  if (labels && !labels.every((l) => matchLabel(v.labels ?? {}, l))) return false;
  return true;
}
