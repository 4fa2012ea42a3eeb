import { createHash, randomBytes } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import type { ContentWriter } from '../plugin-api/content.js';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { decompressLayer } from './decompress.js';
import { applyChanges } from './image-changes.js';
import { rollback } from './image-load.js';
import { withImageLock } from './image-remove.js';
import type { ImageService } from './image-service.js';
import { repoTagReference, setTag } from './image-tags.js';
import type { ImageConfigFile, ImageRecord } from './image-types.js';
import type { ImageReference } from './reference.js';
import { defaultPlatform } from './registry-manifest.js';

export interface ImportOptions {
  /** `fromSrc`: only `-` (the request body) is supported. */
  source: string;
  repo?: string;
  tag?: string;
  changes?: string[];
  message?: string;
  /** `os[/arch[/variant]]`; defaults to this host's. */
  platform?: string;
  signal?: AbortSignal;
}

/** The uncompressed layer as stored for push and save: a plain tar, addressed by its diff ID. */
const LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

function parsePlatform(p: string | undefined) {
  const host = defaultPlatform();
  if (!p) return host;
  const [os, architecture, variant] = p.toLowerCase().split('/');
  if (os !== 'linux') throw new InvalidParameterError(`unsupported os ${os}`);
  return { os, architecture: architecture || host.architecture, ...(variant ? { variant } : {}) };
}

/**
 * `POST /images/create?fromSrc=-` (`docker import`): the body is a rootfs tarball (plain, gzip or
 * zstd). It becomes a one-layer image: unpacked through the graph driver and stored, uncompressed,
 * as a content blob while it streams in, with a config built from `changes`. Returns the image ID.
 */
export async function importImage(images: ImageService, body: Readable, opts: ImportOptions): Promise<string> {
  if (opts.source !== '-') {
    throw new InvalidParameterError(
      `importing from ${JSON.stringify(opts.source)} is not supported: skiffd does not download URLs, send the tarball as the request body (fromSrc=-)`,
    );
  }
  let ref: ImageReference | undefined;
  if (opts.repo) ref = repoTagReference(opts.repo, opts.tag ?? '');
  const containerConfig = applyChanges({}, opts.changes ?? []);
  const platform = parsePlatform(opts.platform);
  const parts = images.local;

  return withImageLock(images, async () => {
    const writer = await parts.content.writer(`import-${randomBytes(8).toString('hex')}`);
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        writer.write(chunk).then(() => cb(null, chunk), cb);
      },
    });
    const tar = decompressLayer('application/x-tar', body).pipe(tee);
    let layer: Awaited<ReturnType<typeof parts.unpacker.unpackNew>>;
    try {
      layer = await parts.unpacker.unpackNew(undefined, tar, 'from the request body', { signal: opts.signal });
    } catch (err) {
      await writer.abort().catch(() => {});
      throw err;
    }
    try {
      await storeBlob(writer, layer.size, layer.diffId, parts.content.has.bind(parts.content));
      const created = new Date().toISOString();
      const comment = opts.message || `Imported from ${opts.source}`;
      const config: ImageConfigFile & { comment: string } = {
        architecture: platform.architecture,
        ...('variant' in platform && platform.variant ? { variant: platform.variant } : {}),
        os: platform.os,
        created,
        comment,
        config: containerConfig,
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created, comment }],
      };
      const bytes = Buffer.from(JSON.stringify(config));
      const id = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (!(await parts.content.has(id))) {
        const w = await parts.content.writer(`import-config-${id}`, { digest: id, size: bytes.length });
        await w.write(bytes);
        await w.commit(bytes.length, id);
      }
      const image: ImageRecord = {
        id,
        config,
        manifestDigest: '',
        layers: [
          {
            digest: layer.diffId,
            mediaType: LAYER_TAR,
            size: layer.size,
            diffId: layer.diffId,
            chainId: layer.chainId,
          },
        ],
        size: layer.size,
        created,
      };
      parts.store.put(image, []);
      if (ref) setTag(images, id, ref);
      parts.events.publish({ Type: 'image', Action: 'import', Actor: { ID: id, Attributes: { name: id } } });
      return id;
    } catch (err) {
      if (layer.created) await rollback(parts, [layer.chainId]);
      throw err;
    }
  });
}

async function storeBlob(
  writer: ContentWriter,
  size: number,
  digest: string,
  has: (d: string) => Promise<boolean>,
): Promise<void> {
  if (await has(digest)) await writer.abort();
  else await writer.commit(size, digest);
}
