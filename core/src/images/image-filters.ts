import { InvalidParameterError } from '../plugin-api/errors.js';
import { matchLabel, parseBool } from '../util/filter-values.js';
import type { ImageService } from './image-service.js';
import type { ContainerUse } from './image-tags.js';
import type { ImageRecord } from './image-types.js';
import { familiarName, familiarString, parseReference } from './reference.js';

const LIST_FILTERS = new Set(['dangling', 'label', 'before', 'since', 'reference']);

export interface ListedImage {
  image: ImageRecord;
  /** Familiar names shown for the image (only those matching a `reference` filter). */
  tags: string[];
  digests: string[];
  /** -1 unless usage was asked for. */
  containers: number;
  sharedSize: number;
}

export interface ListOptions {
  filters: Map<string, string[]>;
  /** Count containers per image and the bytes of layers shared with other images (`docker system df`). */
  usage?: { containers: ContainerUse[] };
  sharedSize?: boolean;
  /** `docker images -a`: intermediate images (untagged, with children) too. */
  all?: boolean;
}

/** `GET /images/json` as dockerd 20.10 filters it (daemon/images/images.go), newest first. */
export function listImages(images: ImageService, opts: ListOptions): ListedImage[] {
  const { filters } = opts;
  for (const k of filters.keys()) if (!LIST_FILTERS.has(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
  let danglingOnly = false;
  const dangling = filters.get('dangling');
  if (dangling) {
    if (dangling.length !== 1) throw new InvalidParameterError(`invalid filter 'dangling=${dangling.join(',')}'`);
    danglingOnly = parseBool(dangling[0]!, 'dangling');
  }
  const before = minCreated(images, filters.get('before'));
  const since = maxCreated(images, filters.get('since'));
  const labels = filters.get('label') ?? [];
  const patterns = (filters.get('reference') ?? []).map(globToRegExp);
  const store = images.local.store;
  const all = store.list();
  const chainUse = new Map<string, number>();
  for (const img of all) for (const l of img.layers) chainUse.set(l.chainId, (chainUse.get(l.chainId) ?? 0) + 1);
  const parents = new Set(all.flatMap((img) => (img.parent ? [img.parent] : [])));

  const out: ListedImage[] = [];
  for (const img of all) {
    const created = Date.parse(img.created);
    if (before !== undefined && !(created < before)) continue;
    if (since !== undefined && !(created > since)) continue;
    const l = img.config.config?.Labels ?? {};
    if (!labels.every((f) => matchLabel(l, f))) continue;
    const tags: string[] = [];
    const digests: string[] = [];
    const refs = store.refsOf(img.id);
    for (const r of refs) {
      const ref = parseReference(r.ref);
      const fam = familiarString(ref);
      if (patterns.length && !patterns.some((p) => p.test(fam) || p.test(familiarName(ref)))) continue;
      (r.kind === 'tag' ? tags : digests).push(fam);
    }
    // As moby: dangling means untagged and without children; other untagged images with
    // children are intermediate build steps, listed only with `all`.
    if (danglingOnly && parents.has(img.id)) continue;
    if (tags.length === 0 && digests.length === 0) {
      if (!opts.all && parents.has(img.id)) continue;
      if (dangling && !danglingOnly) continue;
      if (patterns.length) continue;
    } else if (danglingOnly && tags.length > 0) continue;
    let sharedSize = -1;
    if (opts.sharedSize || opts.usage) {
      sharedSize = img.layers
        .filter((x) => (chainUse.get(x.chainId) ?? 0) > 1)
        .reduce((n, x) => n + (store.layerSize(x.chainId) ?? 0), 0);
    }
    const containers = opts.usage ? opts.usage.containers.filter((c) => c.imageId === img.id).length : -1;
    out.push({ image: img, tags, digests, containers, sharedSize });
  }
  return out.sort((a, b) => Date.parse(b.image.created) - Date.parse(a.image.created));
}

function createdOf(images: ImageService, name: string): number {
  return Date.parse(images.resolve(name).created);
}

function minCreated(images: ImageService, names: string[] | undefined): number | undefined {
  if (!names?.length) return undefined;
  return Math.min(...names.map((n) => createdOf(images, n)));
}

function maxCreated(images: ImageService, names: string[] | undefined): number | undefined {
  if (!names?.length) return undefined;
  return Math.max(...names.map((n) => createdOf(images, n)));
}

/**
 * Go's `path.Match` pattern as a RegExp: `*` is any run of non-`/` characters, `?` one of them,
 * `[...]` a class (`[^...]` negated, ranges allowed), `\` escapes. Bad patterns are a 400, as
 * path.ErrBadPattern is for dockerd.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  const bad = () => new InvalidParameterError(`syntax error in pattern: ${pattern}`);
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      const n = pattern[++i];
      if (n === undefined) throw bad();
      re += escapeRe(n);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^') {
        cls += '^';
        j++;
      }
      let first = true;
      for (; j < pattern.length && (first || pattern[j] !== ']'); j++) {
        first = false;
        let ch = pattern[j]!;
        if (ch === '\\') {
          ch = pattern[++j] ?? '';
          if (ch === '') throw bad();
        }
        if (ch === '/') throw bad();
        cls += escapeRe(ch);
        if (pattern[j + 1] === '-' && pattern[j + 2] !== undefined && pattern[j + 2] !== ']') {
          let hi = pattern[j + 2]!;
          j += 2;
          if (hi === '\\') hi = pattern[++j] ?? '';
          if (hi === '') throw bad();
          cls += `-${escapeRe(hi)}`;
        }
      }
      if (j >= pattern.length || cls === '' || cls === '^') throw bad();
      re += cls.startsWith('^') ? `(?:(?!/)[${cls}])` : `[${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(`^${re}$`);
  } catch {
    throw bad();
  }
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}
