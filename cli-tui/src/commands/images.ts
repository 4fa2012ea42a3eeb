// skiff images: docker's image table (one row per repository:tag).

import { familiarName, parseNormalizedNamed } from '../format/reference.js';
import { TABLE_OPTIONS, tabwrite } from '../format/tabwriter.js';
import { truncateId } from '../format/text.js';
import { humanSizeWithPrecision, timeAgo } from '../format/units.js';
import type { Command } from './types.js';

export interface ImageSummary {
  Id: string;
  Created?: number;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Size?: number;
}

export interface ImageRow {
  repository: string;
  tag: string;
  image: ImageSummary;
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** The rows docker prints for one image (imageFormatTaggedAndDigest without digests). */
export function imageRows(img: ImageSummary): ImageRow[] {
  if (isDangling(img)) return [{ repository: '<none>', tag: '<none>', image: img }];
  const repoTags = new Map<string, string[]>();
  for (const text of img.RepoTags ?? []) {
    try {
      const ref = parseNormalizedNamed(text);
      if (!ref.tag || ref.digest) continue;
      const repo = familiarName(ref);
      repoTags.set(repo, [...(repoTags.get(repo) ?? []), ref.tag]);
    } catch {
      // unparsable entries such as "<none>:<none>" are skipped, like docker does
    }
  }
  const digestRepos = new Set<string>();
  for (const text of img.RepoDigests ?? []) {
    try {
      const ref = parseNormalizedNamed(text);
      if (ref.digest) digestRepos.add(familiarName(ref));
    } catch {
      // skipped
    }
  }
  const rows: ImageRow[] = [];
  for (const [repo, tags] of repoTags) {
    digestRepos.delete(repo);
    for (const tag of tags) rows.push({ repository: repo, tag, image: img });
  }
  for (const repo of digestRepos) rows.push({ repository: repo, tag: '<none>', image: img });
  return rows;
}

export function formatImageTable(images: readonly ImageSummary[], nowMs: number): string {
  const lines = ['REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE'];
  for (const img of images) {
    for (const row of imageRows(img)) {
      lines.push(
        [
          row.repository,
          row.tag,
          truncateId(img.Id),
          timeAgo(img.Created ?? 0, nowMs),
          humanSizeWithPrecision(img.Size ?? 0, 3),
        ].join('\t'),
      );
    }
  }
  return tabwrite(lines, TABLE_OPTIONS);
}

export const imagesCommand: Command = {
  name: 'images',
  usage: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  summary: 'List images',
  interspersed: true,
  args: { max: 1 },
  flags: [{ name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' }],
  async run(ctx, { flags, args }) {
    const reference = args[0];
    const images = await ctx.client.json<ImageSummary[]>('GET', '/images/json', {
      query: { filters: reference ? JSON.stringify({ reference: { [reference]: true } }) : undefined },
    });
    const out = ctx.streams.stdout;
    if (flags.quiet) {
      for (const img of images) for (const _row of imageRows(img)) out.write(`${truncateId(img.Id)}\n`);
    } else {
      out.write(formatImageTable(images, ctx.now()));
    }
    return 0;
  },
};
