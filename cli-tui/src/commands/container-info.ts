// skiff top, port, diff: read-only views of one container.

import { StatusError } from '../cli/errors.js';
import { tabwrite } from '../format/tabwriter.js';
import { containerPath } from './container-ops.js';
import type { Command } from './types.js';

export const topCommand: Command = {
  name: 'top',
  usage: 'top CONTAINER [ps OPTIONS]',
  summary: 'Display the running processes of a container',
  interspersed: false,
  args: { min: 1 },
  flags: [],
  async run(ctx, { args }) {
    const [ref = '', ...psArgs] = args;
    const top = await ctx.client.json<{ Titles?: string[] | null; Processes?: string[][] | null }>(
      'GET',
      containerPath(ref, '/top'),
      { query: { ps_args: psArgs.length > 0 ? psArgs.join(' ') : undefined } },
    );
    const lines = [(top.Titles ?? []).join('\t'), ...(top.Processes ?? []).map((p) => p.join('\t'))];
    ctx.streams.stdout.write(tabwrite(lines, { minWidth: 20, padding: 3 }));
    return 0;
  },
};

interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

export const portCommand: Command = {
  name: 'port',
  usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  summary: 'List port mappings or a specific mapping for the container',
  interspersed: true,
  args: { min: 1, max: 2 },
  flags: [],
  async run(ctx, { args }) {
    const [ref = '', wanted] = args;
    const c = await ctx.client.json<{ NetworkSettings?: { Ports?: Record<string, PortBinding[] | null> | null } }>(
      'GET',
      containerPath(ref, '/json'),
    );
    const ports = c.NetworkSettings?.Ports ?? {};
    const out: string[] = [];
    if (wanted !== undefined) {
      const [port = '', proto = 'tcp'] = wanted.split('/');
      const n = Number(port);
      if (!/^\d+$/.test(port) || n > 65535) {
        throw new StatusError(1, `Error: invalid port (${port}): strconv.ParseUint: parsing "${port}": invalid syntax`);
      }
      const frontends = ports[`${port}/${proto || 'tcp'}`] ?? [];
      if (frontends.length === 0) throw new StatusError(1, `Error: No public port '${wanted}' published for ${ref}`);
      for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
    } else {
      for (const [from, frontends] of Object.entries(ports)) {
        for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
      }
    }
    if (out.length > 0) ctx.streams.stdout.write(`${out.sort(naturalLess).join('\n')}\n`);
    return 0;
  },
};

const CHANGE_KINDS = ['C', 'A', 'D'];

export const diffCommand: Command = {
  name: 'diff',
  usage: 'diff CONTAINER',
  summary: "Inspect changes to files or directories on a container's filesystem",
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, { args }) {
    const changes =
      (await ctx.client.json<{ Kind: number; Path: string }[] | null>(
        'GET',
        containerPath(args[0] ?? '', '/changes'),
      )) ?? [];
    for (const change of changes) {
      ctx.streams.stdout.write(`${CHANGE_KINDS[change.Kind] ?? '?'} ${change.Path}\n`);
    }
    return 0;
  },
};
