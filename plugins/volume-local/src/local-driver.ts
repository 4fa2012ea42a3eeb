import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, diskUsage, isErrno, mountsUnder, run } from '@skiff/core/host';
import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  SystemError,
  type Labels,
  type VolumeDriver,
  type VolumeInfo,
} from '@skiff/core/plugin-api';

/** moby's local driver: at least two characters, the first alphanumeric. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const VALID_OPTS = new Set(['type', 'device', 'o']);
/** An option that is given needs these others too (moby `mandatoryOpts`). */
const REQUIRED_WITH: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device'] };

interface Meta {
  createdAt: string;
  labels: Labels;
  options: Labels;
}

export function validateVolumeName(name: string): void {
  if (name.length === 1) {
    throw new InvalidParameterError('volume name is too short, names should be at least two alphanumeric characters');
  }
  if (!NAME.test(name)) {
    throw new InvalidParameterError(
      `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

export function validateVolumeOptions(opts: Labels): void {
  for (const key of Object.keys(opts)) {
    if (!VALID_OPTS.has(key)) throw new InvalidParameterError(`invalid option: "${key}"`);
  }
  for (const [key, needs] of Object.entries(REQUIRED_WITH)) {
    if (!(key in opts)) continue;
    for (const n of needs) if (!(n in opts)) throw new InvalidParameterError(`missing required option: "${n}"`);
  }
  for (const [k, v] of Object.entries(opts)) {
    if (typeof v !== 'string' || v.includes('\0')) throw new InvalidParameterError(`invalid value for option "${k}"`);
  }
}

/**
 * Named volumes as directories `<root>/<name>/_data` with their metadata beside them. With
 * `type`/`device`/`o` the device is mounted on `_data` by the first caller and unmounted by the
 * last; the callers holding a volume are kept under the state dir (it survives a daemon restart,
 * not a reboot — like the mounts themselves).
 */
export class LocalVolumeDriver implements VolumeDriver {
  readonly name = 'local';
  /** Serialises create/remove/mount/unmount per volume. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly root: string,
    private readonly state: string,
  ) {}

  capabilities(): { scope: 'local' } {
    return { scope: 'local' };
  }

  private async locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(name, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(name) === next) this.locks.delete(name);
    }
  }

  private dir(name: string): string {
    validateVolumeName(name);
    return join(this.root, name);
  }

  private refsFile(name: string): string {
    return join(this.state, 'refs', `${name}.json`);
  }

  async create(name: string, opts: Labels, labels: Labels): Promise<VolumeInfo> {
    const dir = this.dir(name);
    validateVolumeOptions(opts);
    return this.locked(name, async () => {
      const existing = await this.readMeta(name);
      if (existing) return this.info(name, existing);
      const meta: Meta = { createdAt: new Date().toISOString(), labels: { ...labels }, options: { ...opts } };
      await mkdir(join(dir, '_data'), { recursive: true, mode: 0o755 });
      try {
        await atomicWriteFile(join(dir, 'meta.json'), JSON.stringify(meta));
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      return this.info(name, meta);
    });
  }

  private async readMeta(name: string): Promise<Meta | undefined> {
    try {
      const m = JSON.parse(await readFile(join(this.dir(name), 'meta.json'), 'utf8')) as Meta;
      if (typeof m !== 'object' || m === null || typeof m.createdAt !== 'string') return undefined;
      return { createdAt: m.createdAt, labels: m.labels ?? {}, options: m.options ?? {} };
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  private info(name: string, meta: Meta): VolumeInfo {
    return {
      name,
      driver: this.name,
      mountpoint: join(this.root, name, '_data'),
      createdAt: new Date(meta.createdAt),
      scope: 'local',
      labels: meta.labels,
      options: meta.options,
    };
  }

  async get(name: string): Promise<VolumeInfo> {
    const meta = await this.readMeta(name);
    if (!meta) throw new NotFoundError(`no such volume: ${name}`);
    return this.info(name, meta);
  }

  /** What is below the volume's `_data`, as dockerd's local driver counts it for `docker system df`. */
  async usage(name: string): Promise<number> {
    const { mountpoint } = await this.get(name);
    return (await diskUsage(mountpoint)).size;
  }

  async list(): Promise<VolumeInfo[]> {
    const names = await readdir(this.root).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return [] as string[];
      throw err;
    });
    const out: VolumeInfo[] = [];
    for (const n of names) {
      if (!NAME.test(n)) continue;
      const meta = await this.readMeta(n);
      if (meta) out.push(this.info(n, meta));
    }
    return out;
  }

  async remove(name: string): Promise<void> {
    const dir = this.dir(name);
    await this.locked(name, async () => {
      if (!(await this.readMeta(name))) throw new NotFoundError(`no such volume: ${name}`);
      const refs = await this.readRefs(name);
      if (refs.length > 0) throw new ConflictError(`volume ${name} is in use`);
      // Never recurse into a mounted device (a bind of a host directory would be emptied).
      for (const mp of await mountsUnder(dir)) await run('umount', [mp]);
      await rm(join(dir, 'meta.json'), { force: true });
      await rm(dir, { recursive: true, force: true });
      await rm(this.refsFile(name), { force: true });
    });
  }

  private async readRefs(name: string): Promise<string[]> {
    try {
      const v = JSON.parse(await readFile(this.refsFile(name), 'utf8')) as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return [];
      throw err;
    }
  }

  private async writeRefs(name: string, refs: string[]): Promise<void> {
    if (refs.length === 0) {
      await rm(this.refsFile(name), { force: true });
      return;
    }
    await mkdir(join(this.state, 'refs'), { recursive: true, mode: 0o700 });
    await atomicWriteFile(this.refsFile(name), JSON.stringify(refs));
  }

  async mount(name: string, callerId: string): Promise<{ path: string }> {
    const data = join(this.dir(name), '_data');
    return this.locked(name, async () => {
      const meta = await this.readMeta(name);
      if (!meta) throw new NotFoundError(`no such volume: ${name}`);
      const refs = await this.readRefs(name);
      if (refs.includes(callerId)) return { path: data };
      if (refs.length === 0 && meta.options.device !== undefined && !(await isMountPoint(data))) {
        await this.mountDevice(meta.options, data);
      }
      try {
        await this.writeRefs(name, [...refs, callerId]);
      } catch (err) {
        if (refs.length === 0) await run('umount', [data]).catch(() => {});
        throw err;
      }
      return { path: data };
    });
  }

  private async mountDevice(opts: Labels, target: string): Promise<void> {
    const args = ['-t', opts.type as string];
    if (opts.o) args.push('-o', opts.o);
    args.push('--', opts.device as string, target);
    try {
      await run('mount', args);
    } catch (err) {
      throw new SystemError(`error while mounting volume '${target}': ${(err as Error).message}`, { cause: err });
    }
  }

  async unmount(name: string, callerId: string): Promise<void> {
    const data = join(this.dir(name), '_data');
    await this.locked(name, async () => {
      const refs = await this.readRefs(name);
      if (!refs.includes(callerId)) return;
      const rest = refs.filter((r) => r !== callerId);
      if (rest.length === 0) {
        const meta = await this.readMeta(name);
        if (meta?.options.device !== undefined && (await isMountPoint(data))) await run('umount', [data]);
      }
      await this.writeRefs(name, rest);
    });
  }

  /** Callers holding `name` (for tests and diagnostics). */
  holders(name: string): Promise<string[]> {
    return this.readRefs(name);
  }
}

async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountsUnder(dir)).includes(dir);
}
