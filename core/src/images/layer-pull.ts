import { createReadStream } from 'node:fs';
import { PassThrough, type Readable, Transform } from 'node:stream';
import type { ContentStore } from '../plugin-api/content.js';
import type { Logger } from '../plugin-api/logger.js';
import { Limiter } from '../util/limiter.js';
import { decompressLayer } from './decompress.js';
import type { ImageStore } from './image-store.js';
import type { ImageLayer, ProgressMessage } from './image-types.js';
import type { LayerUnpacker } from './layer-unpacker.js';
import { progressBar } from './progress-bar.js';
import type { ImageReference } from './reference.js';
import type { BlobTee, RegistryAuth, RegistryClient } from './registry-client.js';

export interface LayerPullOptions {
  ref: ImageReference;
  auth?: RegistryAuth;
  signal?: AbortSignal;
  emit: (m: ProgressMessage) => void;
}

/** How often a layer's Downloading / Extracting progress is reported at most. */
const PROGRESS_INTERVAL_MS = 100;
const READ_CHUNK = 1 << 20;

const shortId = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/** Calls `fn` at most every PROGRESS_INTERVAL_MS, and always for the last step (current = total). */
function throttled(fn: (current: number, total: number) => void): (current: number, total: number) => void {
  let last = 0;
  return (current, total) => {
    const now = Date.now();
    if (current < total && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    fn(current, total);
  };
}

/**
 * A layer streamed into the unpacker while it downloads (a {@link BlobTee}). The download waits
 * while the unpacker is behind; once the unpacker is gone (`detach`) it never waits again.
 */
class LiveLayer implements BlobTee {
  readonly stream = new PassThrough({ highWaterMark: READ_CHUNK });
  /** The download finished: the stream has every byte, verified. */
  complete = false;
  /** The bytes streamed so far are void; unpack from the stored blob instead. */
  abandoned = false;
  detached = false;

  constructor() {
    // The unpacker sees errors through its own pipe; there may be none yet (or any more).
    this.stream.on('error', () => {});
  }

  write(chunk: Buffer): Promise<void> {
    if (this.detached || this.abandoned || this.stream.destroyed || this.stream.write(chunk)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  end(): void {
    if (this.abandoned || this.complete) return;
    this.complete = true;
    this.stream.end();
  }

  abandon(): void {
    if (this.abandoned || this.complete) return;
    this.abandoned = true;
    if (!this.detached) this.stream.destroy(new Error('the download restarted'));
  }

  detach(): void {
    this.detached = true;
    if (!this.stream.destroyed) this.stream.destroy();
  }
}

interface Download {
  /** Settles when the blob is in the content store (or its download failed). */
  done: Promise<void>;
  /** Resolves when the download starts streaming (with its LiveLayer) or completes (undefined). */
  ready: Promise<LiveLayer | undefined>;
}

/**
 * The layer part of a pull: downloads run in parallel (at most `maxConcurrentDownloads` at a
 * time in the whole daemon, as dockerd's) into the content store, and each layer is unpacked
 * while it downloads (teed into the content store), or from the stored blob afterwards. With a
 * graph driver that takes layers as plain directories all layers unpack at once and only their
 * commits follow the layer order; otherwise a layer unpacks once its parent is committed. The first failure cancels
 * the rest; completed blobs and committed layers stay for the next pull to reuse. Progress
 * follows dockerd's per-layer messages.
 */
export class LayerPuller {
  private readonly limiter: Limiter;

  constructor(
    private readonly registry: RegistryClient,
    private readonly content: ContentStore,
    private readonly store: ImageStore,
    private readonly unpacker: LayerUnpacker,
    private readonly log: Logger,
    maxConcurrentDownloads: number,
  ) {
    this.limiter = new Limiter(maxConcurrentDownloads);
  }

  async pull(layers: readonly ImageLayer[], opts: LayerPullOptions): Promise<void> {
    const { emit } = opts;
    const missing = new Set<ImageLayer>();
    for (const l of layers) {
      const present = this.store.hasLayer(l.chainId);
      if (!present) missing.add(l);
      emit({ status: present ? 'Already exists' : 'Pulling fs layer', progressDetail: {}, id: shortId(l.digest) });
    }
    if (missing.size === 0) return;

    const own = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, own.signal]) : own.signal;
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown) => {
      failure ??= { error };
      own.abort(error);
    };
    const { limiter } = this;
    const parallel = this.unpacker.parallel;
    const downloads = new Map<string, Download>();
    for (const [i, l] of layers.entries()) {
      if (!missing.has(l) || downloads.has(l.digest)) continue;
      if (limiter.full) emit({ status: 'Waiting', progressDetail: {}, id: shortId(l.digest) });
      let started!: (live: LiveLayer | undefined) => void;
      const ready = new Promise<LiveLayer | undefined>((resolve) => {
        started = resolve;
      });
      const done = this.download(l, limiter, signal, opts, () => {
        // Streamed if the unpacker can take it now: in parallel, or when nothing before it is left to unpack.
        const now = parallel || layers.slice(0, i).every((p) => this.store.hasLayer(p.chainId));
        const live = now ? new LiveLayer() : undefined;
        started(live);
        return live;
      });
      done.then(() => started(undefined), fail);
      downloads.set(l.digest, { done, ready });
    }
    // Each layer is committed after its parent; with a parallel unpacker only the commits wait.
    const unpacks: Promise<void>[] = [];
    let parent: string | undefined;
    let parentCommitted: Promise<void> = Promise.resolve();
    for (const l of layers) {
      if (missing.has(l) && !this.store.hasLayer(l.chainId)) {
        const d = downloads.get(l.digest)!;
        const [onto, after] = [parent, parentCommitted];
        parentCommitted = (async () => {
          if (!parallel) await after;
          const live = await Promise.race([d.ready, d.done.then(() => undefined)]);
          await this.unpack(l, onto, signal, opts, d.done, live, after);
        })();
        unpacks.push(parentCommitted);
      }
      parent = l.chainId;
    }
    try {
      await Promise.all(unpacks);
    } catch (err) {
      fail(err);
      // Let every unpack and download stop (blobs stay for resumption) before answering.
      await Promise.allSettled([...unpacks, ...[...downloads.values()].map((d) => d.done)]);
      throw failure!.error;
    }
  }

  private async download(
    l: ImageLayer,
    limiter: Limiter,
    signal: AbortSignal,
    opts: LayerPullOptions,
    start: () => LiveLayer | undefined,
  ): Promise<void> {
    const id = shortId(l.digest);
    const release = await limiter.acquire(signal);
    try {
      const started = Date.now();
      const live = start();
      const { alreadyExists } = await this.registry.pullBlob(opts.ref, l, this.content, {
        signal,
        ...(opts.auth ? { auth: opts.auth } : {}),
        ...(live ? { tee: live } : {}),
        onProgress: throttled((current, total) =>
          opts.emit({
            status: 'Downloading',
            progressDetail: { current, total },
            progress: progressBar(current, total),
            id,
          }),
        ),
      });
      if (!alreadyExists) opts.emit({ status: 'Verifying Checksum', progressDetail: {}, id });
      opts.emit({ status: 'Download complete', progressDetail: {}, id });
      this.log.debug('layer downloaded', { digest: l.digest, ms: Date.now() - started, alreadyExists, live: !!live });
    } finally {
      release();
    }
  }

  private async unpack(
    l: ImageLayer,
    parent: string | undefined,
    signal: AbortSignal,
    opts: LayerPullOptions,
    downloaded: Promise<void>,
    live: LiveLayer | undefined,
    parentCommitted: Promise<void>,
  ) {
    try {
      for (let attempt = 0; ; attempt++) {
        let ours = false;
        const job = this.unpacker.ensure(l.chainId, () => {
          ours = true;
          return this.extract(l, parent, signal, opts, downloaded, live, parentCommitted);
        });
        // Another pull is unpacking this layer: never make our download wait for a reader.
        if (!ours) live?.detach();
        try {
          await job;
          break;
        } catch (err) {
          // That other pull's unpack failed (its client may have gone away): do it here.
          if (ours || signal.aborted || attempt >= 2) throw err;
        }
      }
    } finally {
      live?.detach();
    }
    opts.emit({ status: 'Pull complete', progressDetail: {}, id: shortId(l.digest) });
  }

  private async extract(
    l: ImageLayer,
    parent: string | undefined,
    signal: AbortSignal,
    opts: LayerPullOptions,
    downloaded: Promise<void>,
    live: LiveLayer | undefined,
    parentCommitted: Promise<void>,
  ): Promise<void> {
    const id = shortId(l.digest);
    const started = Date.now();
    const layer = { chainId: l.chainId, diffId: l.diffId, label: l.digest };
    let read = 0;
    let reporting = false;
    const report = throttled((current, total) => {
      // While a streamed layer still downloads its bar shows the download, as dockerd's does.
      if (reporting || live?.complete !== false)
        opts.emit({
          status: 'Extracting',
          progressDetail: { current, total },
          progress: progressBar(current, total),
          id,
        });
    });
    if (live && !live.detached) {
      try {
        await this.unpacker.unpack(
          layer,
          parent,
          this.inflate(l, live.stream, (n) => report((read += n), l.size)),
          { signal, parentCommitted },
        );
        await downloaded;
        report(l.size, l.size);
        this.log.debug('layer extracted', { digest: l.digest, ms: Date.now() - started, live: true });
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        // Bad bytes may break the tar before the download's digest check does: report the root cause.
        live.detach();
        await downloaded;
        if (!live.abandoned) throw err;
        read = 0;
      }
    }
    await downloaded;
    reporting = true;
    const blob = createReadStream(this.content.path(l.digest), { highWaterMark: READ_CHUNK });
    await this.unpacker.unpack(
      layer,
      parent,
      this.inflate(l, blob, (n) => report((read += n), l.size)),
      { signal, parentCommitted },
    );
    this.log.debug('layer extracted', { digest: l.digest, ms: Date.now() - started });
  }

  /** Blob bytes → the layer's tar; `counted` sees how many blob bytes were read. */
  private inflate(l: ImageLayer, blob: Readable, counted: (n: number) => void): Readable {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        counted(chunk.length);
        cb(null, chunk);
      },
    });
    blob.on('error', (e) => counter.destroy(e));
    // The reader sees errors by iterating; once it stopped reading, a late one must not be unhandled.
    counter.on('error', () => {});
    counter.on('close', () => blob.destroy());
    try {
      return decompressLayer(l.mediaType, blob.pipe(counter));
    } catch (err) {
      counter.destroy();
      throw err;
    }
  }
}
