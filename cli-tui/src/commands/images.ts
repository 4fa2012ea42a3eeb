// skiff images / skiff image ls: docker's image list (one row per repository:tag), with
// --format, -q, --no-trunc, --digests, -a and --filter.

import { addFilter, filtersQuery, parseFilterFlags } from '../cli/filters.js';
import { familiarName, parseNormalizedNamed } from '../format/reference.js';
import { formatList } from '../format/table-format.js';
import { templateStruct } from '../format/template.js';
import { truncateId } from '../format/text.js';
import { humanSize, humanSizeWithPrecision, timeAgo } from '../format/units.js';
import { goTimeString } from './container-context.js';
import type { Command } from './types.js';

export interface ImageSummary {
  Id: string;
  Created?: number;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Size?: number;
  VirtualSize?: number;
  SharedSize?: number;
  Containers?: number;
}

export interface ImageRow {
  repository: string;
  tag: string;
  digest: string;
  image: ImageSummary;
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  map.set(key, [...(map.get(key) ?? []), value]);
}

/** The rows docker prints for one image (imageFormatTaggedAndDigest). */
export function imageRows(img: ImageSummary, showDigests = false): ImageRow[] {
  if (isDangling(img)) return [{ repository: '<none>', tag: '<none>', digest: '<none>', image: img }];
  const repoTags = new Map<string, string[]>();
  for (const text of img.RepoTags ?? []) {
    try {
      const ref = parseNormalizedNamed(text);
      if (ref.tag && !ref.digest) push(repoTags, familiarName(ref), ref.tag);
    } catch {
      // unparsable entries such as "<none>:<none>" are skipped, like docker does
    }
  }
  const repoDigests = new Map<string, string[]>();
  for (const text of img.RepoDigests ?? []) {
    try {
      const ref = parseNormalizedNamed(text);
      if (ref.digest) push(repoDigests, familiarName(ref), ref.digest);
    } catch {
      // skipped
    }
  }
  const rows: ImageRow[] = [];
  const add = (repository: string, tag: string, digest: string): void => {
    rows.push({ repository, tag, digest, image: img });
  };
  for (const [repo, tags] of repoTags) {
    const digests = showDigests ? (repoDigests.get(repo) ?? []) : [];
    repoDigests.delete(repo);
    for (const tag of tags) {
      if (digests.length === 0) add(repo, tag, '<none>');
      for (const d of digests) add(repo, tag, d);
    }
  }
  for (const [repo, digests] of repoDigests) {
    if (showDigests) for (const d of digests) add(repo, '<none>', d);
    else add(repo, '<none>', '');
  }
  return rows;
}

const size = (n: number) => humanSizeWithPrecision(n, 3);

/** docker's imageContext, as a template struct with its fields in JSON (sorted) order. */
export function imageContext(row: ImageRow, trunc: boolean, nowMs: number): Record<string, string> {
  const img = row.image;
  const shared = img.SharedSize ?? -1;
  return templateStruct('*formatter.imageContext', {
    Containers: (img.Containers ?? -1) === -1 ? 'N/A' : String(img.Containers),
    CreatedAt: goTimeString(img.Created ?? 0),
    CreatedSince: timeAgo(img.Created ?? 0, nowMs),
    Digest: row.digest,
    ID: trunc ? truncateId(img.Id) : img.Id,
    Repository: row.repository,
    SharedSize: shared === -1 ? 'N/A' : humanSize(shared),
    Size: size(img.Size ?? 0),
    Tag: row.tag,
    UniqueSize: shared === -1 ? 'N/A' : humanSize((img.Size ?? 0) - shared),
    // docker prints this one with HumanSize (4 digits), unlike Size.
    VirtualSize: humanSize(img.VirtualSize ?? img.Size ?? 0),
  });
}

export const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

export interface ImageListOptions {
  format?: string;
  quiet?: boolean;
  digests?: boolean;
  noTrunc?: boolean;
}

export function formatImageList(images: readonly ImageSummary[], opts: ImageListOptions, nowMs: number): string {
  const digests = opts.digests === true;
  const defaultTable = digests
    ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  // A custom format that shows {{.Digest}} gets the digest rows too (docker: ctx.Digest).
  const showDigests = digests || (opts.format ?? '').includes('{{.Digest}}');
  const rows = images.flatMap((img) =>
    imageRows(img, showDigests).map((r) => imageContext(r, opts.noTrunc !== true, nowMs)),
  );
  return formatList(rows, { format: opts.format, quiet: opts.quiet, defaultTable }, IMAGE_HEADERS);
}

/** The default table (kept for callers that only need it). */
export function formatImageTable(images: readonly ImageSummary[], nowMs: number): string {
  return formatImageList(images, {}, nowMs);
}

export const imagesCommand: Command = {
  name: 'images',
  usage: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  summary: 'List images',
  interspersed: true,
  args: { max: 1 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', description: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', description: 'Show digests' },
    {
      name: 'filter',
      short: 'f',
      type: 'list',
      valueName: 'filter',
      description: 'Filter output based on conditions provided',
    },
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  ],
  async run(ctx, { flags, args }) {
    const filters = parseFilterFlags(flags.filter as string[] | undefined);
    if (args[0]) addFilter(filters, 'reference', args[0]);
    const images = await ctx.client.json<ImageSummary[]>('GET', '/images/json', {
      query: { all: flags.all === true, filters: filtersQuery(filters) },
    });
    ctx.streams.stdout.write(
      formatImageList(
        images,
        {
          format: flags.format as string | undefined,
          quiet: flags.quiet === true,
          digests: flags.digests === true,
          noTrunc: flags['no-trunc'] === true,
        },
        ctx.now(),
      ),
    );
    return 0;
  },
};
