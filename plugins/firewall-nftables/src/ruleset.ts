import type { FirewallNetwork, FirewallPublication, PortMapping } from '@skiff/core/plugin-api';

/**
 * Renders the whole skiff table as one `nft -f` script. Re-declaring the table, deleting it and
 * declaring it again in one script is one transaction: the kernel swaps the old rules for the new
 * ones atomically, so no packet ever sees a half-built table.
 *
 * Coexistence with dockerd (iptables FORWARD policy DROP): an `accept` in our table ends only our
 * chain, and iptables' chain still drops the packet. So every packet our forward chain lets through
 * is also marked with `mark`, and one iptables rule accepts marked packets (see compat.ts).
 */
export interface RulesetInput {
  table: string;
  /** Bit (or bits) set on forwarded packets that belong to skiff networks. */
  mark: number;
  networks: readonly FirewallNetwork[];
  publications: readonly FirewallPublication[];
}

const q = (s: string) => JSON.stringify(s);
const isV6 = (s: string) => s.includes(':');
const allHosts = (ip: string) => ip === '' || ip === '0.0.0.0' || ip === '::';

/**
 * Mappings on an IPv6 host address are the userland proxy's (userland-proxy.ts): DNAT cannot turn
 * IPv6 into IPv4, nor send ::1 anywhere. Only SCTP, which the proxy does not carry, stays here.
 */
export const proxied = (m: PortMapping) => isV6(m.hostIp) && m.protocol !== 'sctp';

export function renderRuleset(input: RulesetInput): string {
  const { table, networks, publications } = input;
  const mark = `0x${input.mark.toString(16)}`;
  const accept = `meta mark set meta mark | ${mark} accept`;
  const ifaces = networks.map((n) => n.iface);
  const isolated = networks.filter((n) => n.isolate).map((n) => n.iface);
  const set = (xs: string[]) => (xs.length ? `{ ${xs.map(q).join(', ')} }` : '');

  const forward: string[] = [];
  for (const n of networks) {
    if (n.internal) {
      // No route out: nothing enters or leaves the network through another interface.
      forward.push(`iifname ${q(n.iface)} oifname != ${q(n.iface)} drop`);
      forward.push(`oifname ${q(n.iface)} iifname != ${q(n.iface)} drop`);
    } else if (n.isolate) {
      const others = isolated.filter((i) => i !== n.iface);
      if (others.length) forward.push(`iifname ${q(n.iface)} oifname ${set(others)} drop`);
    }
  }
  if (ifaces.length) {
    // Published ports are reachable from the host's outside and from containers of the same
    // network; another isolated network is dropped above, even through a host address, as by
    // dockerd's DOCKER-ISOLATION chains, which run before its DNAT accept.
    forward.push(`oifname ${set(ifaces)} ct status dnat ${accept}`);
    forward.push(`iifname ${set(ifaces)} ${accept}`);
    forward.push(`oifname ${set(ifaces)} ct state established,related ${accept}`);
  }

  const ports: string[] = [];
  for (const p of publications) {
    const v6 = isV6(p.address);
    const family = v6 ? 'ip6' : 'ip';
    const target = v6 ? `[${p.address}]` : p.address;
    for (const m of p.ports) {
      if (proxied(m)) continue;
      if (!allHosts(m.hostIp) && isV6(m.hostIp) !== v6) continue;
      const dst = allHosts(m.hostIp) ? `meta nfproto ${v6 ? 'ipv6' : 'ipv4'}` : `${family} daddr ${m.hostIp}`;
      ports.push(`${dst} ${m.protocol} dport ${m.hostPort} dnat ${family} to ${target}:${m.containerPort}`);
    }
  }

  // Before any DNAT: the host's own services on a network's addresses stay the host's.
  const own: string[] = [];
  for (const n of networks)
    for (const h of n.hostServices ?? []) {
      const family = isV6(h.address) ? 'ip6' : 'ip';
      own.push(`iifname ${q(n.iface)} ${family} daddr ${h.address} ${h.protocol} dport ${h.port} return`);
    }

  const post: string[] = [];
  for (const n of networks) {
    for (const s of n.subnets) {
      const family = isV6(s) ? 'ip6' : 'ip';
      if (n.masquerade && !n.internal) post.push(`${family} saddr ${s} oifname != ${q(n.iface)} masquerade`);
      // Hairpin: a container reaching a published port of its own network through a host address.
      post.push(`${family} saddr ${s} oifname ${q(n.iface)} ct status dnat masquerade`);
    }
  }
  // The host reaching a published port on 127.0.0.1 (route_localnet is set on the bridges).
  if (ifaces.length) post.push(`oifname ${set(ifaces)} ip saddr 127.0.0.0/8 masquerade`);

  const chain = (name: string, hook: string, rules: string[]) =>
    [`  chain ${name} {`, ...(hook ? [`    ${hook}`] : []), ...rules.map((r) => `    ${r}`), '  }'].join('\n');

  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    chain('forward', 'type filter hook forward priority filter - 10; policy accept;', forward),
    chain('ports', '', ports),
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', [
      ...own,
      'fib daddr type local jump ports',
    ]),
    chain('output', 'type nat hook output priority -100; policy accept;', ['fib daddr type local jump ports']),
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', post),
    '}',
    '',
  ].join('\n');
}
