import { InvalidParameterError } from '../plugin-api/errors.js';
import { cleanContainerPath } from '../containers/host-options.js';
import type { MountPoint } from './mount-types.js';

const PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const LABEL_MODES = new Set(['z', 'Z']);

/** A mount as requested, before volumes exist: `Name` empty for an anonymous volume. */
export interface MountRequest extends MountPoint {
  /** `-v` creates a missing bind source; `--mount type=bind` refuses it. */
  CreateSource?: boolean;
  /** Driver options and labels for a volume `--mount` may create. */
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

function dest(raw: unknown, what = 'mount path'): string {
  if (typeof raw !== 'string' || raw === '') throw new InvalidParameterError(`invalid ${what}: must not be empty`);
  const d = cleanContainerPath(raw, what);
  if (d === '/') throw new InvalidParameterError("invalid specification: destination can't be '/'");
  return d;
}

/** `ro,z,nocopy,rshared`… of `-v`: Docker's `ValidMountMode`. */
function parseMode(mode: string): { rw: boolean; propagation: string; nocopy: boolean } {
  let rw: boolean | undefined;
  let propagation = '';
  let nocopy = false;
  let label = false;
  for (const o of mode.split(',')) {
    if (o === 'ro' || o === 'rw') {
      if (rw !== undefined) throw new InvalidParameterError(`invalid mode: ${mode}`);
      rw = o === 'rw';
    } else if (PROPAGATION.has(o)) {
      if (propagation) throw new InvalidParameterError(`invalid mode: ${mode}`);
      propagation = o;
    } else if (o === 'nocopy') {
      if (nocopy) throw new InvalidParameterError(`invalid mode: ${mode}`);
      nocopy = true;
    } else if (LABEL_MODES.has(o) && !label) {
      label = true;
    } else {
      throw new InvalidParameterError(`invalid mode: ${mode}`);
    }
  }
  return { rw: rw ?? true, propagation, nocopy };
}

/** One `HostConfig.Binds` entry: `name:/dest[:mode]` or `/host:/dest[:mode]`. */
export function parseBind(raw: string): MountRequest {
  if (typeof raw !== 'string' || raw.includes('\0'))
    throw new InvalidParameterError(`invalid volume specification: '${raw}'`);
  const parts = raw.split(':');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '')
    throw new InvalidParameterError(`invalid volume specification: '${raw}'`);
  const [src, d, mode = ''] = parts as [string, string, string?];
  const destination = dest(d);
  const m = mode ? parseMode(mode) : { rw: true, propagation: '', nocopy: false };
  if (src.startsWith('/')) {
    if (m.nocopy) throw new InvalidParameterError(`invalid mode: ${mode}`);
    return {
      Type: 'bind',
      Source: cleanContainerPath(src, 'bind source path'),
      Destination: destination,
      Mode: mode,
      RW: m.rw,
      Propagation: m.propagation || 'rprivate',
      CreateSource: true,
    };
  }
  if (m.propagation) throw new InvalidParameterError(`invalid mode: ${mode}`);
  return {
    Type: 'volume',
    Name: src,
    Source: '',
    Destination: destination,
    Mode: mode || 'z',
    RW: m.rw,
    Propagation: '',
    CopyData: !m.nocopy,
  };
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function strMap(v: unknown, what: string): Record<string, string> | undefined {
  const o = obj(v);
  if (v !== undefined && v !== null && !o) throw new InvalidParameterError(`${what} must be an object`);
  for (const [k, x] of Object.entries(o ?? {}))
    if (typeof x !== 'string') throw new InvalidParameterError(`${what}.${k} must be a string`);
  return o as Record<string, string> | undefined;
}

/** One `HostConfig.Mounts` entry (`--mount`), validated like moby's `volume/mounts` parser. */
export function parseMount(raw: unknown): MountRequest {
  const m = obj(raw);
  if (!m) throw new InvalidParameterError('invalid mount config: must be an object');
  const type = m.Type;
  const bad = (msg: string): never => {
    throw new InvalidParameterError(`invalid mount config for type "${String(type)}": ${msg}`);
  };
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') {
    throw new InvalidParameterError(`invalid mount config: mount type unknown: "${String(type)}"`);
  }
  if (typeof m.Target !== 'string' || m.Target === '') bad('field Target must not be empty');
  const destination = dest(m.Target);
  const source = typeof m.Source === 'string' ? m.Source : '';
  const rw = m.ReadOnly !== true;
  const bindOpts = obj(m.BindOptions);
  const volOpts = obj(m.VolumeOptions);
  const tmpfsOpts = obj(m.TmpfsOptions);
  if (type !== 'bind' && bindOpts) bad(`field BindOptions must not be specified`);
  if (type !== 'volume' && volOpts) bad(`field VolumeOptions must not be specified`);
  if (type !== 'tmpfs' && tmpfsOpts) bad(`field TmpfsOptions must not be specified`);
  if (type === 'bind') {
    if (!source) bad('field Source must not be empty');
    if (!source.startsWith('/')) bad(`invalid mount path: '${source}' mount path must be absolute`);
    const prop = bindOpts?.Propagation;
    if (prop !== undefined && prop !== '' && (typeof prop !== 'string' || !PROPAGATION.has(prop)))
      bad(`invalid propagation mode: ${String(prop)}`);
    return {
      Type: 'bind',
      Source: cleanContainerPath(source, 'bind source path'),
      Destination: destination,
      Mode: '',
      RW: rw,
      Propagation: (prop as string) || 'rprivate',
      CreateSource: bindOpts?.CreateMountpoint === true,
    };
  }
  if (type === 'volume') {
    if (source.startsWith('/')) bad(`invalid mount path: '${source}'`);
    const driverCfg = obj(volOpts?.DriverConfig);
    const driver = typeof driverCfg?.Name === 'string' && driverCfg.Name ? driverCfg.Name : undefined;
    return {
      Type: 'volume',
      Name: source,
      Source: '',
      Destination: destination,
      Driver: driver,
      Mode: 'z',
      RW: rw,
      Propagation: '',
      CopyData: volOpts?.NoCopy !== true,
      Anonymous: source === '',
      DriverOpts: strMap(driverCfg?.Options, 'VolumeOptions.DriverConfig.Options'),
      Labels: strMap(volOpts?.Labels, 'VolumeOptions.Labels'),
    };
  }
  if (source) bad('field Source must not be specified');
  const data: string[] = [];
  if (tmpfsOpts?.SizeBytes !== undefined) {
    const n = tmpfsOpts.SizeBytes;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) bad('invalid tmpfs size');
    if ((n as number) > 0) data.push(`size=${n as number}`);
  }
  if (tmpfsOpts?.Mode !== undefined && tmpfsOpts.Mode !== 0) {
    const mode = tmpfsOpts.Mode;
    if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o7777) bad('invalid tmpfs mode');
    data.push(`mode=${(mode as number).toString(8)}`);
  }
  return {
    Type: 'tmpfs',
    Source: '',
    Destination: destination,
    Mode: '',
    RW: rw,
    Propagation: '',
    TmpfsData: data.join(','),
  };
}

/** `--volumes-from name[:ro|rw]`. */
export function parseVolumesFrom(raw: unknown): { ref: string; mode?: 'ro' | 'rw' } {
  if (typeof raw !== 'string' || raw === '') throw new InvalidParameterError('invalid VolumesFrom entry');
  const [ref, mode, ...rest] = raw.split(':');
  if (rest.length > 0 || !ref || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
    throw new InvalidParameterError(`invalid mode: ${mode ?? raw}`);
  return { ref, mode: mode as 'ro' | 'rw' | undefined };
}
