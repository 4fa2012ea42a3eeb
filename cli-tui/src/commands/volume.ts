// skiff volume create/ls/inspect/rm/prune.

import { StatusError } from '../cli/errors.js';
import { filtersQuery, parseFilterFlags } from '../cli/filters.js';
import { defineGroup, type SubCommand } from '../cli/group.js';
import { joinLabels, keyValues } from '../cli/kv.js';
import { naturalCompare } from '../format/natural-sort.js';
import { formatList } from '../format/table-format.js';
import { templateStruct } from '../format/template.js';
import { humanSize } from '../format/units.js';
import { confirmPrune, printPruneResult, pruneList } from './prune.js';
import { describeError } from './report.js';
import { typedInspectCommand } from './image-inspect.js';

export interface Volume {
  Name: string;
  Driver?: string;
  Mountpoint?: string;
  Scope?: string;
  Labels?: Record<string, string> | null;
  UsageData?: { Size?: number; RefCount?: number } | null;
}

const list = (v: unknown): string[] => (v as string[] | undefined) ?? [];

const createCommand: SubCommand = {
  name: 'create',
  usage: 'create [OPTIONS] [VOLUME]',
  summary: 'Create a volume',
  interspersed: true,
  args: { max: 1 },
  flags: [
    { name: 'driver', short: 'd', type: 'string', description: 'Specify volume driver name (default "local")' },
    { name: 'label', type: 'list', description: 'Set metadata for a volume' },
    { name: 'name', type: 'string', description: 'Specify volume name' },
    { name: 'opt', short: 'o', type: 'list', valueName: 'map', description: 'Set driver specific options' },
  ],
  async run(ctx, { flags, args }) {
    const flagName = flags.name as string | undefined;
    if (flagName !== undefined && args[0] !== undefined) {
      throw new StatusError(
        1,
        'conflicting options: cannot specify a volume-name through both --name and as a positional arg',
      );
    }
    const body = {
      Name: args[0] ?? flagName ?? '',
      Driver: (flags.driver as string | undefined) ?? 'local',
      DriverOpts: keyValues(list(flags.opt)),
      Labels: keyValues(list(flags.label)),
    };
    const v = await ctx.client.json<Volume>('POST', '/volumes/create', { body });
    ctx.streams.stdout.write(`${v.Name}\n`);
    return 0;
  },
};

export function volumeContext(v: Volume): Record<string, unknown> {
  const labels = v.Labels ?? {};
  const usage = v.UsageData;
  return templateStruct('*formatter.volumeContext', {
    Availability: 'N/A',
    Driver: v.Driver ?? '',
    Group: 'N/A',
    Label: (name: unknown) => labels[String(name)] ?? '',
    Labels: joinLabels(labels),
    Links: usage && (usage.RefCount ?? -1) !== -1 ? String(usage.RefCount) : 'N/A',
    Mountpoint: v.Mountpoint ?? '',
    Name: v.Name,
    Scope: v.Scope ?? '',
    Size: usage && (usage.Size ?? -1) !== -1 ? humanSize(usage.Size ?? 0) : 'N/A',
    Status: 'N/A',
  });
}

const VOLUME_HEADERS = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

export function formatVolumeList(volumes: readonly Volume[], opts: { format?: string; quiet?: boolean }): string {
  const sorted = [...volumes].sort((a, b) => naturalCompare(a.Name, b.Name));
  return formatList(
    sorted.map(volumeContext),
    { format: opts.format, quiet: opts.quiet, defaultTable: 'table {{.Driver}}\t{{.Name}}', quietFormat: '{{.Name}}' },
    VOLUME_HEADERS,
  );
}

const lsCommand: SubCommand = {
  name: 'ls',
  aliases: ['list'],
  usage: 'ls [OPTIONS]',
  summary: 'List volumes',
  interspersed: true,
  args: { max: 0 },
  flags: [
    {
      name: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      description: 'Provide filter values (e.g. "dangling=true")',
    },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display volume names' },
  ],
  async run(ctx, { flags }) {
    const filters = parseFilterFlags(flags.filter as string[] | undefined);
    const res = await ctx.client.json<{ Volumes?: Volume[] | null; Warnings?: string[] | null }>('GET', '/volumes', {
      query: { filters: filtersQuery(filters) },
    });
    ctx.streams.stdout.write(
      formatVolumeList(res?.Volumes ?? [], { format: flags.format as string | undefined, quiet: flags.quiet === true }),
    );
    for (const w of res?.Warnings ?? []) ctx.streams.stderr.write(`${w}\n`);
    return 0;
  },
};

const inspectCommand = typedInspectCommand('volume');

const rmCommand: SubCommand = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'rm [OPTIONS] VOLUME [VOLUME...]',
  summary: 'Remove one or more volumes',
  interspersed: true,
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', description: 'Force the removal of one or more volumes' }],
  async run(ctx, { flags, args }) {
    const errors: string[] = [];
    for (const name of args) {
      try {
        await ctx.client.json('DELETE', `/volumes/${encodeURIComponent(name)}`, {
          query: { force: flags.force === true },
        });
        ctx.streams.stdout.write(`${name}\n`);
      } catch (err) {
        errors.push(describeError(err));
      }
    }
    if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
    return 0;
  },
};

const pruneCommand: SubCommand = {
  name: 'prune',
  usage: 'prune [OPTIONS]',
  summary: 'Remove unused local volumes',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'filter', type: 'list', valueName: 'filter', description: 'Provide filter values (e.g. "label=<label>")' },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, { flags }) {
    const filters = parseFilterFlags(flags.filter as string[] | undefined);
    const warning = 'WARNING! This will remove all local volumes not used by at least one container.';
    if (!(await confirmPrune(ctx, warning, flags.force === true))) return 0;
    printPruneResult(ctx, await pruneList(ctx, '/volumes/prune', 'VolumesDeleted', 'Deleted Volumes', filters));
    return 0;
  },
};

// docker's volume command is the one whose usage errors say `docker volume COMMAND`.
export const volumeCommand = defineGroup(
  'volume',
  'Manage volumes',
  [createCommand, inspectCommand, lsCommand, pruneCommand, rmCommand],
  { errorUsage: 'volume COMMAND' },
);
