import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { withMounted } from '../host/index.js';
import type { ContentStore, Descriptor } from '../plugin-api/content.js';
import { ConflictError, InvalidParameterError, NotFoundError, SkiffError } from '../plugin-api/errors.js';
import type { EventBus } from '../plugin-api/events.js';
import type { GraphDriver } from '../plugin-api/graph-driver.js';
import type { Logger } from '../plugin-api/logger.js';
import { applyLayer } from './apply-layer.js';
import { chainIds, layerKey } from './chain-id.js';
import { decompressLayer } from './decompress.js';
import type { ImageStore } from './image-store.js';
import type { ImageConfigFile, ImageLayer, ImageRecord, ProgressMessage } from './image-types.js';
import { progressBar } from './progress-bar.js';
import { canonicalString, familiarString, type ImageReference, parseReference } from './reference.js';
import type { RegistryAuth, RegistryClient } from './registry-client.js';

export interface PullOptions {
  auth?: RegistryAuth;
  signal?: AbortSignal;
  onProgress?: (m: ProgressMessage) => void;
}

const HEX_ID = /^(sha256:)?([0-9a-f]{1,64})$/;

/** Pulls images into the content store and graph driver, and looks them up by name or ID. */
export class ImageService {
  private readonly unpacking = new Map<string, Promise<void>>();

  constructor(
    private readonly store: ImageStore,
    private readonly content: ContentStore,
    private readonly graph: GraphDriver,
    private readonly registry: RegistryClient,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

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
    const emit = opts.onProgress ?? (() => {});
    emit({ status: `Pulling from ${ref.path}`, id: tagged.digest ?? tagged.tag });

    const resolved = await this.registry.resolve(tagged, { auth: opts.auth, signal: opts.signal });
    const config = await this.fetchConfig(tagged, resolved.config, opts);
    const diffIds = config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== resolved.layers.length) {
      throw new InvalidParameterError(
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

    for (const l of layers) {
      const short = l.digest.replace(/^sha256:/, '').slice(0, 12);
      if (this.store.hasLayer(l.chainId)) emit({ status: 'Already exists', progressDetail: {}, id: short });
      else emit({ status: 'Pulling fs layer', progressDetail: {}, id: short });
    }
    let parent: string | undefined;
    for (const l of layers) {
      await this.ensureLayer(tagged, l, parent, opts);
      parent = l.chainId;
    }

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
    await this.registry.pullBlob(ref, desc, this.content, { auth: opts.auth, signal: opts.signal });
    let config: ImageConfigFile;
    try {
      config = JSON.parse((await this.content.readBytes(desc.digest)).toString('utf8'));
    } catch (err) {
      throw new InvalidParameterError(`image config ${desc.digest} is not valid JSON: ${(err as Error).message}`);
    }
    if (!config || typeof config !== 'object' || !config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
      throw new InvalidParameterError(`image config ${desc.digest} has no rootfs.diff_ids`);
    }
    for (const d of config.rootfs.diff_ids) {
      if (typeof d !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(d)) {
        throw new InvalidParameterError(`image config ${desc.digest} has an invalid diff ID ${JSON.stringify(d)}`);
      }
    }
    return config;
  }

  /** Downloads and unpacks one layer unless its chain is already committed; concurrent pulls share the work. */
  private async ensureLayer(
    ref: ImageReference,
    l: ImageLayer,
    parent: string | undefined,
    opts: PullOptions,
  ): Promise<void> {
    if (this.store.hasLayer(l.chainId)) return;
    let job = this.unpacking.get(l.chainId);
    if (!job) {
      job = this.unpackLayer(ref, l, parent, opts).finally(() => this.unpacking.delete(l.chainId));
      this.unpacking.set(l.chainId, job);
    }
    await job;
  }

  private async unpackLayer(ref: ImageReference, l: ImageLayer, parent: string | undefined, opts: PullOptions) {
    const emit = opts.onProgress ?? (() => {});
    const short = l.digest.replace(/^sha256:/, '').slice(0, 12);
    let lastEmit = 0;
    await this.registry.pullBlob(ref, l, this.content, {
      auth: opts.auth,
      signal: opts.signal,
      onProgress: (current: number, total: number) => {
        const now = Date.now();
        if (now - lastEmit < 100 && current < total) return;
        lastEmit = now;
        emit({
          status: 'Downloading',
          progressDetail: { current, total },
          progress: progressBar(current, total),
          id: short,
        });
      },
    });
    emit({ status: 'Verifying Checksum', progressDetail: {}, id: short });
    emit({ status: 'Download complete', progressDetail: {}, id: short });

    const tmpKey = `extract-${randomBytes(6).toString('hex')}-${layerKey(l.chainId)}`;
    const mounts = await this.graph.prepare(tmpKey, parent ? layerKey(parent) : undefined);
    try {
      const hash = createHash('sha256');
      let size = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      emit({
        status: 'Extracting',
        progressDetail: { current: l.size, total: l.size },
        progress: progressBar(l.size, l.size),
        id: short,
      });
      await withMounted(mounts, async (dir) => {
        const blob = createReadStream(this.content.path(l.digest));
        const tar = decompressLayer(l.mediaType, blob);
        const piped = tar.pipe(tap);
        tar.on('error', (e) => piped.destroy(e));
        await applyLayer(dir, piped, { signal: opts.signal });
        // applyLayer may stop reading at the end-of-archive marker: hash whatever padding remains.
        for await (const _ of piped);
      });
      const diffId = `sha256:${hash.digest('hex')}`;
      if (diffId !== l.diffId) {
        throw new InvalidParameterError(
          `layer ${l.digest} does not match its diff ID: expected ${l.diffId}, got ${diffId}`,
        );
      }
      await this.graph.commit(layerKey(l.chainId), tmpKey);
      this.store.putLayer(l.chainId, l.diffId, parent, size);
    } catch (err) {
      await this.graph.remove(tmpKey).catch(() => {});
      if (err instanceof SkiffError) throw err;
      throw new InvalidParameterError(`failed to register layer ${l.digest}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    emit({ status: 'Pull complete', progressDetail: {}, id: short });
    this.log.debug('layer unpacked', { chainId: l.chainId });
  }
}
