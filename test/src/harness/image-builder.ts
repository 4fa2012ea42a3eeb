import { createHash, randomBytes } from 'node:crypto';
import { constants, gzipSync, zstdCompressSync } from 'node:zlib';

/**
 * Builds images byte by byte and pushes them to a Distribution registry over its HTTP API, so
 * tests control every field (media types, platforms, diff IDs) — including wrong ones.
 */

export type Compression = 'gzip' | 'zstd' | 'none';
export type ManifestFormat = 'oci' | 'docker';

export interface Blob {
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface Layer extends Blob {
  mediaType: string;
  /** Digest of the uncompressed tar. */
  diffId: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface PushedImage {
  /** Digest of the image manifest. */
  manifestDigest: string;
  manifestBytes: Buffer;
  mediaType: string;
  /** The image ID (config digest). */
  configDigest: string;
  config: Blob;
  layers: Layer[];
}

export const MediaTypes = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function blob(bytes: Buffer): Blob {
  return { digest: sha256(bytes), size: bytes.length, bytes };
}

/** One ustar header block for a regular file (or a directory when `data` is undefined). */
function tarHeader(name: string, size: number, dir: boolean): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s.slice(0, len), off, len, 'ascii');
  const octal = (n: number, off: number, len: number) => put(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len);
  put(name, 0, 100);
  octal(dir ? 0o755 : 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(1_700_000_000, 136, 12);
  h.fill(0x20, 148, 156);
  put(dir ? '5' : '0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** A tar archive of regular files (parent directories must be listed by the caller). */
export function tarOf(entries: ReadonlyArray<{ name: string; data?: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const dir = e.data === undefined;
    parts.push(tarHeader(e.name, dir ? 0 : e.data!.length, dir));
    if (!dir) {
      parts.push(e.data!);
      const pad = (512 - (e.data!.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const LAYER_TYPES: Record<ManifestFormat, Record<Compression, string>> = {
  oci: {
    gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
    zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
    none: 'application/vnd.oci.image.layer.v1.tar',
  },
  docker: {
    gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
    none: 'application/vnd.oci.image.layer.v1.tar',
  },
};

/** A layer from a tar, compressed as asked (gzip level 1: random data does not shrink anyway). */
export function layerOf(tar: Buffer, compression: Compression = 'gzip', format: ManifestFormat = 'oci'): Layer {
  const bytes =
    compression === 'gzip'
      ? gzipSync(tar, { level: 1 })
      : compression === 'zstd'
        ? zstdCompressSync(tar, { params: { [constants.ZSTD_c_compressionLevel]: 1 } })
        : tar;
  return { ...blob(bytes), mediaType: LAYER_TYPES[format][compression], diffId: sha256(tar) };
}

/** A layer holding one file `/<name>` of `size` random bytes. */
export function randomLayer(name: string, size: number, compression: Compression = 'gzip', format?: ManifestFormat) {
  return layerOf(tarOf([{ name, data: randomBytes(size) }]), compression, format);
}

export interface ImageSpec {
  layers: Layer[];
  platform?: Platform;
  format?: ManifestFormat;
  /** Written into the config instead of the layers' real diff IDs. */
  diffIds?: string[];
  cmd?: string[];
}

/** The config and manifest of an image, not pushed. */
export function imageDocuments(spec: ImageSpec): { config: Blob; manifest: Buffer; mediaType: string } {
  const format = spec.format ?? 'oci';
  const platform = spec.platform ?? hostPlatform();
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        created: '2024-01-01T00:00:00Z',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: spec.cmd ?? ['sh'] },
        rootfs: { type: 'layers', diff_ids: spec.diffIds ?? spec.layers.map((l) => l.diffId) },
        history: spec.layers.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'skiff test' })),
      }),
    ),
  );
  const mediaType = format === 'oci' ? MediaTypes.OciManifest : MediaTypes.DockerManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: format === 'oci' ? MediaTypes.OciConfig : MediaTypes.DockerConfig,
        digest: config.digest,
        size: config.size,
      },
      layers: spec.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return { config, manifest, mediaType };
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** The platform skiffd pulls by default on this machine. */
export function hostPlatform(): Platform {
  const architecture = GO_ARCH[process.arch] ?? process.arch;
  return architecture === 'arm64' ? { os: 'linux', architecture, variant: 'v8' } : { os: 'linux', architecture };
}

/** A platform that is not the host's (for multi-platform indexes). */
export function foreignPlatform(): Platform {
  return process.arch === 's390x' ? { os: 'linux', architecture: 'ppc64le' } : { os: 'linux', architecture: 's390x' };
}

async function check(res: Response, what: string, ok: number[]): Promise<Response> {
  if (!ok.includes(res.status)) {
    throw new Error(`${what}: registry answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  }
  return res;
}

/** Uploads one blob (monolithic POST + PUT); skipped when the registry has it. */
export async function pushBlob(registry: string, repo: string, b: Blob): Promise<void> {
  const base = `http://${registry}/v2/${repo}/blobs`;
  const head = await fetch(`${base}/${b.digest}`, { method: 'HEAD' });
  if (head.status === 200) return;
  const start = await check(await fetch(`${base}/uploads/`, { method: 'POST' }), `start upload of ${b.digest}`, [202]);
  const location = new URL(start.headers.get('location') ?? '', `http://${registry}`);
  location.searchParams.set('digest', b.digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) },
    body: b.bytes,
  });
  await check(put, `upload of ${b.digest}`, [201]);
}

/** PUTs a manifest (or index) under `reference` (a tag or its digest); returns its digest. */
export async function pushManifest(
  registry: string,
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
): Promise<string> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  await check(res, `manifest ${repo}:${reference}`, [201]);
  return sha256(bytes);
}

/** Pushes layers, config and manifest; tags the manifest `tag` unless it is undefined. */
export async function pushImageSpec(
  registry: string,
  repo: string,
  tag: string | undefined,
  spec: ImageSpec,
): Promise<PushedImage> {
  const { config, manifest, mediaType } = imageDocuments(spec);
  for (const b of [...spec.layers, config]) await pushBlob(registry, repo, b);
  const manifestDigest = await pushManifest(registry, repo, tag ?? sha256(manifest), manifest, mediaType);
  return {
    manifestDigest,
    manifestBytes: manifest,
    mediaType,
    configDigest: config.digest,
    config,
    layers: spec.layers,
  };
}

/** Pushes one image per platform and an index (OCI or Docker list) naming them, tagged `tag`. */
export async function pushIndex(
  registry: string,
  repo: string,
  tag: string,
  images: ReadonlyArray<ImageSpec & { platform: Platform }>,
  format: ManifestFormat = 'oci',
): Promise<{ indexDigest: string; images: PushedImage[] }> {
  const pushed: PushedImage[] = [];
  for (const spec of images) pushed.push(await pushImageSpec(registry, repo, undefined, { ...spec, format }));
  const mediaType = format === 'oci' ? MediaTypes.OciIndex : MediaTypes.DockerList;
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: pushed.map((p, i) => ({
        mediaType: p.mediaType,
        digest: p.manifestDigest,
        size: p.manifestBytes.length,
        platform: images[i]!.platform,
      })),
    }),
  );
  return { indexDigest: await pushManifest(registry, repo, tag, index, mediaType), images: pushed };
}
