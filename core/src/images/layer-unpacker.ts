import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { withMounted } from '../host/index.js';
import type { ContentStore } from '../plugin-api/content.js';
import { InvalidParameterError, SkiffError } from '../plugin-api/errors.js';
import { type GraphDriver, SnapshotLabels } from '../plugin-api/graph-driver.js';
import type { Logger } from '../plugin-api/logger.js';
import { applyLayer } from './apply-layer.js';
import { chainIds, layerKey } from './chain-id.js';
import { decompressLayer } from './decompress.js';
import type { ImageStore } from './image-store.js';

/** What identifies a layer to unpack: its place in the chain and the digest of its tar. */
export interface LayerIdentity {
  chainId: string;
  diffId: string;
  /** Names the layer in error messages (its blob digest, or where it came from). */
  label: string;
}

export interface UnpackOptions {
  signal?: AbortSignal;
  /**
   * Settles once `parent` is committed. With a graph driver that takes layers as plain
   * directories (`diffDirs`) the layer is written meanwhile and only its commit waits; with any
   * other driver the caller must not start the unpack before.
   */
  parentCommitted?: Promise<unknown>;
}

interface Applied {
  diffId: string;
  size: number;
  /** Options for the commit: the parent of a snapshot made without one. */
  commit: { parent?: string };
}

/**
 * Turns layer tars into committed graph-driver snapshots, one job per chain ID at a time:
 * prepare → apply the tar on the mounted snapshot while hashing it → check the diff ID →
 * commit as `layerKey(chainId)` → record the layer. Shared by pull, load and import so that two
 * of them needing the same layer at once do the work once.
 */
export class LayerUnpacker {
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly store: ImageStore,
    private readonly graph: GraphDriver,
    private readonly log: Logger,
  ) {}

  /** Layers can be written before their parents are committed (see UnpackOptions.parentCommitted). */
  get parallel(): boolean {
    return !!this.graph.capabilities().diffDirs && !!this.graph.prepareDiff;
  }

  /**
   * Runs `job` unless the chain is already committed; callers asking for a chain that is being
   * unpacked wait for that job instead. Resolves true if this call did (or shared) the work.
   */
  async ensure(chainId: string, job: () => Promise<void>): Promise<boolean> {
    let running = this.inflight.get(chainId);
    if (!running) {
      if (this.store.hasLayer(chainId)) return false;
      running = job().finally(() => this.inflight.delete(chainId));
      this.inflight.set(chainId, running);
    }
    await running;
    return true;
  }

  /**
   * Unpacks the uncompressed layer tar `tar` on top of committed chain `parent`. The snapshot is
   * committed only if the tar hashes to `layer.diffId`; otherwise it is removed and an
   * InvalidParameterError says so. Returns the byte length of the tar (what `save` re-emits).
   */
  async unpack(
    layer: LayerIdentity,
    parent: string | undefined,
    tar: Readable,
    opts: UnpackOptions = {},
  ): Promise<{ size: number }> {
    const tmpKey = this.tmpKey(layer.chainId);
    try {
      const { diffId, size, commit } = await this.apply(tmpKey, parent, tar, opts);
      if (diffId !== layer.diffId) {
        throw new InvalidParameterError(
          `layer ${layer.label} does not match its diff ID: expected ${layer.diffId}, got ${diffId}`,
        );
      }
      await opts.parentCommitted;
      await this.graph.commit(layerKey(layer.chainId), tmpKey, commit);
      this.store.putLayer(layer.chainId, layer.diffId, parent, size);
      this.log.debug('layer unpacked', { chainId: layer.chainId });
      return { size };
    } catch (err) {
      throw await this.failed(tmpKey, tar, layer.label, err);
    }
  }

  /**
   * Unpacks a tar whose diff ID is only known once it has been read (import, commit), and
   * commits it under the chain ID that gives — or drops the new snapshot if that layer exists.
   */
  async unpackNew(
    parent: string | undefined,
    tar: Readable,
    label: string,
    opts: UnpackOptions = {},
  ): Promise<{ diffId: string; chainId: string; size: number; created: boolean }> {
    const tmpKey = this.tmpKey(parent ?? 'base');
    let committed = false;
    try {
      const { diffId, size, commit } = await this.apply(tmpKey, parent, tar, opts);
      const chainId = parent ? chainIds([parent, diffId])[1]! : diffId;
      await opts.parentCommitted;
      const created = await this.ensure(chainId, async () => {
        await this.graph.commit(layerKey(chainId), tmpKey, commit);
        committed = true;
        this.store.putLayer(chainId, diffId, parent, size);
      });
      if (!committed) await this.graph.remove(tmpKey);
      return { diffId, chainId, size, created: created && committed };
    } catch (err) {
      throw await this.failed(committed ? undefined : tmpKey, tar, label, err);
    }
  }

  private tmpKey(chainId: string): string {
    return `extract-${randomBytes(6).toString('hex')}-${layerKey(chainId)}`;
  }

  /**
   * Prepares `tmpKey` and applies the tar on it, hashing every byte: as a plain directory of its
   * own when the driver takes those (put on `parent` at commit), else mounted above `parent`.
   */
  private async apply(
    tmpKey: string,
    parent: string | undefined,
    tar: Readable,
    opts: UnpackOptions,
  ): Promise<Applied> {
    const labels = { [SnapshotLabels.Unpack]: 'true' };
    const parentKey = parent ? layerKey(parent) : undefined;
    const hash = createHash('sha256');
    let size = 0;
    const onData = (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    };
    const { diffDirs } = this.graph.capabilities();
    let commit: Applied['commit'] = {};
    if (diffDirs && this.graph.prepareDiff) {
      const dir = await this.graph.prepareDiff(tmpKey, { labels });
      await applyLayer(dir, tar, { signal: opts.signal, onData, whiteouts: diffDirs });
      if (parentKey) commit = { parent: parentKey };
    } else {
      await opts.parentCommitted;
      const mounts = await this.graph.prepare(tmpKey, parentKey, { labels });
      await withMounted(mounts, (dir) => applyLayer(dir, tar, { signal: opts.signal, onData }));
    }
    return { diffId: `sha256:${hash.digest('hex')}`, size, commit };
  }

  private async failed(tmpKey: string | undefined, tar: Readable, label: string, err: unknown): Promise<Error> {
    tar.destroy();
    if (tmpKey) await this.graph.remove(tmpKey).catch(() => {});
    if (err instanceof SkiffError) return err;
    return new InvalidParameterError(`failed to register layer ${label}: ${(err as Error).message}`, { cause: err });
  }

  /** Unpacks a layer blob of the content store, decompressing it as its media type and magic bytes say. */
  unpackBlob(
    content: ContentStore,
    layer: LayerIdentity & { digest: string; mediaType: string },
    parent: string | undefined,
    opts: UnpackOptions = {},
  ): Promise<{ size: number }> {
    const blob = createReadStream(content.path(layer.digest));
    let tar: Readable;
    try {
      tar = decompressLayer(layer.mediaType, blob);
    } catch (err) {
      blob.destroy();
      throw err;
    }
    return this.unpack(layer, parent, tar, opts);
  }
}
