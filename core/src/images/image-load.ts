import type { Readable } from 'node:stream';
import type { Descriptor } from '../plugin-api/content.js';
import { InvalidParameterError, SkiffError, UpstreamError } from '../plugin-api/errors.js';
import { type ArchiveFile, type IngestedArchive, ingestArchive } from './archive-reader.js';
import { chainIds } from './chain-id.js';
import { decompressLayer, sniffCompression } from './decompress.js';
import { releaseLayer, withImageLock } from './image-remove.js';
import type { ImageService, LocalImageParts } from './image-service.js';
import { setTag } from './image-tags.js';
import type { ImageConfigFile, ImageLayer, ImageRecord, ProgressMessage } from './image-types.js';
import { progressBar } from './progress-bar.js';
import { familiarString, type ImageReference, parseReference } from './reference.js';
import { defaultPlatform, MediaTypes, parseManifestDocument, selectManifest } from './registry-manifest.js';

/** One image found in an archive, validated, before anything is unpacked or registered. */
export interface LoadPlan {
  id: string;
  config: ImageConfigFile;
  /** The manifest blob of an OCI layout image; empty for `docker save` archives. */
  manifestDigest: string;
  layers: (Omit<ImageLayer, 'chainId'> & { chainId: string; path: string })[];
  names: ImageReference[];
}

export interface LoadOptions {
  signal?: AbortSignal;
  quiet?: boolean;
  onProgress?: (m: ProgressMessage) => void;
}

const DOCKER_LAYER = {
  none: 'application/vnd.docker.image.rootfs.diff.tar',
  gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  zstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
} as const;

const bad = (why: string) => new InvalidParameterError(`invalid archive: ${why}`);

/** Validates an image config (the fields the engine relies on). */
export function parseImageConfig(v: unknown, what: string): ImageConfigFile {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(`${what} is not a JSON object`);
  const c = v as ImageConfigFile;
  if (!c.rootfs || typeof c.rootfs !== 'object' || !Array.isArray(c.rootfs.diff_ids)) {
    throw bad(`${what} has no rootfs.diff_ids`);
  }
  for (const d of c.rootfs.diff_ids) {
    if (typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d)) {
      throw bad(`${what} has an invalid diff ID ${JSON.stringify(d)}`);
    }
  }
  if (c.history !== undefined && !Array.isArray(c.history)) throw bad(`${what} has a history that is not a list`);
  return c;
}

/** The media type a `docker save` layer file gets as a blob, by its magic bytes. */
function dockerLayerType(f: ArchiveFile): string {
  const c = sniffCompression(f.head);
  if (c === 'xz' || c === 'bzip2') throw bad(`layer ${f.path} is ${c}-compressed, which skiff does not support`);
  return DOCKER_LAYER[c];
}

function parseName(s: unknown, what: string): ImageReference {
  if (typeof s !== 'string') throw bad(`${what} is not a string`);
  let ref: ImageReference;
  try {
    ref = parseReference(s);
  } catch (err) {
    throw bad(`${what} ${JSON.stringify(s)}: ${(err as Error).message}`);
  }
  if (ref.digest !== undefined || ref.tag === undefined) throw bad(`${what} ${JSON.stringify(s)} is not a name:tag`);
  return ref;
}

async function planDocker(archive: IngestedArchive): Promise<LoadPlan[]> {
  const manifest = await archive.json('manifest.json');
  if (!Array.isArray(manifest)) throw bad('manifest.json is not a list');
  const plans: LoadPlan[] = [];
  for (const [i, m] of manifest.entries()) {
    const where = `manifest.json[${i}]`;
    if (!m || typeof m !== 'object') throw bad(`${where} is not an object`);
    const { Config, RepoTags, Layers } = m as Record<string, unknown>;
    if (typeof Config !== 'string') throw bad(`${where}.Config is missing`);
    if (!Array.isArray(Layers) || !Layers.every((l) => typeof l === 'string')) throw bad(`${where}.Layers is missing`);
    if (RepoTags !== undefined && RepoTags !== null && !Array.isArray(RepoTags)) {
      throw bad(`${where}.RepoTags is not a list`);
    }
    const configFile = archive.file(Config);
    const config = parseImageConfig(await archive.json(Config), Config);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== Layers.length) {
      throw bad(`${where} lists ${Layers.length} layers but its config has ${diffIds.length} diff IDs`);
    }
    const chains = chainIds(diffIds);
    plans.push({
      id: configFile.digest,
      config,
      manifestDigest: '',
      layers: (Layers as string[]).map((p, j) => {
        const f = archive.file(p);
        return {
          path: p,
          digest: f.digest,
          size: f.size,
          mediaType: dockerLayerType(f),
          diffId: diffIds[j]!,
          chainId: chains[j]!,
        };
      }),
      names: ((RepoTags ?? []) as unknown[]).map((t, j) => parseName(t, `${where}.RepoTags[${j}]`)),
    });
  }
  return plans;
}

/** An OCI layout blob, checked against its descriptor. */
function ociBlob(archive: IngestedArchive, d: Descriptor, what: string): ArchiveFile {
  const m = /^sha256:([0-9a-f]{64})$/.exec(d.digest);
  if (!m) throw bad(`${what} has an unsupported digest ${JSON.stringify(d.digest)}`);
  const path = `blobs/sha256/${m[1]}`;
  const f = archive.file(path);
  if (f.digest !== d.digest) throw bad(`${path} does not match its digest (it hashes to ${f.digest})`);
  if (f.size !== d.size) throw bad(`${path} is ${f.size} bytes, its descriptor says ${d.size}`);
  return f;
}

async function ociDocument(archive: IngestedArchive, f: ArchiveFile, mediaType: string | undefined, what: string) {
  try {
    return parseManifestDocument(await archive.bytes(f.path, 4 * 1024 * 1024), mediaType, what);
  } catch (err) {
    if (err instanceof UpstreamError) throw bad(err.message);
    throw err;
  }
}

/** The image's name from OCI annotations: containerd's full name, or a ref.name that is a full `name:tag`. */
function ociName(d: Descriptor): ImageReference | undefined {
  const a = d.annotations ?? {};
  const full = a['io.containerd.image.name'];
  if (full) return parseName(full, 'io.containerd.image.name');
  const refName = a['org.opencontainers.image.ref.name'];
  if (refName && /[:/]/.test(refName)) {
    try {
      const ref = parseReference(refName);
      if (ref.tag !== undefined && ref.digest === undefined) return ref;
    } catch {
      // A bare tag ("latest") names no repository: the image loads untagged.
    }
  }
  return undefined;
}

async function planOci(archive: IngestedArchive): Promise<LoadPlan[]> {
  const layout = archive.has('oci-layout') ? await archive.json('oci-layout') : undefined;
  if (layout !== undefined && (layout as { imageLayoutVersion?: unknown })?.imageLayoutVersion !== '1.0.0') {
    throw bad('oci-layout has an unsupported imageLayoutVersion');
  }
  const indexDoc = await ociDocument(archive, archive.file('index.json'), MediaTypes.OciIndex, 'index.json');
  if (indexDoc.kind !== 'index') throw bad('index.json is not an image index');
  const plans: LoadPlan[] = [];
  for (const [i, top] of indexDoc.index.manifests.entries()) {
    const names = ociName(top);
    let desc = top;
    let what = `index.json manifests[${i}]`;
    let doc = await ociDocument(archive, ociBlob(archive, desc, what), desc.mediaType, what);
    for (let depth = 0; doc.kind === 'index'; depth++) {
      if (depth > 4) throw bad(`${what}: image indexes nested too deep`);
      const picked =
        selectManifest(doc.index.manifests, defaultPlatform()) ??
        (doc.index.manifests.length === 1 ? doc.index.manifests[0] : undefined);
      if (!picked) throw bad(`${what} has no image for this platform`);
      desc = picked;
      what = `manifest ${desc.digest}`;
      doc = await ociDocument(archive, ociBlob(archive, desc, what), desc.mediaType, what);
    }
    const manifest = doc.manifest;
    const configFile = ociBlob(archive, manifest.config, `config of ${what}`);
    const config = parseImageConfig(await archive.json(configFile.path), `config ${manifest.config.digest}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw bad(`${what} lists ${manifest.layers.length} layers but its config has ${diffIds.length} diff IDs`);
    }
    const chains = chainIds(diffIds);
    plans.push({
      id: configFile.digest,
      config,
      manifestDigest: desc.digest,
      layers: manifest.layers.map((l, j) => {
        const f = ociBlob(archive, l, `layer ${j} of ${what}`);
        return {
          path: f.path,
          digest: f.digest,
          size: f.size,
          mediaType: l.mediaType,
          diffId: diffIds[j]!,
          chainId: chains[j]!,
        };
      }),
      names: names ? [names] : [],
    });
  }
  return plans;
}

/** Reads the images an archive describes: `docker save` (manifest.json) first, else an OCI layout (index.json). */
export async function planLoad(archive: IngestedArchive): Promise<LoadPlan[]> {
  let plans: LoadPlan[];
  if (archive.has('manifest.json')) plans = await planDocker(archive);
  else if (archive.has('index.json')) plans = await planOci(archive);
  else throw bad('neither manifest.json (docker save) nor index.json (OCI layout) found');
  if (plans.length === 0) throw bad('it holds no images');
  return plans;
}

/**
 * `POST /images/load`: stores the archive's files as blobs, validates every image it lists,
 * unpacks their layers through the graph driver (checking each against its diff ID), then
 * registers the images and their names. A failure at any step leaves nothing behind: no image,
 * no layer and no blob that was not there before.
 */
export async function loadImages(images: ImageService, body: Readable, opts: LoadOptions = {}): Promise<void> {
  const emit = opts.onProgress ?? (() => {});
  // `docker load` accepts compressed archives too.
  const tar = decompressLayer('application/x-tar', body);
  await withImageLock(images, async () => {
    const parts = images.local;
    const archive = await ingestArchive(parts.content, tar, { signal: opts.signal });
    const committed: string[] = [];
    try {
      const plans = await planLoad(archive);
      for (const plan of plans) await unpackPlan(parts, plan, committed, opts);
      for (const plan of plans) register(images, plan, emit);
    } catch (err) {
      await rollback(parts, committed);
      await archive.discard((d) => isReferenced(parts, d));
      if (err instanceof SkiffError) throw err;
      throw new InvalidParameterError(`loading the archive: ${(err as Error).message}`, { cause: err });
    }
    await archive.discard((d) => isReferenced(parts, d));
  });
}

async function unpackPlan(parts: LocalImageParts, plan: LoadPlan, committed: string[], opts: LoadOptions) {
  let parent: string | undefined;
  for (const l of plan.layers) {
    await parts.unpacker.ensure(l.chainId, async () => {
      await parts.unpacker.unpackBlob(parts.content, { ...l, label: l.path }, parent, { signal: opts.signal });
      committed.push(l.chainId);
    });
    if (!opts.quiet) {
      const size = parts.store.layerSize(l.chainId) ?? l.size;
      opts.onProgress?.({
        status: 'Loading layer',
        progressDetail: { current: size, total: size },
        progress: progressBar(size, size),
        id: l.diffId.replace(/^sha256:/, '').slice(0, 12),
      });
    }
    parent = l.chainId;
  }
}

function register(images: ImageService, plan: LoadPlan, emit: (m: ProgressMessage) => void): void {
  const parts = images.local;
  // An image already here keeps its record (and the blobs it was pulled with); it only gains names.
  if (!parts.store.get(plan.id)) {
    const image: ImageRecord = {
      id: plan.id,
      config: plan.config,
      manifestDigest: plan.manifestDigest,
      layers: plan.layers.map(({ digest, mediaType, size, diffId, chainId }) => ({
        digest,
        mediaType,
        size,
        diffId,
        chainId,
      })),
      size: plan.layers.reduce((n, l) => n + (parts.store.layerSize(l.chainId) ?? 0), 0),
      created: plan.config.created ?? new Date(0).toISOString(),
    };
    parts.store.put(image, []);
  }
  for (const name of plan.names) {
    const previous = setTag(images, plan.id, name);
    if (previous) {
      emit({
        stream: `The image ${familiarString(name)} already exists, renaming the old one with ID ${previous} to empty string\n`,
      });
    }
  }
  parts.events.publish({ Type: 'image', Action: 'load', Actor: { ID: plan.id, Attributes: { name: plan.id } } });
  if (plan.names.length === 0) emit({ stream: `Loaded image ID: ${plan.id}\n` });
  for (const name of plan.names) emit({ stream: `Loaded image: ${familiarString(name)}\n` });
}

function isReferenced(parts: LocalImageParts, digest: string): boolean {
  return parts.store
    .list()
    .some((i) => i.id === digest || i.manifestDigest === digest || i.layers.some((l) => l.digest === digest));
}

/** Removes the layers this operation committed that no registered image uses, newest first. */
export async function rollback(parts: LocalImageParts, committed: string[]): Promise<void> {
  const used = new Set(parts.store.list().flatMap((i) => i.layers.map((l) => l.chainId)));
  for (const chainId of [...committed].reverse()) {
    if (used.has(chainId)) continue;
    await releaseLayer(parts, chainId).catch((err: unknown) =>
      parts.log.warn('could not roll back a layer', { chainId, error: (err as Error).message }),
    );
  }
}
