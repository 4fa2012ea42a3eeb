// The docker CLI's syntaxes for `run`/`create` values that are more than a number: port specs,
// -v volume specs, --mount, --device, --ulimit, --add-host, --sysctl, --security-opt, --restart.
// A ValueError is a bad flag value (usage error, 125); a RunOptionsError is reported like docker's
// later checks ("docker: …", 125).

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { goBool, goInt, ramInBytes, ValueError } from '../cli/go-values.js';

export class RunOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunOptionsError';
  }
}

// ---------------------------------------------------------------------------------------------
// Ports (go-connections/nat)

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

function parseUintPort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new Error(text);
  return Number(text);
}

/** nat.ParsePortRange: "80" or "8000-8010". */
function portRange(text: string): [number, number] {
  if (text === '') throw new Error('empty string specified for ports.');
  const dash = text.indexOf('-');
  if (dash < 0) {
    const p = parseUintPort(text);
    return [p, p];
  }
  const start = parseUintPort(text.slice(0, dash));
  const end = parseUintPort(text.slice(dash + 1));
  if (end < start) throw new Error(`invalid range specified for port: ${text}`);
  return [start, end];
}

/** nat.SplitProtoPort: "80/udp" → ["udp", "80"]; no protocol means tcp. */
function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (raw === '' || (parts[0] ?? '') === '') return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if ((parts[1] ?? '') === '') return ['tcp', parts[0] as string];
  return [parts[1] as string, parts[0] as string];
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  const n = parts.length;
  const container = parts[n - 1] as string;
  if (n === 1) return ['', '', container];
  if (n === 2) return ['', parts[0] as string, container];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2] as string, container];
}

/** nat.ParsePortSpec: `[ip:][hostPort:]containerPort[/proto]`, a range maps port by port. */
export function parsePortSpec(raw: string): { port: string; binding: PortBinding }[] {
  const [rawIp, hostPort, rawContainerPort] = splitParts(raw);
  let ip = rawIp;
  const [rawProto, containerPort] = splitProtoPort(rawContainerPort);
  if (ip.startsWith('[')) {
    if (!ip.endsWith(']')) throw new RunOptionsError(`invalid IP address ${ip}: missing ']' in address ${ip}:`);
    ip = ip.slice(1, -1);
  }
  if (ip !== '' && isIP(ip) === 0) throw new RunOptionsError(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new RunOptionsError(`no port specified: ${raw}<empty>`);
  let start: number;
  let end: number;
  try {
    [start, end] = portRange(containerPort);
  } catch {
    throw new RunOptionsError(`invalid containerPort: ${containerPort}`);
  }
  let hostStart = 0;
  let hostEnd = 0;
  if (hostPort !== '') {
    try {
      [hostStart, hostEnd] = portRange(hostPort);
    } catch {
      throw new RunOptionsError(`invalid hostPort: ${hostPort}`);
    }
    if (end - start !== hostEnd - hostStart && end !== start) {
      throw new RunOptionsError(
        `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`,
      );
    }
  }
  const proto = rawProto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new RunOptionsError(`invalid proto: ${proto}`);
  const out: { port: string; binding: PortBinding }[] = [];
  for (let i = 0; i <= end - start; i++) {
    let host = hostPort === '' ? '' : String(hostStart + i);
    if (start === end && hostStart !== hostEnd) host = `${host}-${hostEnd}`;
    out.push({ port: `${start + i}/${proto}`, binding: { HostIp: ip, HostPort: host } });
  }
  return out;
}

/** --expose 80, 80/udp, 8000-8010. */
export function parseExpose(raw: string): string[] {
  const [proto, port] = splitProtoPort(raw);
  let start: number;
  let end: number;
  try {
    [start, end] = portRange(port);
  } catch (err) {
    const detail =
      port === ''
        ? 'empty string specified for ports'
        : (err as Error).message.startsWith('invalid range')
          ? (err as Error).message
          : `strconv.ParseUint: parsing ${JSON.stringify(badPortPart(port))}: ${portErrorKind(badPortPart(port))}`;
    throw new RunOptionsError(`invalid range format for --expose: ${raw}, error: ${detail}`);
  }
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

function badPortPart(port: string): string {
  const dash = port.indexOf('-');
  if (dash < 0) return port;
  const first = port.slice(0, dash);
  return /^\d+$/.test(first) && Number(first) <= 65535 ? port.slice(dash + 1) : first;
}

function portErrorKind(part: string): string {
  return /^\d+$/.test(part) ? 'value out of range' : 'invalid syntax';
}

// ---------------------------------------------------------------------------------------------
// -v (the compose loader's short volume syntax)

export interface VolumeSpec {
  source: string;
  target: string;
}

/** Splits `[source:]target[:options]` the way the docker CLI does (a one-letter source is a Windows drive). */
export function parseVolumeSpec(spec: string): VolumeSpec {
  if (spec.length === 0) throw new RunOptionsError('invalid empty volume spec');
  if (spec.length <= 2) return { source: '', target: spec };
  let source = '';
  let target = '';
  let buffer = '';
  const chars = [...spec];
  for (let i = 0; i <= chars.length; i++) {
    const ch = i < chars.length ? (chars[i] as string) : undefined;
    if (ch === ':' && buffer.length === 1 && /\p{L}/u.test(buffer)) {
      buffer += ch;
      continue;
    }
    if (ch === ':' || ch === undefined) {
      if (buffer === '') throw new RunOptionsError(`invalid spec: ${spec}: empty section between colons`);
      if (source === '' && ch === undefined) target = buffer;
      else if (source === '') source = buffer;
      else if (target === '') target = buffer;
      else if (ch === ':') throw new RunOptionsError(`invalid spec: ${spec}: too many colons`);
      buffer = '';
      continue;
    }
    buffer += ch;
  }
  return { source, target };
}

/** -v values: binds (a relative "./x" source made absolute) and anonymous volumes. */
export function splitVolumes(
  specs: readonly string[],
  cwd: string,
): { binds: string[]; volumes: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const spec of new Set(specs)) {
    const parsed = parseVolumeSpec(spec);
    if (parsed.source === '') {
      volumes[spec] = {};
      continue;
    }
    const colon = spec.indexOf(':');
    const host = spec.slice(0, colon);
    const isBind = /^[./~]/.test(parsed.source);
    binds.push(
      isBind && !path.isAbsolute(host) && host.startsWith('.')
        ? `${path.resolve(cwd, host)}${spec.slice(colon)}`
        : spec,
    );
  }
  return { binds, volumes };
}

// ---------------------------------------------------------------------------------------------
// --mount

export interface Mount {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    Subpath?: string;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** encoding/csv fields of one line: commas split, double quotes group. */
function csvFields(text: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out;
}

const BOOL_MOUNT_KEYS = new Set(['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive']);

/** docker's MountOpt.Set: `type=bind,source=/a,target=/b,readonly`, … */
export function parseMount(value: string): Mount {
  // encoding/csv reads no record at all from an empty line.
  if (value === '') throw new ValueError('EOF');
  const mount: Mount = { Type: 'volume' };
  const volumeOptions = (): NonNullable<Mount['VolumeOptions']> => {
    mount.VolumeOptions ??= {};
    mount.VolumeOptions.DriverConfig ??= {};
    return mount.VolumeOptions;
  };
  const bindOptions = (): NonNullable<Mount['BindOptions']> => (mount.BindOptions ??= {});
  const tmpfsOptions = (): NonNullable<Mount['TmpfsOptions']> => (mount.TmpfsOptions ??= {});
  const bool = (key: string, val: string): boolean => {
    const b = goBool(val);
    if (b === undefined) throw new ValueError(`invalid value for ${key}: ${val}`);
    return b;
  };
  for (const field of csvFields(value)) {
    const eq = field.indexOf('=');
    const key = (eq >= 0 ? field.slice(0, eq) : field).toLowerCase();
    let val = eq >= 0 ? field.slice(eq + 1) : '';
    if (eq < 0) {
      if (!BOOL_MOUNT_KEYS.has(key)) throw new ValueError(`invalid field '${field}' must be a key=value pair`);
      val = 'true';
    }
    switch (key) {
      case 'type':
        mount.Type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        mount.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = val;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = bool(key, val);
        break;
      case 'consistency':
        mount.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = bool(key, val);
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = bool(key, val);
        break;
      case 'volume-label': {
        const opts = volumeOptions();
        const i = val.indexOf('=');
        (opts.Labels ??= {})[i >= 0 ? val.slice(0, i) : val] = i >= 0 ? val.slice(i + 1) : '';
        break;
      }
      case 'volume-driver':
        (volumeOptions().DriverConfig as { Name?: string }).Name = val;
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-opt': {
        const driver = volumeOptions().DriverConfig as { Options?: Record<string, string> };
        const i = val.indexOf('=');
        (driver.Options ??= {})[i >= 0 ? val.slice(0, i) : val] = i >= 0 ? val.slice(i + 1) : '';
        break;
      }
      case 'tmpfs-size':
        try {
          tmpfsOptions().SizeBytes = ramInBytes(val);
        } catch {
          throw new ValueError(`invalid value for ${key}: ${val}`);
        }
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(val) || Number.parseInt(val, 8) >= 2 ** 32) {
          throw new ValueError(`invalid value for ${key}: ${val}`);
        }
        tmpfsOptions().Mode = Number.parseInt(val, 8);
        break;
      default:
        throw new ValueError(`unexpected key '${key}' in '${field}'`);
    }
  }
  // omitempty: false is not sent.
  if (mount.ReadOnly === false) delete mount.ReadOnly;
  if (mount.VolumeOptions?.NoCopy === false) delete mount.VolumeOptions.NoCopy;
  if (mount.BindOptions?.NonRecursive === false) delete mount.BindOptions.NonRecursive;
  if (mount.Type === '') throw new ValueError('type is required');
  if (!mount.Target) throw new ValueError('target is required');
  if (mount.VolumeOptions && mount.Type !== 'volume') {
    throw new ValueError(`cannot mix 'volume-*' options with mount type '${mount.Type}'`);
  }
  if (mount.BindOptions && mount.Type !== 'bind') {
    throw new ValueError(`cannot mix 'bind-*' options with mount type '${mount.Type}'`);
  }
  if (mount.TmpfsOptions && mount.Type !== 'tmpfs') {
    throw new ValueError(`cannot mix 'tmpfs-*' options with mount type '${mount.Type}'`);
  }
  return mount;
}

/** --tmpfs /run[:options] → HostConfig.Tmpfs entry. */
export function parseTmpfs(value: string): [string, string] {
  const colon = value.indexOf(':');
  return colon >= 0 ? [value.slice(0, colon), value.slice(colon + 1)] : [value, ''];
}

// ---------------------------------------------------------------------------------------------
// --device

function validDeviceMode(mode: string): boolean {
  if (mode === '' || mode.length > 3) return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!'rwm'.includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

/** validateLinuxPath then ParseDevice: `host[:container][:perms]`. */
export function parseDevice(value: string): {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
} {
  const clean = (p: string): string => path.posix.normalize(p).replace(/(.)\/$/, '$1');
  if ((value.match(/:/g) ?? []).length > 2) throw new RunOptionsError(`bad format for path: ${value}`);
  const split = value.split(':');
  if (split[0] === '') throw new RunOptionsError(`bad format for path: ${value}`);
  let containerPath: string;
  let validated: string;
  if (split.length === 1) {
    containerPath = split[0] as string;
    validated = clean(containerPath);
  } else if (split.length === 2) {
    if (validDeviceMode(split[1] as string)) {
      containerPath = split[0] as string;
      validated = `${clean(containerPath)}:${split[1]}`;
    } else {
      containerPath = split[1] as string;
      validated = `${split[0]}:${containerPath === '' ? '' : clean(containerPath)}`;
    }
  } else {
    containerPath = split[1] as string;
    if (!validDeviceMode(split[2] as string)) throw new RunOptionsError(`bad mode specified: ${split[2]}`);
    validated = value;
  }
  if (!containerPath.startsWith('/')) throw new RunOptionsError(`${containerPath} is not an absolute path`);
  const arr = validated.split(':');
  let src = arr[0] as string;
  let dst = '';
  let perms = 'rwm';
  if (arr.length === 3) perms = arr[2] as string;
  if (arr.length >= 2) {
    if (validDeviceMode(arr[1] as string)) perms = arr[1] as string;
    else dst = arr[1] as string;
  }
  src = arr[0] as string;
  return { PathOnHost: src, PathInContainer: dst === '' ? src : dst, CgroupPermissions: perms };
}

// ---------------------------------------------------------------------------------------------
// --ulimit

const ULIMIT_NAMES = new Set([
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

/** go-units ParseUlimit: `name=soft[:hard]`. */
export function parseUlimit(value: string): { Name: string; Hard: number; Soft: number } {
  const eq = value.indexOf('=');
  if (eq < 0) throw new ValueError(`invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) throw new ValueError(`invalid ulimit type: ${name}`);
  const limits = value.slice(eq + 1).split(':');
  if (limits.length > 2) {
    throw new ValueError(
      `too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``,
    );
  }
  const soft = goIntBase10(limits[0] as string);
  const hard = limits.length === 2 ? goIntBase10(limits[1] as string) : soft;
  if (soft > hard)
    throw new ValueError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Hard: hard, Soft: soft };
}

function goIntBase10(text: string): number {
  if (!/^[+-]?\d+$/.test(text))
    throw new ValueError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  return goInt(text.replace(/^([+-]?)0+(?=\d)/, '$1'));
}

// ---------------------------------------------------------------------------------------------
// Networking and kernel values

/** opts.ValidateIPAddress: the address in Go's canonical form. */
export function validateIpAddress(value: string): string {
  const ip = value.trim();
  const kind = isIP(ip);
  if (kind === 0) throw new ValueError(`IP address is not correctly formatted: ${value}`);
  return kind === 4 ? ip : canonicalIPv6(ip);
}

function canonicalIPv6(ip: string): string {
  // node's URL parser prints IPv6 the way Go's net.IP.String() does (RFC 5952).
  const host = new URL(`http://[${ip}]/`).hostname;
  const v6 = host.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (mapped) {
    const hi = Number.parseInt(mapped[1] as string, 16);
    const lo = Number.parseInt(mapped[2] as string, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return v6;
}

/** opts.ValidateExtraHost: `name:ip` or `name=ip`, sent as `name:ip`. */
export function validateExtraHost(value: string): string {
  let eq = value.indexOf('=');
  let name: string;
  let ip: string;
  if (eq >= 0) {
    name = value.slice(0, eq);
    ip = value.slice(eq + 1);
  } else {
    eq = value.indexOf(':');
    name = eq >= 0 ? value.slice(0, eq) : value;
    ip = eq >= 0 ? value.slice(eq + 1) : '';
  }
  if (eq < 0 || name === '') throw new ValueError(`bad format for add-host: ${JSON.stringify(value)}`);
  if (ip === 'host-gateway') return `${name}:${ip}`;
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (isIP(bare) === 0) throw new ValueError(`invalid IP address in add-host: ${JSON.stringify(bare)}`);
  return `${name}:${bare}`;
}

const SYSCTL_KEYS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** opts.ValidateSysctl: namespaced sysctls only. */
export function parseSysctl(value: string): [string, string] {
  const eq = value.indexOf('=');
  const key = eq >= 0 ? value.slice(0, eq) : '';
  const allowed = eq >= 0 && (SYSCTL_KEYS.has(key) || key.startsWith('fs.mqueue.') || key.startsWith('net.'));
  if (!allowed) throw new ValueError(`sysctl '${value}' is not allowed`);
  return [key, value.slice(eq + 1)];
}

/** parseSecurityOpts: `key=value` (or `key:value`); a seccomp profile file is sent inline. */
export function parseSecurityOpt(opt: string): string {
  let sep = opt.indexOf('=');
  if (sep < 0 && opt !== 'no-new-privileges') sep = opt.indexOf(':');
  const key = sep >= 0 ? opt.slice(0, sep) : opt;
  const val = sep >= 0 ? opt.slice(sep + 1) : '';
  if ((sep < 0 || val === '') && key !== 'no-new-privileges') {
    throw new RunOptionsError(`Invalid --security-opt: ${JSON.stringify(opt)}`);
  }
  if (key !== 'seccomp' || val === 'builtin' || val === 'unconfined') return opt;
  let text: string;
  try {
    text = readFileSync(val, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new RunOptionsError(`opening seccomp profile (${val}) failed: open ${val}: ${why}`);
  }
  try {
    return `seccomp=${JSON.stringify(JSON.parse(text))}`;
  } catch (err) {
    throw new RunOptionsError(`compacting json for seccomp profile (${val}) failed: ${(err as Error).message}`);
  }
}

/** opts.ParseRestartPolicy: `name[:max-retries]`. */
export function parseRestartPolicy(value: string): { Name: string; MaximumRetryCount: number } {
  const colon = value.indexOf(':');
  const name = colon >= 0 ? value.slice(0, colon) : value;
  const count = colon >= 0 ? value.slice(colon + 1) : '';
  if (colon >= 0 && name === '') {
    throw new RunOptionsError('invalid restart policy format: no policy provided before colon');
  }
  let max = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count) || Math.abs(Number(count)) > 2 ** 63) {
      throw new RunOptionsError('invalid restart policy format: maximum retry count must be an integer');
    }
    max = Number(count);
  }
  return { Name: name, MaximumRetryCount: max };
}

/** --cap-add/--cap-drop: "CAP_" + upper-case name, "ALL" as is. */
export function normalizeCapabilities(caps: readonly string[] | undefined): string[] | null {
  if (!caps || caps.length === 0) return null;
  return caps.map((c) => {
    const upper = c.toUpperCase();
    return upper === 'ALL' || upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  });
}
