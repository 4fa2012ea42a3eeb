// skiff ps: docker's container table.

import { displayablePorts, type PortEntry } from '../format/ports.js';
import { familiarName, familiarString, parseNormalizedNamed } from '../format/reference.js';
import { TABLE_OPTIONS, tabwrite } from '../format/tabwriter.js';
import { ellipsis, goQuote, truncateId } from '../format/text.js';
import { timeAgo } from '../format/units.js';
import { StatusError, UsageError } from '../cli/errors.js';
import { FormatError, formatList } from '../format/table-format.js';
import { parseTemplate, TemplateExecError, TemplateParseError } from '../format/template.js';
import {
  CONTAINER_HEADERS,
  CONTAINER_RAW_FORMAT,
  type ContainerListEntry,
  containerContext,
  DEFAULT_CONTAINER_TABLE,
} from './container-context.js';
import { intFlag } from './container-ops.js';
import type { Command } from './types.js';

export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  Ports?: PortEntry[] | null;
  State?: string;
  Status?: string;
}

/** ContainerContext.Image(): short ID, or the reference without its digest. */
export function displayImage(c: ContainerSummary): string {
  const image = c.Image ?? '';
  if (image === '') return '<no image>';
  if (c.ImageID && truncateId(c.ImageID) === truncateId(image)) return truncateId(image);
  try {
    const ref = parseNormalizedNamed(image);
    return ref.tag ? familiarString({ ...ref, digest: undefined }) : familiarName(ref);
  } catch {
    return image;
  }
}

/** ContainerContext.Names(): names without "/", link names (a/b) dropped. */
export function displayNames(names: readonly string[] | null | undefined): string {
  const stripped = (names ?? []).map((n) => (n.startsWith('/') ? n.slice(1) : n));
  const plain = stripped.find((n) => !n.includes('/'));
  return plain !== undefined ? plain : stripped.join(',');
}

export function formatContainerTable(containers: readonly ContainerSummary[], nowMs: number): string {
  const lines = ['CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES'];
  for (const c of containers) {
    lines.push(
      [
        truncateId(c.Id),
        displayImage(c),
        goQuote(ellipsis(c.Command ?? '', 20)),
        timeAgo(c.Created ?? 0, nowMs),
        c.Status ?? '',
        displayablePorts(c.Ports),
        displayNames(c.Names),
      ].join('\t'),
    );
  }
  return tabwrite(lines, TABLE_OPTIONS);
}

function parseFilters(entries: readonly string[]): Record<string, Record<string, boolean>> | undefined {
  if (entries.length === 0) return undefined;
  const filters: Record<string, Record<string, boolean>> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) {
      throw new UsageError(
        `invalid argument "${entry}" for "-f, --filter" flag: bad format of filter (expected name=value)`,
        'flag',
      );
    }
    const key = entry.slice(0, eq).trim().toLowerCase();
    const value = entry.slice(eq + 1).trim();
    (filters[key] ??= {})[value] = true;
  }
  return filters;
}

/** Runs the template once over an empty container: validates it and tells whether it shows .Size. */
function preflight(format: string, quiet: boolean): Set<string> {
  const used = new Set<string>();
  if (format === '' || quiet) return used;
  let tmpl;
  try {
    tmpl = parseTemplate(format);
  } catch (err) {
    if (err instanceof TemplateParseError) throw new StatusError(1, `failed to parse template: ${err.message}`);
    throw err;
  }
  try {
    tmpl.execute(containerContext({ Id: '' }, { trunc: true, now: 0, used }));
  } catch (err) {
    if (err instanceof TemplateExecError) throw new StatusError(1, `failed to execute template: ${err.message}`);
    throw err;
  }
  return used;
}

export const psCommand: Command = {
  name: 'ps',
  usage: 'ps [OPTIONS]',
  summary: 'List containers',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    {
      name: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      description: 'Filter output based on conditions provided',
    },
    {
      name: 'format',
      type: 'string',
      description: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'",
    },
    {
      name: 'last',
      short: 'n',
      type: 'string',
      valueName: 'int',
      description: 'Show n last created containers (includes all states) (default -1)',
    },
    {
      name: 'latest',
      short: 'l',
      type: 'bool',
      description: 'Show the latest created container (includes all states)',
    },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
    { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes' },
  ],
  async run(ctx, { flags }) {
    const quiet = flags.quiet === true;
    const format = (flags.format as string | undefined) ?? '';
    if (format !== '' && quiet) {
      ctx.streams.stderr.write('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
    }
    const last = intFlag(flags.last, '-n, --last') ?? -1;
    const filters = parseFilters((flags.filter as string[] | undefined) ?? []);
    const used = preflight(format, quiet);
    const size = flags.size === true || (flags.size === undefined && used.has('Size'));
    const limit = last > 0 ? last : flags.latest === true ? 1 : undefined;
    const containers = await ctx.client.json<ContainerListEntry[]>('GET', '/containers/json', {
      query: {
        all: flags.all === true,
        limit,
        size,
        filters: filters ? JSON.stringify(filters) : undefined,
      },
    });
    const now = ctx.now();
    const trunc = flags['no-trunc'] !== true;
    const rows = containers.map((c) => containerContext(c, { trunc, now }));
    try {
      ctx.streams.stdout.write(
        formatList(
          rows,
          {
            format: quiet ? '' : format,
            quiet,
            defaultTable: size ? `${DEFAULT_CONTAINER_TABLE}\t{{.Size}}` : DEFAULT_CONTAINER_TABLE,
            rawFormat: size ? `${CONTAINER_RAW_FORMAT}size: {{.Size}}\n` : CONTAINER_RAW_FORMAT,
          },
          CONTAINER_HEADERS,
        ),
      );
    } catch (err) {
      if (err instanceof FormatError) throw new StatusError(1, err.message);
      throw err;
    }
    return 0;
  },
};
