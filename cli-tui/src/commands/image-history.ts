// skiff history / image history: GET /images/{name}/history as docker's table.

import { formatList } from '../format/table-format.js';
import { templateStruct } from '../format/template.js';
import { ellipsis, truncateId } from '../format/text.js';
import { rfc3339 } from '../format/go-time.js';
import { humanSizeWithPrecision, timeAgo } from '../format/units.js';
import type { SubCommand } from '../cli/group.js';

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy?: string;
  Tags?: string[] | null;
  Size?: number;
  Comment?: string;
}

export interface HistoryOptions {
  human: boolean;
  trunc: boolean;
  format?: string;
  quiet?: boolean;
}

export function historyContext(h: HistoryItem, opts: HistoryOptions, nowMs: number): Record<string, string> {
  const createdBy = (h.CreatedBy ?? '').replace(/\t/g, ' ');
  return templateStruct('*image.historyContext', {
    Comment: h.Comment ?? '',
    CreatedAt: rfc3339(h.Created),
    CreatedBy: opts.trunc ? ellipsis(createdBy, 45) : createdBy,
    CreatedSince: opts.human ? timeAgo(h.Created, nowMs) : rfc3339(h.Created),
    ID: opts.trunc ? truncateId(h.Id) : h.Id,
    Size: opts.human ? humanSizeWithPrecision(h.Size ?? 0, 3) : String(h.Size ?? 0),
  });
}

const HEADERS = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

export function formatHistory(items: readonly HistoryItem[], opts: HistoryOptions, nowMs: number): string {
  return formatList(
    items.map((h) => historyContext(h, opts, nowMs)),
    {
      format: opts.format,
      quiet: opts.quiet,
      defaultTable: opts.human
        ? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}'
        : 'table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
    },
    HEADERS,
  );
}

export const historyCommand: SubCommand = {
  name: 'history',
  usage: 'history [OPTIONS] IMAGE',
  summary: 'Show the history of an image',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    {
      name: 'human',
      short: 'H',
      type: 'bool',
      description: 'Print sizes and dates in human readable format (default true)',
    },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  ],
  async run(ctx, { flags, args }) {
    const items = await ctx.client.json<HistoryItem[]>('GET', `/images/${encodeURIComponent(args[0] ?? '')}/history`);
    ctx.streams.stdout.write(
      formatHistory(
        items ?? [],
        {
          human: flags.human !== false,
          trunc: flags['no-trunc'] !== true,
          format: flags.format as string | undefined,
          quiet: flags.quiet === true,
        },
        ctx.now(),
      ),
    );
    return 0;
  },
};
