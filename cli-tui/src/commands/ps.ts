// skiff ps: docker's container table.

import { displayablePorts, type PortEntry } from '../format/ports.js';
import { familiarName, familiarString, parseNormalizedNamed } from '../format/reference.js';
import { TABLE_OPTIONS, tabwrite } from '../format/tabwriter.js';
import { ellipsis, goQuote, truncateId } from '../format/text.js';
import { timeAgo } from '../format/units.js';
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

export const psCommand: Command = {
  name: 'ps',
  usage: 'ps [OPTIONS]',
  summary: 'List containers',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all containers (default shows just running)' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display container IDs' },
  ],
  async run(ctx, { flags }) {
    const containers = await ctx.client.json<ContainerSummary[]>('GET', '/containers/json', {
      query: { all: flags.all === true },
    });
    const out = ctx.streams.stdout;
    if (flags.quiet) {
      for (const c of containers) out.write(`${truncateId(c.Id)}\n`);
    } else {
      out.write(formatContainerTable(containers, ctx.now()));
    }
    return 0;
  },
};
