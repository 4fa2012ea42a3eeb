import type { ContentStore, Descriptor } from '../plugin-api/content.js';
import { InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { EventBus } from '../plugin-api/events.js';
import type { Logger } from '../plugin-api/logger.js';
import type { ImageService } from './image-service.js';
import type { ImageRecord, ProgressMessage } from './image-types.js';
import { progressBar } from './progress-bar.js';
import {
  canonicalString,
  familiarName,
  familiarString,
  type ImageReference,
  parseReference,
  repositoryName,
  validateTag,
} from './reference.js';
import type { RegistryAuth } from './registry-auth.js';
import type { RegistryClient, RepositorySession } from './registry-client.js';
import { MediaTypes } from './registry-manifest.js';
import { RegistryPusher, type RegistryPusherOptions } from './registry-push.js';
import { compareStrings } from '../util/compare.js';

export interface PushOptions {
  auth?: RegistryAuth;
  signal?: AbortSignal;
  onProgress?: (m: ProgressMessage) => void;
}

/** The tags of one repository to push, checked before anything is streamed. */
export interface PushPlan {
  repository: ImageReference;
  tags: { tag: string; image: ImageRecord }[];
}

/** The manifest sent for an image: the one it was pulled with when stored, else rebuilt from the record. */
export interface PushManifest {
  mediaType: string;
  bytes: Buffer;
  config: Descriptor;
  layers: Descriptor[];
}

const LAYER_CONCURRENCY = 3;
const DOCKER_TO_OCI_LAYER: Record<string, string> = {
  [MediaTypes.DockerLayer]: MediaTypes.OciLayerGzip,
  [MediaTypes.DockerForeignLayer]: MediaTypes.OciLayerNondistributableGzip,
};

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/** `docker push`: uploads local images' layers, config and manifest with Docker's progress messages. */
export class ImagePusher {
  private readonly pusher: RegistryPusher;

  constructor(
    private readonly images: ImageService,
    private readonly content: ContentStore,
    private readonly registry: RegistryClient,
    private readonly events: EventBus,
    private readonly log: Logger,
    options: RegistryPusherOptions = {},
  ) {
    this.pusher = new RegistryPusher(registry, content, options);
  }

  /**
   * Which local images `name` (+ `tag`) means: one tag, or every tag of the repository when
   * `tag` is empty and `name` has none. NotFoundError in dockerd's words otherwise.
   */
  plan(name: string, tag: string | undefined): PushPlan {
    let ref: ImageReference;
    try {
      ref = parseReference(name);
    } catch (err) {
      throw new InvalidParameterError((err as Error).message);
    }
    if (ref.digest) throw new InvalidParameterError(`cannot push a digest reference: ${name}`);
    if (tag) {
      try {
        validateTag(tag);
      } catch (err) {
        throw new InvalidParameterError((err as Error).message);
      }
    }
    const repository: ImageReference = { domain: ref.domain, path: ref.path };
    const wanted = tag || ref.tag;
    const all = this.repositoryTags(repository);
    if (all.length === 0) {
      throw new NotFoundError(`An image does not exist locally with the tag: ${familiarName(repository)}`);
    }
    if (!wanted) return { repository, tags: all };
    const one = all.find((t) => t.tag === wanted);
    if (!one) throw new NotFoundError(`tag does not exist: ${familiarString({ ...repository, tag: wanted })}`);
    return { repository, tags: [one] };
  }

  private repositoryTags(repo: ImageReference): { tag: string; image: ImageRecord }[] {
    const out: { tag: string; image: ImageRecord }[] = [];
    for (const image of this.images.list()) {
      for (const name of this.images.names(image.id).tags) {
        const r = parseReference(name);
        if (r.domain === repo.domain && r.path === repo.path && r.tag) out.push({ tag: r.tag, image });
      }
    }
    return out.sort((a, b) => compareStrings(a.tag, b.tag));
  }

  /** Pushes a plan; progress goes to `onProgress` (the first message is the only one before any network I/O). */
  async push(plan: PushPlan, opts: PushOptions = {}): Promise<void> {
    const emit = opts.onProgress ?? (() => {});
    const repoName = repositoryName(plan.repository);
    emit({ status: `The push refers to repository [${repoName}]` });
    for (const { tag, image } of plan.tags) {
      await this.pushTag(plan.repository, tag, image, opts, emit);
    }
  }

  private async pushTag(
    repo: ImageReference,
    tag: string,
    image: ImageRecord,
    opts: PushOptions,
    emit: (m: ProgressMessage) => void,
  ): Promise<void> {
    const { signal } = opts;
    const manifest = await this.manifestFor(image);
    const sources = this.mountSources(repo, manifest.layers);
    const session = this.registry.repository(repo, opts.auth, {
      push: true,
      mountFrom: [...new Set([...sources.values()].flat())].slice(0, 8),
    });

    // Push ids are the diff IDs' prefixes; a layer listed twice goes up once.
    const layers: { desc: Descriptor; id: string }[] = [];
    const seen = new Set<string>();
    manifest.layers.forEach((desc, i) => {
      if (seen.has(desc.digest)) return;
      seen.add(desc.digest);
      layers.push({ desc, id: short(image.layers[i]?.diffId ?? desc.digest) });
    });
    for (const l of layers) emit({ status: 'Preparing', progressDetail: {}, id: l.id });

    let next = 0;
    const worker = async () => {
      while (next < layers.length) {
        const l = layers[next++]!;
        await this.pushLayer(session, l.desc, l.id, sources.get(l.desc.digest) ?? [], signal, emit);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LAYER_CONCURRENCY, layers.length) }, worker));

    if (!(await this.pusher.blobExists(session, manifest.config, signal))) {
      await this.pusher.uploadBlob(session, manifest.config, undefined, signal ? { signal } : {});
    }
    const digest = await this.pusher.putManifest(session, tag, manifest.mediaType, manifest.bytes, signal);
    emit({ status: `${tag}: digest: ${digest} size: ${manifest.bytes.length}` });
    emit({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.bytes.length } });
    this.images.addRepoDigest(image.id, canonicalString({ domain: repo.domain, path: repo.path, digest }));
    const name = familiarString({ ...repo, tag });
    this.events.publish({ Type: 'image', Action: 'push', Actor: { ID: name, Attributes: { name } } });
    this.log.debug('pushed', { ref: name, digest });
  }

  private async pushLayer(
    session: RepositorySession,
    desc: Descriptor,
    id: string,
    sources: readonly string[],
    signal: AbortSignal | undefined,
    emit: (m: ProgressMessage) => void,
  ): Promise<void> {
    if (await this.pusher.blobExists(session, desc, signal)) {
      emit({ status: 'Layer already exists', progressDetail: {}, id });
      return;
    }
    let location: URL | undefined;
    for (const from of sources) {
      try {
        const r = await this.pusher.mountBlob(session, desc.digest, from, signal);
        if (r.mounted) {
          emit({ status: `Mounted from ${from}`, progressDetail: {}, id });
          return;
        }
        location = r.location;
        break;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        // No pull access to the source, or no mount support: upload instead.
        this.log.debug('cross-repository mount failed', { from, digest: desc.digest, error: (err as Error).message });
      }
    }
    let last = 0;
    await this.pusher.uploadBlob(session, desc, location, {
      ...(signal ? { signal } : {}),
      onProgress: (current, total) => {
        const now = Date.now();
        if (now - last < 100 && current < total) return;
        last = now;
        emit({ status: 'Pushing', progressDetail: { current, total }, progress: progressBar(current, total), id });
      },
    });
    emit({ status: 'Pushed', progressDetail: {}, id });
  }

  /** Repositories on the same registry whose local images hold each layer: candidates for a mount. */
  private mountSources(repo: ImageReference, layers: readonly Descriptor[]): Map<string, string[]> {
    const wanted = new Set(layers.map((l) => l.digest));
    const out = new Map<string, string[]>();
    for (const image of this.images.list()) {
      const hits = image.layers.filter((l) => wanted.has(l.digest));
      if (hits.length === 0) continue;
      const { tags, digests } = this.images.names(image.id);
      for (const name of [...tags, ...digests]) {
        const r = parseReference(name);
        if (r.domain !== repo.domain || r.path === repo.path) continue;
        for (const l of hits) {
          const list = out.get(l.digest) ?? [];
          if (!list.includes(r.path)) list.push(r.path);
          out.set(l.digest, list);
        }
      }
    }
    return out;
  }

  /** The image's manifest: the stored one if the content store kept it, else rebuilt from the record. */
  async manifestFor(image: ImageRecord): Promise<PushManifest> {
    const stored = await this.storedManifest(image);
    if (stored) return stored;
    const configInfo = await this.content.info(image.id).catch(() => {
      throw new NotFoundError(`image config ${image.id} is not in the local content store`);
    });
    const oci = image.layers.some((l) => l.mediaType.startsWith('application/vnd.oci.'));
    const layers: Descriptor[] = image.layers.map((l) => ({
      mediaType: oci ? (DOCKER_TO_OCI_LAYER[l.mediaType] ?? l.mediaType) : l.mediaType,
      size: l.size,
      digest: l.digest,
    }));
    const config: Descriptor = {
      mediaType: oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig,
      size: configInfo.size,
      digest: image.id,
    };
    const mediaType = oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest;
    const doc = { schemaVersion: 2, mediaType, config, layers };
    // dockerd indents manifests with three spaces.
    return { mediaType, bytes: Buffer.from(JSON.stringify(doc, null, 3)), config, layers };
  }

  private async storedManifest(image: ImageRecord): Promise<PushManifest | undefined> {
    if (!image.manifestDigest || !(await this.content.has(image.manifestDigest).catch(() => false))) return undefined;
    let doc: { mediaType?: unknown; config?: Descriptor; layers?: Descriptor[] };
    const bytes = await this.content.readBytes(image.manifestDigest);
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch {
      return undefined;
    }
    const layers = Array.isArray(doc?.layers) ? doc.layers : [];
    const matches =
      doc?.config?.digest === image.id &&
      layers.length === image.layers.length &&
      layers.every((l, i) => l?.digest === image.layers[i]!.digest && l.size === image.layers[i]!.size);
    if (!matches) return undefined;
    const mediaType =
      typeof doc.mediaType === 'string'
        ? doc.mediaType
        : doc.config!.mediaType === MediaTypes.OciConfig
          ? MediaTypes.OciManifest
          : MediaTypes.DockerManifest;
    return { mediaType, bytes, config: doc.config!, layers };
  }
}
