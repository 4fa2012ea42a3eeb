import type { ContainerRecord } from '../containers/container-types.js';
import { InvalidParameterError, SystemError } from '../plugin-api/errors.js';
import { parseLink } from './create-options.js';

/** What legacy links need to know of the daemon's containers. */
export interface LinkLookup {
  container(ref: string): ContainerRecord | undefined;
  /** Whether a NetworkMode is the default bridge (where links are /etc/hosts lines and variables). */
  onDefaultBridge(mode: string): boolean;
  /** The container's IPv4 address on the default bridge, while it has one. */
  bridgeAddress(id: string): string | undefined;
}

/** A resolved link of a default-bridge container. */
export interface Linked {
  /** `/parent/alias`, the link's name in dockerd's terms. */
  name: string;
  alias: string;
  child: ContainerRecord;
  ip: string;
}

/** Legacy links (`--link target:alias`, `HostConfig.Links`) as dockerd 20.10 has them. */
export class LegacyLinks {
  constructor(private readonly lookup: LinkLookup) {}

  /**
   * At create, as dockerd's registerLinks checks them. On the default bridge HostConfig keeps them
   * as inspect shows them (`/target:/name/alias`); elsewhere it keeps none and they are the
   * endpoint's (`forEndpoint`). `name` is the container's, with its slash.
   */
  atCreate(
    links: readonly string[] | null | undefined,
    name: string,
    mode: string,
  ): { hostConfig: string[] | null; forEndpoint: string[] } {
    const parsed = (links ?? []).map(parseLink);
    if (!parsed.length || mode.startsWith('container:')) return { hostConfig: null, forEndpoint: [] };
    if (!this.lookup.onDefaultBridge(mode)) return { hostConfig: null, forEndpoint: [...links!] };
    const hostConfig = parsed.map(({ target, alias }) => {
      const child = this.lookup.container(target);
      if (!child)
        throw new InvalidParameterError(`could not get container for ${target}: No such container: ${target}`);
      if (child.HostConfig.NetworkMode === 'host')
        throw new InvalidParameterError(
          "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
        );
      return `${child.Name}:${name}/${alias}`;
    });
    return { hostConfig, forEndpoint: [] };
  }

  /**
   * At the start of a default-bridge container (dockerd's setupLinkedContainers): each linked
   * container must run and be on the bridge. A removed one is dropped, as dockerd drops its links.
   */
  atStart(c: ContainerRecord): Linked[] {
    return this.resolve(c, true);
  }

  /**
   * For a rewrite of /etc/hosts or an exec: the links whose container has a bridge address now
   * (one that is starting has it before it counts as running); the others are left out.
   */
  now(c: ContainerRecord): Linked[] {
    return this.resolve(c, false);
  }

  private resolve(c: ContainerRecord, strict: boolean): Linked[] {
    const links = (c.HostConfig.Links as string[] | null | undefined) ?? [];
    if (!links.length || !this.lookup.onDefaultBridge(c.HostConfig.NetworkMode)) return [];
    return links.flatMap((l) => {
      const { target, alias } = parseLink(l);
      const child = this.lookup.container(target);
      if (!child) return [];
      const name = `${c.Name}/${alias}`;
      if (strict && !child.State.Running)
        throw new SystemError(`Cannot link to a non running container: ${child.Name} AS ${name}`);
      const ip = this.lookup.bridgeAddress(child.Id);
      if (!ip && strict) throw new SystemError(`container ${child.Id} not attached to default bridge network`);
      return ip ? [{ name, alias, child, ip }] : [];
    });
  }

  /**
   * The running containers that link to `child` (their /etc/hosts names its address), among
   * `linking()`, asked only for a container on the default bridge.
   */
  parentsOf(child: ContainerRecord, linking: () => readonly ContainerRecord[]): ContainerRecord[] {
    if (!this.lookup.onDefaultBridge(child.HostConfig.NetworkMode)) return [];
    const names = new Set([child.Name.slice(1), child.Id]);
    return linking().filter(
      (p) =>
        p.State.Running &&
        this.lookup.onDefaultBridge(p.HostConfig.NetworkMode) &&
        ((p.HostConfig.Links as string[] | null | undefined) ?? []).some((l) => names.has(parseLink(l).target)),
    );
  }

  /** The process environment the links give. */
  env(linked: readonly Linked[]): string[] {
    return linked.flatMap((l) =>
      linkEnv(l.name, l.ip, l.child.Config.Env ?? [], Object.keys(l.child.Config.ExposedPorts ?? {})),
    );
  }

  /** `alias hostname name:ip` extra hosts, the name only when it is not the alias (dockerd's order). */
  hostEntries(linked: readonly Linked[]): string[] {
    return linked.map((l) => {
      const childName = l.child.Name.slice(1);
      return `${l.alias} ${l.child.Config.Hostname}${l.alias === childName ? '' : ` ${childName}`}:${l.ip}`;
    });
  }
}

/** A stored default-bridge link, `/db:/web/x`: the linked container's name and the link's name. */
function splitStored(link: string): { child: string; name: string } | undefined {
  const colon = link.indexOf(':');
  if (colon < 0 || !link.startsWith('/')) return undefined;
  return { child: link.slice(0, colon), name: link.slice(colon + 1) };
}

const storedLinks = (c: ContainerRecord) => (c.HostConfig.Links as string[] | null | undefined) ?? [];

/**
 * The names (`/web/x`) dockerd registers for the links among `parents`, by the linked container's
 * name (`/db`): they are names of that container too (listed in Names, found by lookups).
 */
export function linkNames(parents: readonly ContainerRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of parents)
    for (const s of storedLinks(p).map(splitStored)) if (s) out.set(s.child, [...(out.get(s.child) ?? []), s.name]);
  return out;
}

/** The name of the container that `parent`'s link `name` (`/web/x`) points to. */
export function linkTarget(parent: ContainerRecord, name: string): string | undefined {
  return storedLinks(parent)
    .map(splitStored)
    .find((s) => s?.name === name)?.child;
}

/** `parent`'s links without the one named `name`; null when none is left (as dockerd shows it). */
export function withoutLink(parent: ContainerRecord, name: string): string[] | null {
  const left = storedLinks(parent).filter((l) => splitStored(l)?.name !== name);
  return left.length ? left : null;
}

/** `c`'s links after a container was renamed `from` → `to` (with slashes), as parent or as child. */
export function renamedLinks(c: ContainerRecord, from: string, to: string): string[] {
  return storedLinks(c).map((l) => {
    const s = splitStored(l);
    if (!s) return l;
    const child = s.child === from ? to : s.child;
    const name = s.name.startsWith(`${from}/`) ? `${to}${s.name.slice(from.length)}` : s.name;
    return `${child}:${name}`;
  });
}

/**
 * The environment a legacy link gives the linking container (docker's links.Link.ToEnv): the
 * linked container's ports (`DB_PORT_5432_TCP=tcp://172.17.0.2:5432`, ranges of three or more as
 * `_START`/`_END`), its name (`DB_NAME=/web/db`) and its Env (`DB_ENV_X=…`, HOME and PATH left out).
 */
export function linkEnv(
  name: string,
  childIp: string,
  childEnv: readonly string[],
  exposed: readonly string[],
): string[] {
  const alias = name
    .slice(name.lastIndexOf('/') + 1)
    .toUpperCase()
    .replaceAll('-', '_');
  const ports = exposed
    .map((k) => {
      const [port = '', proto = 'tcp'] = k.split('/');
      return { port, n: Number(port), proto: proto.toLowerCase() };
    })
    .filter((p) => Number.isInteger(p.n))
    .sort((a, b) => a.n - b.n || Number(b.proto === 'tcp') - Number(a.proto === 'tcp'));
  const env: string[] = [];
  const url = (p: { port: string; proto: string }) => `${p.proto}://${childIp}:${p.port}`;
  const key = (p: { port: string; proto: string }) => `${alias}_PORT_${p.port}_${p.proto.toUpperCase()}`;
  if (ports[0]) env.push(`${alias}_PORT=${url(ports[0])}`);
  for (let i = 0; i < ports.length;) {
    const p = ports[i]!;
    let j = i;
    while (j + 1 < ports.length && ports[j + 1]!.n <= p.n + (j + 1 - i)) j++;
    if (j > i + 1) {
      const q = ports[j]!;
      env.push(
        `${key(p)}_START=${url(p)}`,
        `${key(p)}_ADDR=${childIp}`,
        `${key(p)}_PROTO=${p.proto}`,
        `${key(p)}_PORT_START=${p.port}`,
        `${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_END=${url(q)}`,
        `${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_PORT_END=${q.port}`,
      );
      i = j + 1;
    } else i++;
  }
  for (const p of ports)
    env.push(
      `${key(p)}=${url(p)}`,
      `${key(p)}_ADDR=${childIp}`,
      `${key(p)}_PORT=${p.port}`,
      `${key(p)}_PROTO=${p.proto}`,
    );
  env.push(`${alias}_NAME=${name}`);
  for (const e of childEnv) {
    const eq = e.indexOf('=');
    if (eq < 0) continue;
    const k = e.slice(0, eq);
    if (k !== 'HOME' && k !== 'PATH') env.push(`${alias}_ENV_${k}=${e.slice(eq + 1)}`);
  }
  return env;
}
