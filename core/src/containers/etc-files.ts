import { readFileSync, writeFileSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';

/**
 * Writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf into `dir`. Synchronously:
 * three small files on every start's critical path (microseconds each, vs ~0.1 ms a trip through
 * the thread pool).
 */
export function writeEtcFiles(
  dir: string,
  opts: { hostname: string; domainname: string; hostNetwork: boolean } & Partial<EtcNetworkOptions>,
): { hostname: string; hosts: string; resolvConf: string } {
  const paths = { hostname: join(dir, 'hostname'), hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf') };
  const name = opts.hostNetwork ? hostHostname() : opts.hostname;
  let hosts =
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
  if (opts.hostNetwork) {
    hosts = readTextOr('/etc/hosts', hosts);
  }
  hosts += extraHostLines(opts.extraHosts ?? []);
  writeFileSync(paths.hostname, `${name}\n`, { mode: 0o644 });
  writeFileSync(paths.hosts, hosts, { mode: 0o644 });
  writeFileSync(paths.resolvConf, withUserDns(resolvConf(opts.hostNetwork), opts), { mode: 0o644 });
  return paths;
}

/** The EtcNetworkOptions of a stored HostConfig (`host-gateway` entries need a network: left out here). */
export function etcNetworkOptions(hc: Record<string, unknown>): EtcNetworkOptions {
  const list = (k: string) => (Array.isArray(hc[k]) ? (hc[k] as string[]) : []);
  return {
    extraHosts: list('ExtraHosts').filter((e) => !e.endsWith(':host-gateway')),
    dns: list('Dns'),
    dnsSearch: list('DnsSearch'),
    dnsOptions: list('DnsOptions'),
  };
}

/** --add-host, --dns, --dns-search, --dns-option of a container. */
export interface EtcNetworkOptions {
  extraHosts: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
}

const BASE_HOSTS =
  '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

/** `name:ip` entries (the first `:` splits: names have none, IPv6 addresses do). */
function extraHostLines(extra: string[]): string {
  return extra
    .map((e) => {
      const i = e.indexOf(':');
      return `${e.slice(i + 1)}\t${e.slice(0, i)}\n`;
    })
    .join('');
}

/**
 * After the network attach: /etc/hosts with the container's addresses and /etc/resolv.conf with the
 * network's resolver when it has one. Both are bind-mounted already, so they are rewritten in place.
 */
export function writeNetworkEtcFiles(
  paths: { hosts: string; resolvConf: string },
  opts: EtcNetworkOptions & {
    hostname: string;
    domainname: string;
    addresses: string[];
    resolver?: { nameservers: string[]; search?: string[]; options?: string[] };
  },
): void {
  const names = opts.domainname ? `${opts.hostname}.${opts.domainname} ${opts.hostname}` : opts.hostname;
  const own = opts.addresses.map((a) => `${a}\t${names}\n`).join('');
  writeFileSync(paths.hosts, BASE_HOSTS + extraHostLines(opts.extraHosts) + own);
  const host = resolvConf(false);
  writeFileSync(paths.resolvConf, opts.resolver ? resolverConf(host, opts.resolver, opts) : withUserDns(host, opts));
}

/**
 * resolv.conf of a container whose network serves DNS, as dockerd builds it for its 127.0.0.11:
 * the search list, only the network's resolver (it forwards to the --dns servers), the options and
 * `ndots:0` unless the user set ndots (a name on the network is asked as is, before the search list).
 */
function resolverConf(
  host: string,
  resolver: { nameservers: string[]; search?: string[]; options?: string[] },
  user: Partial<EtcNetworkOptions>,
): string {
  const search = user.dnsSearch?.length ? user.dnsSearch : (resolver.search ?? searchOf(host));
  let options = user.dnsOptions?.length ? user.dnsOptions : (resolver.options ?? optionsOf(host));
  if (!options.some((o) => o.startsWith('ndots:'))) options = [...options, 'ndots:0'];
  const lines = [
    // `--dns-search .` means no search list.
    ...(search.length && search.join(' ') !== '.' ? [`search ${search.join(' ')}`] : []),
    ...resolver.nameservers.map((n) => `nameserver ${n}`),
    `options ${options.join(' ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

function optionsOf(text: string): string[] {
  return text.split('\n').flatMap((l) => (/^\s*options\s/.test(l) ? l.trim().split(/\s+/).slice(1) : []));
}

function searchOf(text: string): string[] {
  const line = text.split('\n').findLast((l) => /^\s*search\s/.test(l));
  return line ? line.trim().split(/\s+/).slice(1) : [];
}

/** --dns replaces the nameservers, --dns-search the search list, --dns-option the options. */
function withUserDns(text: string, opts: Partial<EtcNetworkOptions>): string {
  const dns = opts.dns ?? [];
  const search = opts.dnsSearch ?? [];
  const options = opts.dnsOptions ?? [];
  if (!dns.length && !search.length && !options.length) return text;
  let lines = text.split('\n').filter((l) => l.trim() !== '');
  if (dns.length) lines = [...lines.filter((l) => !/^\s*nameserver\b/.test(l)), ...dns.map((d) => `nameserver ${d}`)];
  if (search.length)
    lines = [
      ...lines.filter((l) => !/^\s*(search|domain)\b/.test(l)),
      // `--dns-search .` means no search list.
      ...(search.includes('.') ? [] : [`search ${search.join(' ')}`]),
    ];
  if (options.length) lines = [...lines.filter((l) => !/^\s*options\b/.test(l)), `options ${options.join(' ')}`];
  return `${lines.join('\n')}\n`;
}

/** The host's resolv.conf; outside the host network, loopback resolvers are unreachable, so they go (as in dockerd). */
function readTextOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function resolvConf(hostNetwork: boolean): string {
  const text = readTextOr('/etc/resolv.conf', '');
  if (hostNetwork) return text;
  const lines = text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  return `${lines.join('\n').trim()}\n`;
}
