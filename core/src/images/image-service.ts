import type { ContentStore, Descriptor } from '../plugin-api/content.js';
import { ConflictError, NotFoundError, UpstreamError } from '../plugin-api/errors.js';
import type { EventBus } from '../plugin-api/events.js';
import type { GraphDriver } from '../plugin-api/graph-driver.js';
import type { Logger } from '../plugin-api/logger.js';
import { chainIds } from './chain-id.js';
import type { ImageStore } from './image-store.js';
import type { ImageConfigFile, ImageLayer, ImageRecord, ProgressMessage } from './image-types.js';
import { LayerPuller } from './layer-pull.js';
import { LayerUnpacker } from './layer-unpacker.js';
import { canonicalString, familiarString, type ImageReference, parseReference } from './reference.js';
import { ImagePins } from './image-pins.js';
import { withImageLock } from './image-remove.js';
import type { RegistryAuth, RegistryClient, ResolvedImage } from './registry-client.js';
import { formatPlatform, normalizePlatform, type Platform } from './registry-manifest.js';

export interface PullOptions {
  auth?: RegistryAuth;
  signal?: AbortSignal;
  onProgress?: (m: ProgressMessage) => void;
  /** Pull this platform's image instead of the host's (`--platform`). */
  platform?: Platform;
}

export interface ImageServiceOptions {
  /** Layer downloads running at once per pull (dockerd's max-concurrent-downloads). Default 3. */
  maxConcurrentDownloads?: number;
}

/** Largest image config accepted (real ones are a few kB; huge histories reach a few hundred). */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** Deepest layer chain accepted, as dockerd's (overlay mounts cannot stack much more). */
export const MAX_LAYERS = 125;

/** What local image operations (outside pull) work on; see `ImageService.local`. */
export interface LocalImageParts {
  store: ImageStore;
  content: ContentStore;
  graph: GraphDriver;
  events: EventBus;
  log: Logger;
  unpacker: LayerUnpacker;
  pins: ImagePins;
}

const HEX_ID = /^(sha256:)?([0-9a-f]{1,64})$/;

/** Pulls images into the content store and graph driver, and looks them up by name or ID. */
export class ImageService {
  private readonly unpacker: LayerUnpacker;
  private readonly layerPuller: LayerPuller;
  private readonly pins = new ImagePins();

  constructor(
    private readonly store: ImageStore,
    private readonly content: ContentStore,
    private readonly graph: GraphDriver,
    private readonly registry: RegistryClient,
    private readonly events: EventBus,
    private readonly log: Logger,
    options: ImageServiceOptions = {},
  ) {
    this.unpacker = new LayerUnpacker(store, graph, log);
    this.layerPuller = new LayerPuller(
      registry,
      content,
      store,
      this.unpacker,
      log,
      options.maxConcurrentDownloads ?? 3,
    );
  }

  // ── For image management (tag, remove, save, load, import: image-manage.ts, image-archive.ts, image-import.ts) ──
  /** The store, blobs, graph driver and shared layer unpacker that local image operations work on. */
  get local(): LocalImageParts {
    const { store, content, graph, events, log, unpacker, pins } = this;
    return { store, content, graph, events, log, unpacker, pins };
  }
  // ── end of image management ──

  /** Finds a local image by reference, full or short ID. NotFoundError (`No such image: X`) otherwise. */
  resolve(name: string): ImageRecord {
    const img = this.find(name);
    if (!img) throw new NotFoundError(`No such image: ${name}`);
    return img;
  }

  find(name: string): ImageRecord | undefined {
    const idMatch = HEX_ID.exec(name);
    if (idMatch && (idMatch[1] || idMatch[2]!.length === 64 || !this.refLookup(name))) {
      const hex = idMatch[2]!;
      if (hex.length === 64) {
        const img = this.store.get(`sha256:${hex}`);
        if (img) return img;
      } else if (hex.length >= 1) {
        const found = this.store.byIdPrefix(hex);
        if (found.length === 1) return found[0];
        if (found.length > 1) throw new ConflictError(`ambiguous image ID prefix: ${name}`);
      }
    }
    return this.refLookup(name);
  }

  private refLookup(name: string): ImageRecord | undefined {
    let ref: ImageReference;
    try {
      ref = parseReference(name);
    } catch {
      return undefined;
    }
    const id = this.store.resolveRef(canonicalString(ref.digest || ref.tag ? ref : { ...ref, tag: 'latest' }));
    return id ? this.store.get(id) : undefined;
  }

  list(): ImageRecord[] {
    return this.store.list();
  }

  /** Records `repo@digest` (canonical) as a name of the image, as a pull or push of that manifest does. */
  addRepoDigest(imageId: string, repoDigest: string): void {
    this.store.putRef(repoDigest, imageId, 'digest');
  }

  /** Familiar names pointing at the image: tags (`busybox:latest`) and digests (`busybox@sha256:…`). */
  names(imageId: string): { tags: string[]; digests: string[] } {
    const tags: string[] = [];
    const digests: string[] = [];
    for (const r of this.store.refsOf(imageId)) {
      const fam = familiarString(parseReference(r.ref));
      (r.kind === 'tag' ? tags : digests).push(fam);
    }
    return { tags, digests };
  }

  /** Pulls `refString` (tag defaults to latest) and returns the image. Progress follows Docker's stream. */
  async pull(refString: string, opts: PullOptions = {}): Promise<ImageRecord> {
    const ref = parseReference(refString);
    const tagged: ImageReference = ref.digest || ref.tag ? ref : { ...ref, tag: 'latest' };
    opts.onProgress?.({ status: `Pulling from ${ref.path}`, id: tagged.digest ?? tagged.tag });

    const resolved = await this.registry.resolve(tagged, {
      auth: opts.auth,
      signal: opts.signal,
      ...(opts.platform ? { platform: opts.platform } : {}),
    });
    if (resolved.layers.length > MAX_LAYERS) {
      throw new UpstreamError(
        `${familiarString(tagged)} has ${resolved.layers.length} layers: max depth exceeded (${MAX_LAYERS})`,
      );
    }
    // An rmi meanwhile must not take the blobs and layers this pull finds present and reuses.
    const blobs = [resolved.config.digest, resolved.manifestDigest, ...resolved.layers.map((l) => l.digest)];
    const unpinBlobs = await withImageLock(this, async () => this.pins.pin(blobs));
    try {
      return await this.pullResolved(ref, tagged, resolved, opts);
    } finally {
      unpinBlobs();
    }
  }

  private async pullResolved(
    ref: ImageReference,
    tagged: ImageReference,
    resolved: ResolvedImage,
    opts: PullOptions,
  ): Promise<ImageRecord> {
    const emit = opts.onProgress ?? (() => {});
    const config = await this.fetchConfig(tagged, resolved.config, opts);
    if (opts.platform && !resolved.indexDigest) checkPlatform(familiarString(tagged), config, opts.platform);
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== resolved.layers.length) {
      throw new UpstreamError(
        `image config for ${familiarString(tagged)} lists ${diffIds?.length ?? 0} layers but the manifest has ${resolved.layers.length}`,
      );
    }
    const chains = chainIds(diffIds);
    const layers: ImageLayer[] = resolved.layers.map((d, i) => ({
      digest: d.digest,
      mediaType: d.mediaType,
      size: d.size,
      diffId: diffIds[i]!,
      chainId: chains[i]!,
    }));
    const existing = this.store.get(resolved.config.digest);
    const unpinLayers = await withImageLock(this, async () => this.pins.pin(chains));
    try {
      await this.layerPuller.pull(layers, {
        ref: tagged,
        emit,
        ...(opts.auth ? { auth: opts.auth } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return this.register(ref, tagged, resolved, config, layers, existing !== undefined, emit);
    } finally {
      unpinLayers();
    }
  }

  /** Records a pulled image under its names and reports it. */
  private register(
    ref: ImageReference,
    tagged: ImageReference,
    resolved: ResolvedImage,
    config: ImageConfigFile,
    layers: ImageLayer[],
    existing: boolean,
    emit: (m: ProgressMessage) => void,
  ): ImageRecord {
    const size = layers.reduce((n, l) => n + (this.store.layerSize(l.chainId) ?? 0), 0);
    const image: ImageRecord = {
      id: resolved.config.digest,
      config,
      manifestDigest: resolved.manifestDigest,
      layers,
      size,
      created: config.created ?? new Date(0).toISOString(),
    };
    const repoDigest = canonicalString({
      domain: ref.domain,
      path: ref.path,
      digest: resolved.indexDigest ?? resolved.manifestDigest,
    });
    const refs: { ref: string; kind: 'tag' | 'digest' }[] = [{ ref: repoDigest, kind: 'digest' }];
    const previous = tagged.tag && !tagged.digest ? this.store.resolveRef(canonicalString(tagged)) : undefined;
    if (tagged.tag && !tagged.digest) refs.push({ ref: canonicalString(tagged), kind: 'tag' });
    this.store.put(image, refs);
    emit({ status: `Digest: ${resolved.indexDigest ?? resolved.manifestDigest}` });
    const upToDate = existing && (previous === image.id || !!tagged.digest);
    emit({
      status: upToDate
        ? `Status: Image is up to date for ${familiarString(tagged)}`
        : `Status: Downloaded newer image for ${familiarString(tagged)}`,
    });
    this.events.publish({
      Type: 'image',
      Action: 'pull',
      Actor: { ID: familiarString(tagged), Attributes: { name: familiarString(tagged) } },
    });
    return image;
  }

  private async fetchConfig(ref: ImageReference, desc: Descriptor, opts: PullOptions): Promise<ImageConfigFile> {
    if (desc.size > MAX_CONFIG_BYTES) {
      throw new UpstreamError(
        `image config ${desc.digest} is too large (${desc.size} bytes, limit ${MAX_CONFIG_BYTES})`,
      );
    }
    await this.registry.pullBlob(ref, desc, this.content, { auth: opts.auth, signal: opts.signal });
    let config: ImageConfigFile;
    try {
      config = JSON.parse((await this.content.readBytes(desc.digest)).toString('utf8'));
    } catch (err) {
      throw new UpstreamError(`image config ${desc.digest} is not valid JSON: ${(err as Error).message}`);
    }
    if (!config || typeof config !== 'object' || !config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
      throw new UpstreamError(`image config ${desc.digest} has no rootfs.diff_ids`);
    }
    for (const d of config.rootfs.diff_ids) {
      if (typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d)) {
        throw new UpstreamError(
          `image config ${desc.digest} has an invalid diff ID ${JSON.stringify(d).slice(0, 100)}`,
        );
      }
    }
    return config;
  }
}

/**
 * A single-platform image pulled with an explicit platform must be that platform (dockerd's
 * check): a list picks the right one, a plain manifest can only be refused.
 */
function checkPlatform(name: string, config: ImageConfigFile, want: Platform): void {
  if (typeof config.os !== 'string' || typeof config.architecture !== 'string') return;
  const actual = { os: config.os, architecture: config.architecture, variant: config.variant };
  const a = normalizePlatform(actual);
  const w = normalizePlatform(want);
  if (a.os === w.os && a.architecture === w.architecture && (!want.variant || a.variant === w.variant)) return;
  throw new NotFoundError(
    `image with reference ${name} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(actual)}`,
  );
}
