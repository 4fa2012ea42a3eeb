// skiff system df: the summary table, or -v's per-object tables (formatter/disk_usage.go).

import type { SubCommand } from '../cli/group.js';
import { formatList } from '../format/table-format.js';
import { templateStruct } from '../format/template.js';
import { truncateId } from '../format/text.js';
import { humanDuration, humanSize, humanSizeWithPrecision } from '../format/units.js';
import { CONTAINER_HEADERS, type ContainerListEntry, containerContext } from './container-context.js';
import { IMAGE_HEADERS, type ImageSummary, imageContext } from './images.js';
import { type Volume, volumeContext } from './volume.js';

interface BuildCacheRecord {
  ID?: string;
  Type?: string;
  Size?: number;
  InUse?: boolean;
  Shared?: boolean;
  CreatedAt?: string;
  LastUsedAt?: string | null;
  UsageCount?: number;
}

export interface DiskUsage {
  LayersSize?: number;
  BuilderSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerListEntry[] | null;
  Volumes?: Volume[] | null;
  BuildCache?: BuildCacheRecord[] | null;
}

function reclaimable(reclaim: number, total: number): string {
  return total > 0 ? `${humanSize(reclaim)} (${Math.trunc((reclaim * 100) / total)}%)` : humanSize(reclaim);
}

const GO_TYPES: Record<string, string> = {
  Images: 'Images',
  Containers: 'Containers',
  'Local Volumes': 'Volumes',
  'Build Cache': 'Builder',
};

/** The four rows of `docker system df` (formatter/disk_usage.go). */
export function diskUsageRows(du: DiskUsage): Record<string, string>[] {
  const row = (type: string, total: number, active: number, size: string, recl: string) =>
    templateStruct(`*formatter.diskUsage${GO_TYPES[type] ?? ''}Context`, {
      Active: String(active),
      Reclaimable: recl,
      Size: size,
      TotalCount: String(total),
      Type: type,
    });
  const images = du.Images ?? [];
  const imagesTotal = du.LayersSize ?? images.reduce((s, i) => s + (i.Size ?? 0), 0);
  let imagesUsed = 0;
  for (const i of images) {
    if ((i.Containers ?? 0) !== 0 && (i.Size ?? -1) !== -1 && (i.SharedSize ?? -1) !== -1) {
      imagesUsed += (i.Size ?? 0) - (i.SharedSize ?? 0);
    }
  }
  const containers = du.Containers ?? [];
  const isActive = (s: string | undefined) => /running|paused|restarting/.test(s ?? '');
  const containersSize = containers.reduce((s, c) => s + (c.SizeRw ?? 0), 0);
  const containersFree = containers.filter((c) => !isActive(c.State)).reduce((s, c) => s + (c.SizeRw ?? 0), 0);
  const volumes = du.Volumes ?? [];
  const vSize = (v: (typeof volumes)[number]) => Math.max(0, v.UsageData?.Size ?? 0);
  const volumesSize = volumes.reduce((s, v) => s + vSize(v), 0);
  const volumesFree = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((s, v) => s + vSize(v), 0);
  const cache = du.BuildCache ?? [];
  const cacheSize = cache.filter((b) => !b.Shared).reduce((s, b) => s + (b.Size ?? 0), 0);
  const cacheFree = cache.filter((b) => !b.Shared && !b.InUse).reduce((s, b) => s + (b.Size ?? 0), 0);
  return [
    row(
      'Images',
      images.length,
      images.filter((i) => (i.Containers ?? 0) > 0).length,
      humanSize(imagesTotal),
      reclaimable(imagesTotal - imagesUsed, imagesTotal),
    ),
    row(
      'Containers',
      containers.length,
      containers.filter((c) => isActive(c.State)).length,
      humanSize(containersSize),
      reclaimable(containersFree, containersSize),
    ),
    row(
      'Local Volumes',
      volumes.length,
      volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length,
      humanSize(volumesSize),
      reclaimable(volumesFree, volumesSize),
    ),
    row('Build Cache', cache.length, cache.filter((b) => b.InUse).length, humanSize(cacheSize), humanSize(cacheFree)),
  ];
}

export const dfCommand: SubCommand = {
  name: 'df',
  usage: 'df [OPTIONS]',
  summary: 'Show docker disk usage',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'verbose', short: 'v', type: 'bool', description: 'Show detailed information on space usage' },
  ],
  async run(ctx, { flags }) {
    const du = await ctx.client.json<DiskUsage>('GET', '/system/df');
    if (flags.verbose === true && flags.format === undefined) {
      ctx.streams.stdout.write(verboseDiskUsage(du ?? {}, ctx.now()));
      return 0;
    }
    ctx.streams.stdout.write(
      formatList(
        diskUsageRows(du ?? {}),
        {
          format: flags.format as string | undefined,
          defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
        },
        { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
      ),
    );
    return 0;
  },
};

/** The first tag of each image, or <none> (the verbose view shows one row per image). */
function firstTag(img: ImageSummary): { repository: string; tag: string } {
  const tags = img.RepoTags ?? [];
  const first = tags[0];
  if (!first || first === '<none>:<none>') return { repository: '<none>', tag: '<none>' };
  const colon = first.lastIndexOf(':');
  const slash = first.lastIndexOf('/');
  if (colon <= slash) return { repository: '<none>', tag: '<none>' };
  const repository = first.slice(0, colon).replace(/^docker\.io\/(library\/)?/, '');
  return { repository, tag: first.slice(colon + 1) };
}

function ago(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '' : `${humanDuration(nowMs - ms)} ago`;
}

function cacheContext(b: BuildCacheRecord, nowMs: number): Record<string, string> {
  return templateStruct('*formatter.buildCacheContext', {
    CacheType: b.Type ?? '',
    CreatedSince: ago(b.CreatedAt, nowMs),
    ID: truncateId(b.ID ?? ''),
    LastUsedSince: ago(b.LastUsedAt, nowMs),
    Shared: String(b.Shared === true),
    Size: humanSizeWithPrecision(b.Size ?? 0, 3),
    UsageCount: String(b.UsageCount ?? 0),
  });
}

/** `docker system df -v`. */
export function verboseDiskUsage(du: DiskUsage, nowMs: number): string {
  const images = formatList(
    (du.Images ?? []).map((img) => imageContext({ ...firstTag(img), digest: '', image: img }, true, nowMs)),
    {
      defaultTable:
        'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
    },
    IMAGE_HEADERS,
  );
  const containers = formatList(
    // The verbose view shows a container's own size, never the virtual one.
    (du.Containers ?? []).map((c) => containerContext({ ...c, SizeRootFs: 0 }, { trunc: true, now: nowMs })),
    {
      defaultTable:
        'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
    },
    CONTAINER_HEADERS,
  );
  const volumes = formatList(
    (du.Volumes ?? []).map(volumeContext),
    { defaultTable: 'table {{.Name}}\t{{.Links}}\t{{.Size}}' },
    { Name: 'VOLUME NAME', Links: 'LINKS', Size: 'SIZE' },
  );
  const cache = formatList(
    (du.BuildCache ?? []).map((b) => cacheContext(b, nowMs)),
    {
      defaultTable:
        'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}',
    },
    {
      ID: 'CACHE ID',
      CacheType: 'CACHE TYPE',
      Size: 'SIZE',
      CreatedSince: 'CREATED',
      LastUsedSince: 'LAST USED',
      UsageCount: 'USAGE',
      Shared: 'SHARED',
    },
  );
  return (
    `Images space usage:\n\n${images}\nContainers space usage:\n\n${containers}` +
    `\nLocal Volumes space usage:\n\n${volumes}\nBuild cache usage: ${humanSize(du.BuilderSize ?? 0)}\n\n${cache}`
  );
}
