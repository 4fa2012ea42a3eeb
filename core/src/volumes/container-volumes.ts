import { mkdir, stat } from 'node:fs/promises';
import { mergeTmpfsOptions } from '../containers/host-options.js';
import type { OciMount } from '../containers/oci-spec.js';
import type { ContainerRecord } from '../containers/container-types.js';
import { isErrno } from '../host/fs.js';
import { splitRelativePath } from '../host/resolve.js';
import { InvalidParameterError } from '../plugin-api/errors.js';
import type { Logger } from '../plugin-api/logger.js';
import type { MountPoint } from './mount-types.js';
import { type MountRequest, parseBind, parseMount, parseVolumesFrom } from './mount-spec.js';
import { copyUp, targetInRoot } from './mount-target.js';
import type { VolumeService } from './volume-service.js';

/** Docker's `Mounts` entry of container inspect: a mount point without skiff's own bookkeeping. */
export type MountView = Omit<MountPoint, 'CopyData' | 'Anonymous' | 'TmpfsData'>;

/**
 * A container's binds, volumes and tmpfs mounts: planned at create (volumes created, mount points
 * stored), mounted at start (volumes held by the container, image content copied into new empty
 * volumes, targets resolved inside the rootfs), released at stop, forgotten at remove.
 */
export class ContainerVolumes {
  private lookup: (ref: string) => ContainerRecord = () => {
    throw new InvalidParameterError('containers are not available');
  };

  constructor(
    readonly volumes: VolumeService,
    private readonly log: Logger,
  ) {}

  bindContainers(containers: { get(ref: string): ContainerRecord }): void {
    this.lookup = (ref) => containers.get(ref);
  }

  /** At create: parses Binds, Mounts, VolumesFrom and Config.Volumes, creates volumes, stores the mount points. */
  async attach(c: ContainerRecord): Promise<void> {
    const byDest = new Map<string, MountRequest>();
    const hc = c.HostConfig;
    const from = hc.VolumesFrom;
    if (from !== undefined && from !== null && !Array.isArray(from))
      throw new InvalidParameterError('HostConfig.VolumesFrom must be an array');
    for (const raw of (from as unknown[] | null | undefined) ?? []) {
      const { ref, mode } = parseVolumesFrom(raw);
      const donor = this.lookup(ref);
      for (const m of this.volumes.store.mountsOf(donor.Id)) {
        if (m.Type === 'tmpfs') continue;
        byDest.set(m.Destination, { ...m, RW: mode ? mode === 'rw' : m.RW, Anonymous: false, CopyData: false });
      }
    }
    const explicit = new Set<string>();
    const add = (m: MountRequest): void => {
      if (explicit.has(m.Destination)) throw new InvalidParameterError(`Duplicate mount point: ${m.Destination}`);
      explicit.add(m.Destination);
      byDest.set(m.Destination, m);
    };
    // `--volume-driver`: the driver of the named and anonymous volumes of -v and the image (not of --mount).
    const vd = hc.VolumeDriver;
    if (vd !== undefined && vd !== null && typeof vd !== 'string')
      throw new InvalidParameterError('HostConfig.VolumeDriver must be a string');
    // Unset: the volume's own driver when it exists, else the daemon's default volume driver.
    const defaultDriver = vd || undefined;
    for (const b of hc.Binds ?? []) {
      const m = parseBind(b);
      add(m.Type === 'volume' ? { ...m, Driver: defaultDriver } : m);
    }
    const mounts = hc.Mounts;
    if (mounts !== undefined && mounts !== null && !Array.isArray(mounts))
      throw new InvalidParameterError('HostConfig.Mounts must be an array');
    for (const m of (mounts as unknown[] | null | undefined) ?? []) {
      const req = parseMount(m);
      if (req.Type === 'bind' && !req.CreateSource) {
        await stat(req.Source).catch((err: unknown) => {
          if (isErrno(err, 'ENOENT'))
            throw new InvalidParameterError(
              `invalid mount config for type "bind": bind source path does not exist: ${req.Source}`,
            );
          throw err;
        });
      }
      add(req);
    }
    for (const d of Object.keys(c.Config.Volumes ?? {})) {
      const dest = d.replace(/(.)\/+$/, '$1');
      if (byDest.has(dest)) continue;
      byDest.set(dest, {
        Type: 'volume',
        Name: '',
        Source: '',
        Destination: dest,
        Driver: defaultDriver,
        Mode: '',
        RW: true,
        Propagation: '',
        CopyData: true,
        Anonymous: true,
      });
    }
    const created: string[] = [];
    const points: MountPoint[] = [];
    try {
      for (const m of byDest.values()) {
        const { DriverOpts, Labels, ...point } = m;
        if (point.Type === 'volume' && !point.Source) {
          const anonymous = !point.Name;
          const existed = point.Name ? this.volumes.store.get(point.Name) !== undefined : false;
          const v = await this.volumes.create(
            { Name: point.Name || undefined, Driver: point.Driver, DriverOpts, Labels },
            anonymous,
          );
          if (anonymous) created.push(v.name);
          point.Name = v.name;
          point.Driver = v.driver;
          point.Anonymous = anonymous || point.Anonymous === true;
          if (existed) point.Anonymous = false;
          const info = await (await this.volumes.driver(v.driver)).get(v.name);
          point.Source = info.mountpoint;
        }
        points.push(point);
      }
      this.volumes.store.setMounts(c.Id, points);
    } catch (err) {
      for (const name of created) await this.volumes.remove(name).catch(() => {});
      throw err;
    }
  }

  /** At start: the OCI mounts, with every volume held by the container. Undone by release(). */
  async mountForStart(c: ContainerRecord, rootfs: string): Promise<OciMount[]> {
    const out: OciMount[] = [];
    try {
      for (const m of this.volumes.store.mountsOf(c.Id)) out.push(await this.mountOne(c.Id, m, rootfs));
    } catch (err) {
      await this.release(c.Id);
      throw err;
    }
    return out;
  }

  private async mountOne(id: string, m: MountPoint & { CreateSource?: boolean }, rootfs: string): Promise<OciMount> {
    const parts = splitRelativePath(m.Destination.slice(1));
    if (m.Type === 'tmpfs') {
      const target = await targetInRoot(rootfs, parts, true);
      const opts = ['noexec', 'nosuid', 'nodev', 'rprivate', ...(m.RW ? [] : ['ro'])];
      if (m.TmpfsData) opts.push(...m.TmpfsData.split(','));
      return { destination: target, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(opts) };
    }
    let source = m.Source;
    if (m.Type === 'volume') {
      const driver = await this.volumes.driver(m.Driver ?? 'local');
      source = (await driver.mount(m.Name!, id)).path;
      this.volumes.publish(m.Name!, 'mount', {
        driver: driver.name,
        container: id,
        destination: m.Destination,
        'read/write': String(m.RW),
        propagation: m.Propagation,
      });
      if (m.CopyData) await copyUp(rootfs, parts, source);
    } else {
      const st = await stat(source).catch(async (err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err;
        if (!m.CreateSource)
          throw new InvalidParameterError(
            `invalid mount config for type "bind": bind source path does not exist: ${source}`,
          );
        await mkdir(source, { recursive: true, mode: 0o755 });
        return stat(source);
      });
      if (!st.isDirectory()) {
        const target = await targetInRoot(rootfs, parts, false);
        return bindMount(target, source, m);
      }
    }
    return bindMount(await targetInRoot(rootfs, parts, true), source, m);
  }

  /** At stop (and after a failed start): the container no longer holds its volumes. */
  async release(id: string): Promise<void> {
    for (const m of this.volumes.store.mountsOf(id)) {
      if (m.Type !== 'volume' || !m.Name) continue;
      try {
        await (await this.volumes.driver(m.Driver ?? 'local')).unmount(m.Name, id);
        this.volumes.publish(m.Name, 'unmount', { driver: m.Driver ?? 'local', container: id });
      } catch (err) {
        this.log.warn('volume unmount failed', { id, volume: m.Name, error: err as Error });
      }
    }
  }

  /** At remove: drops the mount points; with `removeAnonymous` (`rm -v`, `--rm`) the container's anonymous volumes too. */
  async forget(id: string, removeAnonymous: boolean): Promise<void> {
    const points = this.volumes.store.mountsOf(id);
    await this.release(id);
    this.volumes.store.forgetMounts(id);
    if (!removeAnonymous) return;
    for (const m of points) {
      if (m.Type !== 'volume' || !m.Anonymous || !m.Name) continue;
      await this.volumes.remove(m.Name).catch((err: unknown) => {
        this.log.warn('cannot remove anonymous volume', { id, volume: m.Name, error: err as Error });
      });
    }
  }

  /** At daemon start: mount points of containers that no longer exist (a crash during remove) are dropped. */
  async collectOrphans(known: ReadonlySet<string>): Promise<void> {
    for (const id of this.volumes.store.containersWithMounts()) {
      if (!known.has(id)) await this.forget(id, false);
    }
  }

  /** Docker's inspect `Mounts`. */
  mountsView(id: string): MountView[] {
    return this.volumes.store.mountsOf(id).map((m) =>
      m.Type === 'volume'
        ? {
            Type: m.Type,
            Name: m.Name,
            Source: m.Source,
            Destination: m.Destination,
            Driver: m.Driver,
            Mode: m.Mode,
            RW: m.RW,
            Propagation: m.Propagation,
          }
        : {
            Type: m.Type,
            Source: m.Source,
            Destination: m.Destination,
            Mode: m.Mode,
            RW: m.RW,
            Propagation: m.Propagation,
          },
    );
  }
}

function bindMount(destination: string, source: string, m: MountPoint): OciMount {
  const options = ['rbind', ...(m.RW ? [] : ['ro']), m.Propagation || 'rprivate'];
  return { destination, type: 'bind', source, options };
}
