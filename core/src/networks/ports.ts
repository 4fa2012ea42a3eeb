import { createSocket } from 'node:dgram';
import { createServer, isIP } from 'node:net';
import { ConflictError, InvalidParameterError } from '../plugin-api/errors.js';
import type { PortMapping } from '../plugin-api/network-driver.js';
import { HostPortAllocator } from './host-port-allocator.js';

export type Proto = PortMapping['protocol'];

/** `HostConfig.PortBindings` entry: container port key → host bindings (as the API sends it). */
export type PortBindings = Record<string, { HostIp?: string; HostPort?: string }[] | null>;

/** One wanted publication; `hostPort` 0 = any free port, `hostPortEnd` > hostPort = any in that range. */
export interface WantedPort {
  containerPort: number;
  protocol: Proto;
  hostIp: string;
  hostPort: number;
  hostPortEnd: number;
  /** No host address was asked for: published on `::` too, with the same port, as dockerd does. */
  bothFamilies?: boolean;
}

function portNumber(text: string, _what: string): number {
  const n = Number(text);
  if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535)
    throw new InvalidParameterError(`invalid port specification: ${JSON.stringify(text)}`);
  return n;
}

/** `80/tcp` → port and protocol (tcp when left out). */
export function parsePortKey(key: string): { port: number; protocol: Proto } {
  const [p, proto = 'tcp'] = key.split('/');
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')
    throw new InvalidParameterError(`invalid proto: ${proto}`);
  return { port: portNumber(p ?? '', 'containerPort'), protocol: proto };
}

/** Validates `PortBindings` (create body) and `ExposedPorts` keys; throws 400 on bad input. */
export function validatePorts(bindings: unknown, exposed: unknown): void {
  if (exposed !== null && exposed !== undefined) {
    if (typeof exposed !== 'object' || Array.isArray(exposed))
      throw new InvalidParameterError('ExposedPorts must be an object');
    for (const k of Object.keys(exposed)) parsePortKey(k);
  }
  wantedPorts(bindings, null, false);
}

/**
 * The publications a container asks for: its PortBindings, plus every exposed port with `-P`.
 * Bindings without a host address take `defaultHostIp` (a bridge's `host_binding_ipv4`).
 */
export function wantedPorts(
  bindings: unknown,
  exposed: unknown,
  publishAll: boolean,
  defaultHostIp = '0.0.0.0',
): WantedPort[] {
  const out: WantedPort[] = [];
  if (bindings !== null && bindings !== undefined) {
    if (typeof bindings !== 'object' || Array.isArray(bindings))
      throw new InvalidParameterError('HostConfig.PortBindings must be an object');
    for (const [key, list] of Object.entries(bindings as PortBindings)) {
      const { port, protocol } = parsePortKey(key);
      if (list === null) continue;
      if (!Array.isArray(list)) throw new InvalidParameterError(`invalid port bindings for ${key}`);
      for (const b of list.length ? list : [{}]) {
        const hostIp = b?.HostIp ?? '';
        if (typeof hostIp !== 'string' || (hostIp !== '' && !isIP(hostIp)))
          throw new InvalidParameterError(`invalid IP address: ${String(hostIp)}`);
        const hp = b?.HostPort ?? '';
        if (typeof hp !== 'string' && typeof hp !== 'number')
          throw new InvalidParameterError(`invalid hostPort: ${String(hp)}`);
        const [from, to] = String(hp).split('-');
        // dockerd takes HostPort "0" like "" (any free port); testcontainers sends it.
        const hostPort = from && !(from === '0' && to === undefined) ? portNumber(from, 'hostPort') : 0;
        const hostPortEnd = to ? portNumber(to, 'hostPort') : hostPort;
        if (hostPortEnd < hostPort) throw new InvalidParameterError(`invalid hostPort range: ${String(hp)}`);
        out.push({
          containerPort: port,
          protocol,
          hostIp: hostIp || defaultHostIp,
          hostPort,
          hostPortEnd,
          ...(hostIp === '' && defaultHostIp === '0.0.0.0' ? { bothFamilies: true } : {}),
        });
      }
    }
  }
  if (publishAll && exposed && typeof exposed === 'object') {
    for (const key of Object.keys(exposed)) {
      const { port, protocol } = parsePortKey(key);
      if (out.some((w) => w.containerPort === port && w.protocol === protocol)) continue;
      out.push({
        containerPort: port,
        protocol,
        hostIp: defaultHostIp,
        hostPort: 0,
        hostPortEnd: 0,
        ...(defaultHostIp === '0.0.0.0' ? { bothFamilies: true } : {}),
      });
    }
  }
  return out;
}

/** Asks the kernel for a free port by binding port 0 (`tcp`/`sctp` on TCP, `udp` on UDP). */
function freePort(hostIp: string, protocol: Proto, port = 0): Promise<number | undefined> {
  return new Promise((resolve) => {
    const v6 = isIP(hostIp) === 6;
    if (protocol === 'udp') {
      const s = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
      s.once('error', () => resolve(undefined));
      s.bind(port, hostIp, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
      return;
    }
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host: hostIp, exclusive: true, ipv6Only: v6 }, () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : undefined));
    });
  });
}

let v6Listenable: Promise<boolean> | undefined;

/** Whether this host can listen on IPv6 (dockerd asks the same before publishing on `::`). */
export function ipv6Listenable(): Promise<boolean> {
  v6Listenable ??= freePort('::1', 'tcp').then((p) => p !== undefined);
  return v6Listenable;
}

/** `port` is free on every address the wanted port is published on. */
async function freeOnAll(hostIps: readonly string[], protocol: Proto, port: number): Promise<boolean> {
  for (const ip of hostIps) if ((await freePort(ip, protocol, port)) === undefined) return false;
  return true;
}

/** Host ports that publications already hold, by protocol. */
export type HeldPorts = ReadonlyMap<Proto, ReadonlySet<number>>;

/**
 * Chooses host ports for `0` (from `allocator`, as dockerd counts them out) and ranges (the first
 * free one); the rest are kept as asked: the firewall checks them. A port without a host address
 * becomes two mappings, `0.0.0.0` and `::` (where the host has IPv6), on one port that is free on
 * both. The ports handed out stay pending in `allocator` until the caller settles them.
 */
export async function resolvePorts(
  wanted: WantedPort[],
  allocator = new HostPortAllocator(),
  held: HeldPorts = new Map(),
): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const dual = wanted.some((w) => w.bothFamilies) && (await ipv6Listenable());
  try {
    for (const w of wanted) {
      const hostIps = dual && w.bothFamilies && w.protocol !== 'sctp' ? [w.hostIp, '::'] : [w.hostIp];
      const taken = held.get(w.protocol) ?? new Set<number>();
      let hostPort = w.hostPort;
      if (hostPort === 0) {
        const p = await allocator.allocate(w.protocol, taken, (port) => freeOnAll(hostIps, w.protocol, port));
        if (!p) throw new ConflictError(`no free host port for ${w.containerPort}/${w.protocol} on ${w.hostIp}`);
        hostPort = p;
      } else if (w.hostPortEnd > w.hostPort) {
        let found: number | undefined;
        for (let p = w.hostPort; p <= w.hostPortEnd && !found; p++) {
          if (taken.has(p) || out.some((o) => o.hostPort === p && o.protocol === w.protocol)) continue;
          if (await freeOnAll(hostIps, w.protocol, p)) found = p;
        }
        if (!found)
          throw new ConflictError(
            `no free host port in ${w.hostPort}-${w.hostPortEnd} for ${w.containerPort}/${w.protocol}`,
          );
        hostPort = found;
      }
      for (const hostIp of hostIps)
        out.push({ hostIp, hostPort, containerPort: w.containerPort, protocol: w.protocol });
    }
  } catch (err) {
    allocator.settle(out);
    throw err;
  }
  return out;
}

/** `NetworkSettings.Ports` in Docker's shape: published ports with their bindings, the others null. */
export function portsView(
  mappings: PortMapping[],
  exposed: Record<string, object> | null,
): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const k of Object.keys(exposed ?? {})) out[k.includes('/') ? k : `${k}/tcp`] = null;
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.protocol}`;
    const list = out[key] ?? [];
    list.push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
    out[key] = list;
  }
  return out;
}
