import { isIP } from 'node:net';
import type { Labels } from '../plugin-api/graph-driver.js';
import { InvalidParameterError } from '../plugin-api/errors.js';
import type { EndpointConfig } from './network-store.js';
import { validatePorts } from './ports.js';

type Json = Record<string, unknown>;

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

function isObj(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new InvalidParameterError(`${what} must be a list of strings`);
  return v as string[];
}

/**
 * One legacy link, `target[:alias]` (docker's ParseLink): the linked container's name and the alias
 * it is known by; a stored `/target:/parent/alias` too.
 */
export function parseLink(link: string): { target: string; alias: string } {
  if (!link) throw new InvalidParameterError('empty string specified for links');
  const parts = link.split(':');
  if (parts.length > 2) throw new InvalidParameterError(`bad format for links: ${link}`);
  const [target = '', alias = target] = parts;
  if (target.startsWith('/')) return { target: target.slice(1), alias: alias.slice(alias.lastIndexOf('/') + 1) };
  return { target, alias };
}

/** Networking of a create body: per-network endpoint settings and the container's MAC address. */
export interface NetworkingRequest {
  endpoints: Record<string, EndpointConfig>;
  /** `Config.MacAddress` (API < 1.44): applies to the endpoint of the NetworkMode network. */
  mac?: string;
}

/** One `EndpointSettings` (create's EndpointsConfig entry, or connect's EndpointConfig). */
export function parseEndpointSettings(v: unknown, where: string): EndpointConfig {
  if (v === undefined || v === null) return { aliases: [], driverOpts: null, ipamConfig: null, links: null };
  if (!isObj(v)) throw new InvalidParameterError(`${where} must be an object`);
  const ipam = v.IPAMConfig;
  if (ipam !== undefined && ipam !== null && !isObj(ipam))
    throw new InvalidParameterError(`${where}.IPAMConfig must be an object`);
  const ip = (k: 'IPv4Address' | 'IPv6Address', fam: 4 | 6) => {
    const a = ipam?.[k];
    if (a === undefined || a === null || a === '') return undefined;
    if (typeof a !== 'string' || isIP(a) !== fam)
      throw new InvalidParameterError(`invalid IPv${fam} address: ${String(a)}`);
    return a;
  };
  const mac = v.MacAddress;
  if (mac !== undefined && mac !== null && mac !== '' && (typeof mac !== 'string' || !MAC.test(mac)))
    throw new InvalidParameterError(`invalid MAC address: ${String(mac)}`);
  const opts = v.DriverOpts;
  if (opts !== undefined && opts !== null && (!isObj(opts) || Object.values(opts).some((x) => typeof x !== 'string')))
    throw new InvalidParameterError(`${where}.DriverOpts must be an object of strings`);
  const links = strings(v.Links, `${where}.Links`);
  for (const l of links) parseLink(l);
  return {
    aliases: [...new Set(strings(v.Aliases, `${where}.Aliases`))],
    ipv4: ip('IPv4Address', 4),
    ipv6: ip('IPv6Address', 6),
    mac: typeof mac === 'string' && mac ? mac.toLowerCase() : undefined,
    driverOpts: isObj(opts) ? { ...(opts as Labels) } : null,
    ipamConfig: isObj(ipam) ? { ...ipam } : null,
    links: links.length ? links : null,
  };
}

/** Validates the networking fields of a create body (HostConfig raw JSON as sent). */
export function parseNetworking(body: Json, hc: Json): NetworkingRequest {
  validatePorts(hc.PortBindings, body.ExposedPorts);
  if (hc.PublishAllPorts !== undefined && hc.PublishAllPorts !== null && typeof hc.PublishAllPorts !== 'boolean')
    throw new InvalidParameterError('HostConfig.PublishAllPorts must be a boolean');
  for (const d of strings(hc.Dns, 'HostConfig.Dns'))
    if (!isIP(d)) throw new InvalidParameterError(`${d} is not an ip address`);
  for (const s of strings(hc.DnsSearch, 'HostConfig.DnsSearch'))
    if (!/^[a-zA-Z0-9._-]+$/.test(s) || s.length > 255) throw new InvalidParameterError(`invalid search domain: ${s}`);
  for (const o of strings(hc.DnsOptions, 'HostConfig.DnsOptions'))
    if (!/^[a-zA-Z0-9_.:-]+$/.test(o)) throw new InvalidParameterError(`invalid DNS option: ${o}`);
  for (const e of strings(hc.ExtraHosts, 'HostConfig.ExtraHosts')) {
    const i = e.indexOf(':');
    const host = e.slice(0, i);
    const ip = e.slice(i + 1);
    if (i <= 0 || !/^[a-zA-Z0-9._-]+$/.test(host) || (ip !== 'host-gateway' && !isIP(ip)))
      throw new InvalidParameterError(`invalid IP address in add-host: "${ip}"`);
  }
  const mac = body.MacAddress;
  if (mac !== undefined && mac !== null && mac !== '' && (typeof mac !== 'string' || !MAC.test(mac)))
    throw new InvalidParameterError(`invalid MAC address: ${String(mac)}`);
  const nc = body.NetworkingConfig;
  if (nc !== undefined && nc !== null && !isObj(nc))
    throw new InvalidParameterError('NetworkingConfig must be an object');
  const eps = nc?.EndpointsConfig;
  if (eps !== undefined && eps !== null && !isObj(eps))
    throw new InvalidParameterError('NetworkingConfig.EndpointsConfig must be an object');
  const endpoints: Record<string, EndpointConfig> = {};
  for (const [name, v] of Object.entries(eps ?? {}))
    endpoints[name] = parseEndpointSettings(v, `EndpointsConfig[${JSON.stringify(name)}]`);
  return { endpoints, mac: typeof mac === 'string' && mac ? mac.toLowerCase() : undefined };
}
