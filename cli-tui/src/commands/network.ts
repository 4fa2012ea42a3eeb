// skiff network create/ls/inspect/rm/prune/connect/disconnect.

import { BlockList, isIP } from 'node:net';
import { ApiError } from '../api/errors.js';
import { StatusError } from '../cli/errors.js';
import { filtersQuery, parseFilterFlags } from '../cli/filters.js';
import { defineGroup, type SubCommand } from '../cli/group.js';
import { joinLabels, keyValues } from '../cli/kv.js';
import { goTimeString } from '../format/go-time.js';
import { naturalCompare } from '../format/natural-sort.js';
import { formatList } from '../format/table-format.js';
import { templateStruct } from '../format/template.js';
import { truncateId } from '../format/text.js';
import { confirmPrune, printPruneResult, pruneList } from './prune.js';
import { describeError } from './report.js';
import { typedInspectCommand } from './image-inspect.js';

export interface NetworkSummary {
  Id: string;
  Name: string;
  Driver?: string;
  Scope?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
  Created?: string;
}

export interface IpamConfig {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** docker's subnetMatches: whether `data` (an address or a CIDR) lies inside `subnet`. */
function subnetMatches(subnet: string, data: string): boolean {
  const [net = '', bits = ''] = subnet.split('/');
  const family = isIP(net) === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  const prefix = Number(bits);
  if (isIP(net) === 0 || !/^\d+$/.test(bits) || prefix > (family === 'ipv6' ? 128 : 32)) {
    throw new StatusError(1, `invalid subnet: invalid CIDR address: ${subnet}`);
  }
  list.addSubnet(net, prefix, family);
  const addr = data.split('/')[0] ?? '';
  if (data.includes('/') && isIP(addr) === 0) throw new StatusError(1, `invalid CIDR address: ${data}`);
  if (isIP(addr) === 0) return false;
  return list.check(addr, isIP(addr) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * docker's consolidateIpam: each --ip-range, --gateway and --aux-address goes with the subnet
 * holding it. Subnets alone are not checked here: the daemon reports bad ones.
 */
export function consolidateIpam(
  subnets: readonly string[],
  ranges: readonly string[],
  gateways: readonly string[],
  aux: Record<string, string>,
): IpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) {
    throw new StatusError(1, 'every ip-range or gateway must have a corresponding subnet');
  }
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      const [a = '', b = ''] = [subnets[i], subnets[j]];
      if (subnetMatches(a, b) || subnetMatches(b, a)) {
        throw new StatusError(1, 'multiple overlapping subnet configuration is not supported');
      }
    }
  }
  const configs: IpamConfig[] = subnets.map((s) => ({ Subnet: s }));
  const place = (value: string, key: 'IPRange' | 'Gateway'): void => {
    const what = key === 'IPRange' ? 'range' : 'gateway';
    const c = configs.find((cfg) => subnetMatches(cfg.Subnet, value));
    if (!c) throw new StatusError(1, `no matching subnet for ${what} ${value}`);
    const existing = c[key];
    if (existing) {
      const kind = key === 'IPRange' ? 'ranges' : 'gateways';
      const prep = key === 'IPRange' ? 'on' : 'for';
      throw new StatusError(
        1,
        `cannot configure multiple ${kind} (${existing}, ${value}) ${prep} the same subnet (${c.Subnet})`,
      );
    }
    c[key] = value;
  };
  for (const r of ranges) place(r, 'IPRange');
  for (const g of gateways) place(g, 'Gateway');
  for (const [name, ip] of Object.entries(aux)) {
    const c = configs.find((cfg) => subnetMatches(cfg.Subnet, ip));
    if (!c) throw new StatusError(1, `no matching subnet for aux-address ${ip}`);
    c.AuxiliaryAddresses = { ...c.AuxiliaryAddresses, [name]: ip };
  }
  return configs;
}

const list = (v: unknown): string[] => (v as string[] | undefined) ?? [];

const createCommand: SubCommand = {
  name: 'create',
  usage: 'create [OPTIONS] NETWORK',
  summary: 'Create a network',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [
    { name: 'attachable', type: 'bool', description: 'Enable manual container attachment' },
    {
      name: 'aux-address',
      type: 'list',
      valueName: 'map',
      description: 'Auxiliary IPv4 or IPv6 addresses used by Network driver',
    },
    { name: 'driver', short: 'd', type: 'string', description: 'Driver to manage the Network (default "bridge")' },
    { name: 'gateway', type: 'list', valueName: 'strings', description: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'internal', type: 'bool', description: 'Restrict external access to the network' },
    { name: 'ip-range', type: 'list', valueName: 'strings', description: 'Allocate container ip from a sub-range' },
    { name: 'ipam-driver', type: 'string', description: 'IP Address Management Driver (default "default")' },
    { name: 'ipam-opt', type: 'list', valueName: 'map', description: 'Set IPAM driver specific options' },
    { name: 'ipv6', type: 'bool', description: 'Enable IPv6 networking' },
    { name: 'label', type: 'list', description: 'Set metadata on a network' },
    { name: 'opt', short: 'o', type: 'list', valueName: 'map', description: 'Set driver specific options' },
    { name: 'scope', type: 'string', description: "Control the network's scope" },
    {
      name: 'subnet',
      type: 'list',
      valueName: 'strings',
      description: 'Subnet in CIDR format that represents a network segment',
    },
  ],
  async run(ctx, { flags, args }) {
    const ipam = consolidateIpam(
      list(flags.subnet),
      list(flags['ip-range']),
      list(flags.gateway),
      keyValues(list(flags['aux-address'])),
    );
    const body = {
      Name: args[0],
      CheckDuplicate: true,
      Driver: (flags.driver as string | undefined) ?? 'bridge',
      Options: keyValues(list(flags.opt)),
      IPAM: {
        Driver: (flags['ipam-driver'] as string | undefined) ?? 'default',
        Config: ipam,
        Options: keyValues(list(flags['ipam-opt'])),
      },
      Internal: flags.internal === true,
      EnableIPv6: flags.ipv6 === true,
      Attachable: flags.attachable === true,
      Labels: keyValues(list(flags.label)),
      ...(flags.scope ? { Scope: flags.scope } : {}),
    };
    const res = await ctx.client.json<{ Id: string }>('POST', '/networks/create', { body });
    ctx.streams.stdout.write(`${res.Id}\n`);
    return 0;
  },
};

export function networkContext(n: NetworkSummary, trunc: boolean): Record<string, unknown> {
  const labels = n.Labels ?? {};
  return templateStruct('*network.networkContext', {
    CreatedAt: goTimeString(n.Created),
    Driver: n.Driver ?? '',
    ID: trunc ? truncateId(n.Id) : n.Id,
    // docker 28 prints EnableIPv4 (API 1.47); older daemons leave it out, which decodes as false.
    IPv4: String(n.EnableIPv4 === true),
    IPv6: String(n.EnableIPv6 === true),
    Internal: String(n.Internal === true),
    Label: (name: unknown) => labels[String(name)] ?? '',
    Labels: joinLabels(labels),
    Name: n.Name,
    Scope: n.Scope ?? '',
  });
}

const NETWORK_HEADERS = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

export function formatNetworkList(
  networks: readonly NetworkSummary[],
  opts: { format?: string; quiet?: boolean; noTrunc?: boolean },
): string {
  const sorted = [...networks].sort((a, b) => naturalCompare(a.Name, b.Name));
  return formatList(
    sorted.map((n) => networkContext(n, opts.noTrunc !== true)),
    { format: opts.format, quiet: opts.quiet, defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}' },
    NETWORK_HEADERS,
  );
}

const lsCommand: SubCommand = {
  name: 'ls',
  aliases: ['list'],
  usage: 'ls [OPTIONS]',
  summary: 'List networks',
  interspersed: true,
  args: { max: 0 },
  flags: [
    {
      name: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      description: 'Provide filter values (e.g. "driver=bridge")',
    },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-trunc', type: 'bool', description: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display network IDs' },
  ],
  async run(ctx, { flags }) {
    const filters = parseFilterFlags(flags.filter as string[] | undefined);
    const networks = await ctx.client.json<NetworkSummary[]>('GET', '/networks', {
      query: { filters: filtersQuery(filters) },
    });
    ctx.streams.stdout.write(
      formatNetworkList(networks ?? [], {
        format: flags.format as string | undefined,
        quiet: flags.quiet === true,
        noTrunc: flags['no-trunc'] === true,
      }),
    );
    return 0;
  },
};

const inspectCommand = typedInspectCommand('network');

const rmCommand: SubCommand = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'rm NETWORK [NETWORK...]',
  summary: 'Remove one or more networks',
  interspersed: true,
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Do not error if the network does not exist' }],
  async run(ctx, { flags, args }) {
    let failed = false;
    for (const name of args) {
      try {
        await ctx.client.json('DELETE', `/networks/${encodeURIComponent(name)}`);
        ctx.streams.stdout.write(`${name}\n`);
      } catch (err) {
        if (flags.force === true && err instanceof ApiError && err.isNotFound) continue;
        // docker reports each failure as it happens, then "exit status 1".
        ctx.streams.stderr.write(`${describeError(err)}\n`);
        failed = true;
      }
    }
    if (failed) throw new StatusError(1, 'exit status 1');
    return 0;
  },
};

const pruneCommand: SubCommand = {
  name: 'prune',
  usage: 'prune [OPTIONS]',
  summary: 'Remove all unused networks',
  interspersed: true,
  args: { max: 0 },
  flags: [
    {
      name: 'filter',
      type: 'list',
      valueName: 'filter',
      description: 'Provide filter values (e.g. "until=<timestamp>")',
    },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, { flags }) {
    const filters = parseFilterFlags(flags.filter as string[] | undefined);
    const warning = 'WARNING! This will remove all custom networks not used by at least one container.';
    if (!(await confirmPrune(ctx, warning, flags.force === true))) return 0;
    printPruneResult(
      ctx,
      await pruneList(ctx, '/networks/prune', 'NetworksDeleted', 'Deleted Networks', filters),
      false,
    );
    return 0;
  },
};

const connectCommand: SubCommand = {
  name: 'connect',
  usage: 'connect [OPTIONS] NETWORK CONTAINER',
  summary: 'Connect a container to a network',
  interspersed: true,
  args: { min: 2, max: 2 },
  flags: [
    { name: 'alias', type: 'list', valueName: 'strings', description: 'Add network-scoped alias for the container' },
    { name: 'driver-opt', type: 'list', valueName: 'strings', description: 'driver options for the network' },
    { name: 'ip', type: 'string', description: 'IPv4 address (e.g., "172.30.100.104")' },
    { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., "2001:db8::33")' },
    { name: 'link', type: 'list', description: 'Add link to another container' },
    {
      name: 'link-local-ip',
      type: 'list',
      valueName: 'strings',
      description: 'Add a link-local address for the container',
    },
  ],
  async run(ctx, { flags, args }) {
    const [network = '', container = ''] = args;
    const ipam: Record<string, unknown> = {};
    if (flags.ip) ipam.IPv4Address = flags.ip;
    if (flags.ip6) ipam.IPv6Address = flags.ip6;
    if (list(flags['link-local-ip']).length) ipam.LinkLocalIPs = list(flags['link-local-ip']);
    const endpoint: Record<string, unknown> = {};
    if (Object.keys(ipam).length) endpoint.IPAMConfig = ipam;
    if (list(flags.alias).length) endpoint.Aliases = list(flags.alias);
    if (list(flags.link).length) endpoint.Links = list(flags.link);
    if (list(flags['driver-opt']).length) endpoint.DriverOpts = keyValues(list(flags['driver-opt']));
    await ctx.client.json('POST', `/networks/${encodeURIComponent(network)}/connect`, {
      body: { Container: container, EndpointConfig: endpoint },
    });
    return 0;
  },
};

const disconnectCommand: SubCommand = {
  name: 'disconnect',
  usage: 'disconnect [OPTIONS] NETWORK CONTAINER',
  summary: 'Disconnect a container from a network',
  interspersed: true,
  args: { min: 2, max: 2 },
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the container to disconnect from a network' }],
  async run(ctx, { flags, args }) {
    const [network = '', container = ''] = args;
    await ctx.client.json('POST', `/networks/${encodeURIComponent(network)}/disconnect`, {
      body: { Container: container, Force: flags.force === true },
    });
    return 0;
  },
};

export const networkCommand = defineGroup('network', 'Manage networks', [
  connectCommand,
  createCommand,
  disconnectCommand,
  inspectCommand,
  lsCommand,
  pruneCommand,
  rmCommand,
]);
