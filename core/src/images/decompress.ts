import { pipeline, Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { InvalidParameterError, SkiffError } from '../plugin-api/errors.js';

/** Layer media types skiff can unpack, by their declared compression. */
const LAYER_MEDIA_TYPES: Record<string, 'none' | 'gzip' | 'zstd'> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  // `docker save` / `docker load` archives and build contexts.
  'application/x-tar': 'none',
  'application/tar': 'none',
};

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** Recognises a compressed stream by its first bytes (as moby's DetectCompression does). */
export function sniffCompression(head: Uint8Array): Compression {
  const starts = (...sig: number[]) => sig.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b, 0x08)) return 'gzip';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2';
  return 'none';
}

/** Whether `mediaType` names a layer format decompressLayer accepts. */
export function isLayerMediaType(mediaType: string): boolean {
  return Object.hasOwn(LAYER_MEDIA_TYPES, mediaType.split(';')[0]?.trim().toLowerCase() ?? '');
}

export interface DecompressLimits {
  /** Uncompressed bytes, absolute. */
  maxBytes: number;
  /**
   * Uncompressed bytes per compressed byte, checked once `ratioFloor` bytes came out. Deflate
   * cannot exceed 1032:1, so gzip layers are never refused by it; zstd bombs (which reach
   * 30000:1 and more) are.
   */
  maxRatio: number;
  ratioFloor: number;
}

export const DEFAULT_DECOMPRESS_LIMITS: Readonly<DecompressLimits> = Object.freeze({
  maxBytes: 64 * 1024 ** 3,
  maxRatio: 1100,
  ratioFloor: 1024 ** 3,
});

/**
 * Turns a layer blob into its uncompressed tar stream. The media type must be a known layer
 * type (InvalidParameterError otherwise); the compression actually used is taken from the
 * stream's magic bytes, since registries and old tools mislabel layers. Corrupt compressed data
 * surfaces as an InvalidParameterError on the returned stream, and so does output beyond
 * `opts.limits`.
 */
export function decompressLayer(
  mediaType: string,
  stream: NodeJS.ReadableStream | Readable,
  opts: { limits?: Partial<DecompressLimits> } = {},
): Readable {
  const limits = { ...DEFAULT_DECOMPRESS_LIMITS, ...opts.limits };
  if (!isLayerMediaType(mediaType)) {
    throw new InvalidParameterError(`unsupported layer media type: ${mediaType}`);
  }
  const source = stream as AsyncIterable<Buffer | string>;

  async function* decompressed(): AsyncGenerator<Buffer> {
    const it = source[Symbol.asyncIterator]();
    try {
      yield* decode(it);
    } finally {
      await it.return?.();
    }
  }

  async function* decode(it: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer> {
    const headChunks: Buffer[] = [];
    let headLen = 0;
    let ended = false;
    while (headLen < 6) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      headChunks.push(b);
      headLen += b.length;
    }
    const head = Buffer.concat(headChunks);
    let sourceError: unknown;
    async function* rest(): AsyncGenerator<Buffer> {
      if (head.length > 0) yield head;
      if (ended) return;
      for (;;) {
        let r: IteratorResult<Buffer | string>;
        try {
          r = await it.next();
        } catch (e) {
          sourceError = e;
          throw e;
        }
        if (r.done) return;
        const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        compressed += b.length;
        yield b;
      }
    }
    let compressed = head.length;
    let out = 0;
    const check = (n: number) => {
      out += n;
      if (out > limits.maxBytes) {
        throw new InvalidParameterError(`layer is larger than ${limits.maxBytes} bytes uncompressed`);
      }
      if (out > limits.ratioFloor && out > compressed * limits.maxRatio) {
        throw new InvalidParameterError(
          `layer expands more than ${limits.maxRatio}:1 when decompressed (a decompression bomb?)`,
        );
      }
    };
    const compression = sniffCompression(head);
    if (compression === 'none') {
      for await (const b of rest()) {
        check(b.length);
        yield b;
      }
      return;
    }
    if (compression === 'xz' || compression === 'bzip2') {
      throw new InvalidParameterError(`layer is ${compression}-compressed, which skiff does not support`);
    }
    // 256 kB output chunks instead of zlib's 16 kB: every stage downstream runs per chunk.
    const chunkSize = 256 * 1024;
    const inflate = compression === 'gzip' ? createGunzip({ chunkSize }) : createZstdDecompress({ chunkSize });
    pipeline(Readable.from(rest()), inflate, () => {});
    try {
      for await (const chunk of inflate) {
        check((chunk as Buffer).length);
        yield chunk as Buffer;
      }
    } catch (e) {
      inflate.destroy();
      if (sourceError !== undefined || e instanceof SkiffError) throw sourceError ?? e;
      throw new InvalidParameterError(`corrupt ${compression} layer: ${(e as Error).message}`, { cause: e });
    }
  }

  return Readable.from(decompressed(), { objectMode: false });
}
