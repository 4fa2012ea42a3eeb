// skiff system df/prune/events/info, and top-level `events`.

import { ApiError, ProtocolError } from '../api/errors.js';
import { JSONValueSplitter } from '../api/json-stream.js';
import { StatusError } from '../cli/errors.js';
import { type Filters, filtersQuery, parseFilterFlags } from '../cli/filters.js';
import { defineGroup, type SubCommand } from '../cli/group.js';
import { templateText } from '../format/table-format.js';
import { parseTemplate, TemplateExecError, TemplateParseError, templateStruct } from '../format/template.js';
import { humanSize } from '../format/units.js';
import { infoCommand } from './info.js';
import { dfCommand } from './system-df.js';
import { confirmPrune, pruneImages, pruneList } from './prune.js';
import { getTimestamp, TimeArgError } from './time-arg.js';
import type { CommandContext } from './types.js';

function pruneWarning(all: boolean, volumes: boolean): string {
  const lines = [
    'WARNING! This will remove:',
    '  - all stopped containers',
    '  - all networks not used by at least one container',
  ];
  if (volumes) lines.push('  - all anonymous volumes not used by at least one container');
  lines.push(all ? '  - all images without at least one container associated to them' : '  - all dangling images');
  lines.push(all ? '  - all build cache' : '  - unused build cache', '');
  return lines.join('\n');
}

async function pruneBuildCache(
  ctx: CommandContext,
  all: boolean,
  filters: Filters,
): Promise<{ output: string; space: number }> {
  try {
    return await pruneList(ctx, '/build/prune', 'CachesDeleted', 'Deleted build cache objects', filters, all);
  } catch (err) {
    // A daemon without a build cache endpoint has no cache to prune.
    if (err instanceof ApiError && err.isNotFound) return { output: '', space: 0 };
    throw err;
  }
}

const pruneCommand: SubCommand = {
  name: 'prune',
  usage: 'prune [OPTIONS]',
  summary: 'Remove unused data',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images not just dangling ones' },
    {
      name: 'filter',
      type: 'list',
      valueName: 'filter',
      description: 'Provide filter values (e.g. "label=<key>=<value>")',
    },
    { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
    { name: 'volumes', type: 'bool', description: 'Prune anonymous volumes' },
  ],
  async run(ctx, { flags }) {
    const all = flags.all === true;
    const volumes = flags.volumes === true;
    const filters = parseFilterFlags(flags.filter as string[] | undefined);
    if (!(await confirmPrune(ctx, pruneWarning(all, volumes), flags.force === true))) return 0;
    const steps: (() => Promise<{ output: string; space: number }>)[] = [
      () => pruneList(ctx, '/containers/prune', 'ContainersDeleted', 'Deleted Containers', filters),
      () => pruneList(ctx, '/networks/prune', 'NetworksDeleted', 'Deleted Networks', filters),
      ...(volumes ? [() => pruneList(ctx, '/volumes/prune', 'VolumesDeleted', 'Deleted Volumes', filters)] : []),
      () => pruneImages(ctx, { ...filters, dangling: { [String(!all)]: true } }),
      () => pruneBuildCache(ctx, all, filters),
    ];
    let space = 0;
    for (const step of steps) {
      const r = await step();
      space += r.space;
      if (r.output !== '') ctx.streams.stdout.write(`${r.output}\n`);
    }
    ctx.streams.stdout.write(`Total reclaimed space: ${humanSize(space)}\n`);
    return 0;
  },
};

/** The event stream, with `timeNano` kept exact (it does not fit a double). */
async function* readEvents(
  source: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<{ event: EventMessage; raw: string }> {
  const splitter = new JSONValueSplitter();
  const reviver = (key: string, value: unknown, context?: { source?: string }): unknown =>
    key === 'timeNano' && context?.source && /^\d+$/.test(context.source) ? BigInt(context.source) : value;
  for await (const chunk of source) {
    for (const text of splitter.push(chunk)) {
      try {
        yield { event: JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1]) as EventMessage, raw: text };
      } catch (err) {
        throw new ProtocolError(`malformed JSON in stream: ${(err as Error).message}`);
      }
    }
  }
  splitter.end();
}

export interface EventMessage {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> | null };
  scope?: string;
  time?: number;
  timeNano?: number | bigint;
  status?: string;
  id?: string;
  from?: string;
}

/** The event as the Go struct templates see it (Go field names, not the JSON ones). */
function templateEvent(e: EventMessage): Record<string, unknown> {
  return templateStruct('events.Message', {
    Status: e.status ?? '',
    ID: e.id ?? '',
    From: e.from ?? '',
    Type: e.Type ?? '',
    Action: e.Action ?? '',
    Actor: templateStruct('events.Actor', { ID: e.Actor?.ID ?? '', Attributes: e.Actor?.Attributes ?? {} }),
    Scope: e.scope ?? '',
    Time: e.time ?? 0,
    // A double here: templates doing arithmetic on it need a number.
    TimeNano: e.timeNano === undefined ? 0 : Number(e.timeNano),
  });
}

/** jsonmessage.RFC3339NanoFixed in UTC: "2026-11-23T09:01:02.000000001Z". */
function rfc3339NanoFixed(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/** docker events' default line. */
export function prettyEvent(e: EventMessage): string {
  let line = '';
  if (e.timeNano) line += `${rfc3339NanoFixed(BigInt(e.timeNano))} `;
  else if (e.time) line += `${rfc3339NanoFixed(BigInt(e.time) * 1_000_000_000n)} `;
  line += `${e.Type ?? ''} ${e.Action ?? ''} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length > 0) line += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return `${line}\n`;
}

function timeArg(value: unknown, ctx: CommandContext, flag: string): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    return getTimestamp(value, ctx.now());
  } catch (err) {
    if (err instanceof TimeArgError) throw new StatusError(1, `invalid value for "--${flag}": ${err.message}`);
    throw err;
  }
}

export const eventsCommand: SubCommand = {
  name: 'events',
  usage: 'events [OPTIONS]',
  summary: 'Get real time events from the server',
  interspersed: true,
  args: { max: 0 },
  flags: [
    {
      name: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      description: 'Filter output based on conditions provided',
    },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'since', type: 'string', description: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', description: 'Stream events until this timestamp' },
  ],
  async run(ctx, { flags }) {
    const format = flags.format as string | undefined;
    let tmpl;
    if (format && format !== 'json') {
      try {
        tmpl = parseTemplate(templateText(format));
      } catch (err) {
        if (err instanceof TemplateParseError) throw new StatusError(64, `template parsing error: ${err.message}`);
        throw err;
      }
    }
    const res = await ctx.client.stream('GET', '/events', {
      query: {
        since: timeArg(flags.since, ctx, 'since'),
        until: timeArg(flags.until, ctx, 'until'),
        filters: filtersQuery(parseFilterFlags(flags.filter as string[] | undefined)),
      },
    });
    // Ctrl-C ends the stream quietly, like docker.
    const stop = (): void => {
      res.destroy();
    };
    ctx.hooks.on('SIGINT', stop);
    ctx.hooks.on('SIGTERM', stop);
    const out = ctx.streams.stdout;
    try {
      for await (const { event: e, raw } of readEvents(res)) {
        if (format === 'json') out.write(`${raw}\n`);
        else if (!tmpl) out.write(prettyEvent(e));
        else {
          try {
            out.write(`${tmpl.execute(templateEvent(e))}\n`);
          } catch (err) {
            if (err instanceof TemplateExecError) throw new StatusError(1, err.message);
            throw err;
          }
        }
      }
    } catch (err) {
      if (!res.destroyed || err instanceof StatusError) throw err;
    } finally {
      ctx.hooks.off('SIGINT', stop);
      ctx.hooks.off('SIGTERM', stop);
    }
    return 0;
  },
};

export const systemCommand = defineGroup('system', 'Manage skiff', [
  dfCommand,
  eventsCommand,
  infoCommand,
  pruneCommand,
]);
