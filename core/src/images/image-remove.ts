import { ConflictError, NotFoundError } from '../plugin-api/errors.js';
import { checkFilterKeys, parseBool, parseTimestamp, pruneLabelsMatch } from '../util/filter-values.js';
import { layerKey } from './chain-id.js';
import type { ImageService, LocalImageParts } from './image-service.js';
import type { ContainerUse } from './image-tags.js';
import type { ImageRecord } from './image-types.js';
import { canonicalString, familiarString, type ImageReference, parseReference, withDefaultTag } from './reference.js';

export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface RemoveOptions {
  force?: boolean;
  /** Keep the untagged parents (intermediate build steps) a deleted image leaves without children. */
  noprune?: boolean;
}

const locks = new WeakMap<object, Promise<unknown>>();

/**
 * Serialises operations that add or drop images and layers (remove, prune, load, import) so one
 * never releases what another is registering.
 */
export function withImageLock<T>(images: ImageService, fn: () => Promise<T>): Promise<T> {
  const key = images.local.store;
  const prev = locks.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  locks.set(
    key,
    next.catch(() => {}),
  );
  return next;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

interface NamedRef {
  ref: ImageReference;
  canonical: string;
  kind: 'tag' | 'digest';
}

function namesOf(parts: LocalImageParts, imageId: string): NamedRef[] {
  return parts.store.refsOf(imageId).map((r) => ({ ref: parseReference(r.ref), canonical: r.ref, kind: r.kind }));
}

const repoOf = (r: ImageReference) => `${r.domain}/${r.path}`;

/** moby's isSingleReference: at most one tag, and every name within one repository. */
function isSingleReference(refs: NamedRef[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const repos = new Set<string>();
  let single: NamedRef | undefined;
  for (const r of refs) {
    if (r.kind === 'digest') repos.add(repoOf(r.ref));
    else if (!single) {
      repos.add(repoOf(r.ref));
      single = r;
    } else return false;
  }
  single ??= refs[0]!;
  return repos.size === 1 && repos.has(repoOf(single.ref));
}

/** Whether `name` designates the image by (a prefix of) its ID, as moby's isImageIDPrefix. */
function isIdPrefix(imageId: string, name: string): boolean {
  const hex = imageId.replace(/^sha256:/, '');
  const n = name.startsWith('sha256:') ? name.slice('sha256:'.length) : name;
  return n.length > 0 && hex.startsWith(n);
}

type Conflict = { message: string; hard: boolean; used: boolean };

class DeleteConflict extends ConflictError {
  constructor(
    imageId: string,
    readonly conflict: Conflict,
  ) {
    super(
      `conflict: unable to delete ${short(imageId)} (${conflict.hard ? 'cannot be forced' : 'must be forced'}) - ${conflict.message}`,
    );
  }
}

function checkConflict(
  parts: LocalImageParts,
  img: ImageRecord,
  containers: ContainerUse[],
  mask: { running: boolean; references: boolean; stopped: boolean },
): Conflict | undefined {
  if (parts.store.children(img.id).length > 0) {
    return { hard: true, used: false, message: 'image has dependent child images' };
  }
  if (mask.running) {
    const c = containers.find((x) => x.imageId === img.id && x.running);
    if (c) return { hard: true, used: true, message: `image is being used by running container ${short(c.id)}` };
  }
  if (mask.references && parts.store.refsOf(img.id).length > 0) {
    return { hard: false, used: false, message: 'image is referenced in multiple repositories' };
  }
  if (mask.stopped) {
    const c = containers.find((x) => x.imageId === img.id && !x.running);
    if (c) return { hard: false, used: true, message: `image is being used by stopped container ${short(c.id)}` };
  }
  return undefined;
}

/**
 * `DELETE /images/{name}` with dockerd's rules (daemon/images/image_delete.go): a name is
 * untagged, and the image is deleted when its last name goes; by ID, an image with several
 * tags needs `force`; images used by containers are protected unless forced, and a running
 * container's image is only ever untagged.
 */
export async function removeImage(
  images: ImageService,
  name: string,
  containers: ContainerUse[],
  opts: RemoveOptions = {},
): Promise<DeleteItem[]> {
  return withImageLock(images, () => removeLocked(images, name, containers, opts));
}

async function removeLocked(
  images: ImageService,
  name: string,
  containers: ContainerUse[],
  opts: RemoveOptions,
): Promise<DeleteItem[]> {
  const parts = images.local;
  const force = !!opts.force;
  const img = images.resolve(name);
  const records: DeleteItem[] = [];
  let refs = namesOf(parts, img.id);
  let quiet = false;

  if (!isIdPrefix(img.id, name)) {
    if (!force && isSingleReference(refs)) {
      const c = containers.find((x) => x.imageId === img.id);
      if (c) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${name}" (must force) - container ${short(c.id)} is using its referenced image ${short(img.id)}`,
        );
      }
    }
    const ref = withDefaultTag(parseReference(name));
    untag(images, img.id, ref, records);
    refs = namesOf(parts, img.id);
    // The last tag of a repository takes that repository's digests with it.
    if (ref.digest === undefined && !refs.some((r) => r.kind === 'tag' && repoOf(r.ref) === repoOf(ref))) {
      for (const r of refs.filter((x) => x.kind === 'digest' && repoOf(x.ref) === repoOf(ref))) {
        untag(images, img.id, r.ref, records);
      }
      refs = namesOf(parts, img.id);
    }
    if (refs.length > 0) return records;
    quiet = true;
  } else if (isSingleReference(refs)) {
    const conflict = checkConflict(parts, img, containers, { running: true, references: false, stopped: !force });
    if (conflict) throw new DeleteConflict(img.id, conflict);
    for (const r of refs) untag(images, img.id, r.ref, records);
  }

  const conflict = checkConflict(parts, img, containers, { running: true, references: !force, stopped: !force });
  if (conflict) {
    // A tag removed from an image a container uses, or one with children, leaves it there (moby's
    // imageIsDangling: only an unused image nothing stands on reports the conflict).
    if (quiet && (conflict.used || parts.store.children(img.id).length > 0)) return records;
    throw new DeleteConflict(img.id, conflict);
  }
  for (const r of namesOf(parts, img.id)) untag(images, img.id, r.ref, records);
  records.push(...(await deleteImage(parts, img)));
  if (!opts.noprune) records.push(...(await pruneParents(parts, img, containers)));
  return records;
}

/**
 * After `img` is deleted: its parent, and theirs, while each is untagged, unused and left
 * without children (moby's imageDeleteHelper with prune): a build's intermediate images go
 * with the last image that stood on them.
 */
async function pruneParents(
  parts: LocalImageParts,
  img: ImageRecord,
  containers: ContainerUse[],
): Promise<DeleteItem[]> {
  const records: DeleteItem[] = [];
  for (let p = img.parent && parts.store.get(img.parent); p; p = p.parent && parts.store.get(p.parent)) {
    if (parts.store.refsOf(p.id).length > 0 || parts.store.children(p.id).length > 0) break;
    if (containers.some((c) => c.imageId === p!.id)) break;
    records.push(...(await deleteImage(parts, p)));
  }
  return records;
}

function untag(images: ImageService, imageId: string, ref: ImageReference, records: DeleteItem[]): void {
  const parts = images.local;
  const canonical = canonicalString(ref);
  if (parts.store.resolveRef(canonical) !== imageId) throw new NotFoundError(`No such image: ${familiarString(ref)}`);
  parts.store.removeRef(canonical);
  records.push({ Untagged: familiarString(ref) });
  parts.events.publish({
    Type: 'image',
    Action: 'untag',
    Actor: { ID: imageId, Attributes: { name: imageId } },
  });
}

/**
 * Drops the image record, then the layers no other image stands on (top first, stopping at the
 * first one still in use: a container's snapshot or another image above it), then blobs no
 * remaining image references. Returns the `Deleted` records: the image, then each layer's chain ID.
 */
export async function deleteImage(parts: LocalImageParts, img: ImageRecord): Promise<DeleteItem[]> {
  parts.store.remove(img.id);
  parts.events.publish({ Type: 'image', Action: 'delete', Actor: { ID: img.id, Attributes: { name: img.id } } });
  const records: DeleteItem[] = [{ Deleted: img.id }];
  const rest = parts.store.list();
  const usedChains = new Set(rest.flatMap((i) => i.layers.map((l) => l.chainId)));
  for (const chainId of img.layers.map((l) => l.chainId).reverse()) {
    if (usedChains.has(chainId) || parts.pins.has(chainId)) break;
    if (!(await releaseLayer(parts, chainId))) break;
    records.push({ Deleted: chainId });
  }
  await releaseBlobs(parts, [img.id, img.manifestDigest, ...img.layers.map((l) => l.digest)], rest);
  return records;
}

/** Removes a committed layer's snapshot and record. False (nothing removed) while something stands on it. */
export async function releaseLayer(parts: LocalImageParts, chainId: string): Promise<boolean> {
  try {
    await parts.graph.remove(layerKey(chainId));
  } catch (err) {
    if (err instanceof ConflictError) return false;
    if (!(err instanceof NotFoundError)) throw err;
  }
  parts.store.removeLayer(chainId);
  return true;
}

/** Deletes the blobs among `digests` that no image in `remaining` references. */
export async function releaseBlobs(parts: LocalImageParts, digests: string[], remaining: ImageRecord[]): Promise<void> {
  const used = new Set(remaining.flatMap((i) => [i.id, i.manifestDigest, ...i.layers.map((l) => l.digest)]));
  for (const d of new Set(digests)) {
    if (!d || used.has(d) || parts.pins.has(d)) continue;
    await parts.content.delete(d).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
  }
}

export interface PruneReport {
  ImagesDeleted: DeleteItem[] | null;
  SpaceReclaimed: number;
}

const PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'];

/**
 * `POST /images/prune`: images without tags (or, with `dangling=false`, every image no container
 * uses), narrowed by `until` and `label`/`label!`. Images that cannot be deleted are skipped.
 */
export async function pruneImages(
  images: ImageService,
  filters: Map<string, string[]>,
  containers: ContainerUse[],
): Promise<PruneReport> {
  checkFilterKeys(filters, PRUNE_FILTERS);
  const dangling = filters.get('dangling') ?? ['true'];
  const danglingOnly = dangling.every((v) => parseBool(v, 'dangling'));
  const until = filters.get('until')?.map((v) => parseTimestamp(v, 'until'));
  const parts = images.local;
  const used = new Set(containers.map((c) => c.imageId));
  const layerSizes = new Map<string, number>();
  const deleted: DeleteItem[] = [];

  const candidates = parts.store.list().filter((img) => {
    if (used.has(img.id)) return false;
    const created = Date.parse(img.created);
    if (until?.some((u) => !(created < u))) return false;
    return pruneLabelsMatch(img.config.config?.Labels ?? {}, filters);
  });
  for (const img of candidates) {
    for (const l of img.layers) layerSizes.set(l.chainId, parts.store.layerSize(l.chainId) ?? 0);
    const refs = parts.store.refsOf(img.id);
    if (refs.length > 0 && danglingOnly && refs.some((r) => r.kind === 'tag')) continue;
    // Dangling means without children too: intermediate images go with the image above them.
    if (danglingOnly && parts.store.children(img.id).length > 0) continue;
    const names = refs.length > 0 ? refs.map((r) => r.ref) : [img.id];
    for (const n of names) {
      try {
        deleted.push(...(await removeImage(images, n, containers)));
      } catch (err) {
        if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
        parts.log.debug('prune skipped an image', { image: img.id, error: (err as Error).message });
      }
    }
  }
  let space = 0;
  for (const d of deleted) if ('Deleted' in d) space += layerSizes.get(d.Deleted) ?? 0;
  return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: space };
}
