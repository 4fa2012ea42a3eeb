import { isValidDigest } from '../content/digest.js';
import type { Descriptor } from '../plugin-api/content.js';
import { InvalidParameterError, UpstreamError } from '../plugin-api/errors.js';

export const MediaTypes = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

/** The Accept header of a manifest request: both image manifests and both kinds of list. */
export const MANIFEST_ACCEPT = [
  MediaTypes.DockerManifest,
  MediaTypes.DockerManifestList,
  MediaTypes.OciManifest,
  MediaTypes.OciIndex,
].join(', ');

const MANIFEST_TYPES = new Set<string>([MediaTypes.DockerManifest, MediaTypes.OciManifest]);
const INDEX_TYPES = new Set<string>([MediaTypes.DockerManifestList, MediaTypes.OciIndex]);
const SCHEMA1_TYPES = new Set<string>([MediaTypes.DockerSchema1, MediaTypes.DockerSchema1Signed]);
export const CONFIG_MEDIA_TYPES: ReadonlySet<string> = new Set([MediaTypes.DockerConfig, MediaTypes.OciConfig]);
export const LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.DockerLayer,
  MediaTypes.DockerForeignLayer,
  MediaTypes.OciLayer,
  MediaTypes.OciLayerGzip,
  MediaTypes.OciLayerZstd,
  MediaTypes.OciLayerNondistributable,
  MediaTypes.OciLayerNondistributableGzip,
  MediaTypes.OciLayerNondistributableZstd,
]);

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An image manifest (Docker schema 2 or OCI), validated. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

/** A manifest list or OCI index, validated. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

export type ManifestDocument =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

function invalid(what: string, why: string): never {
  throw new UpstreamError(`invalid manifest for ${what}: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkAnnotations(v: unknown, what: string, where: string): void {
  if (v === undefined) return;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    invalid(what, `${where}.annotations must map strings to strings`);
  }
}

/** Validates one descriptor's shape; the digest is checked syntactically (sha256/384/512). */
export function validateDescriptor(v: unknown, what: string, where: string): Descriptor {
  if (!isObject(v)) invalid(what, `${where} is not an object`);
  const { mediaType, digest, size, platform } = v;
  if (typeof mediaType !== 'string' || mediaType === '' || mediaType.length > 255) {
    invalid(what, `${where}.mediaType is missing or invalid`);
  }
  if (!isValidDigest(digest)) invalid(what, `${where}.digest is missing or invalid`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    invalid(what, `${where}.size is missing or invalid`);
  }
  checkAnnotations(v.annotations, what, where);
  if (platform !== undefined) {
    if (!isObject(platform) || typeof platform.os !== 'string' || typeof platform.architecture !== 'string') {
      invalid(what, `${where}.platform must have string os and architecture`);
    }
    if (platform.variant !== undefined && typeof platform.variant !== 'string') {
      invalid(what, `${where}.platform.variant must be a string`);
    }
  }
  return v as unknown as Descriptor;
}

function baseType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
}

function schema1Error(what: string): never {
  throw new UpstreamError(
    `${what} uses Docker Image manifest version 2, schema 1, which is not supported: ` +
      'push it again as an OCI or Docker schema 2 image',
  );
}

/**
 * Parses and validates a manifest or index. The kind is taken from the document's
 * `mediaType` (or the Content-Type when the document has none) and must agree with the
 * document's shape: a manifest with `manifests` or an index with `layers` is rejected, so the
 * same bytes can never be read as both (moby GHSA-xmmx-7jpf-fx42).
 */
export function parseManifestDocument(
  bytes: Uint8Array,
  contentType: string | undefined,
  what: string,
): ManifestDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    invalid(what, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) invalid(what, 'not a JSON object');
  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') invalid(what, 'mediaType is not a string');
  const header = baseType(contentType);
  if (doc.schemaVersion === 1 || SCHEMA1_TYPES.has(declared ?? '') || SCHEMA1_TYPES.has(header ?? ''))
    schema1Error(what);

  let mediaType = declared;
  if (mediaType === undefined) {
    if (header && (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header))) mediaType = header;
    else if (Array.isArray(doc.manifests)) mediaType = MediaTypes.OciIndex;
    else if (doc.config !== undefined) mediaType = MediaTypes.OciManifest;
    else invalid(what, `unknown manifest type (Content-Type ${header ?? 'missing'}, no mediaType)`);
  } else if (
    header &&
    header !== mediaType &&
    (MANIFEST_TYPES.has(header) || INDEX_TYPES.has(header)) &&
    (MANIFEST_TYPES.has(mediaType) || INDEX_TYPES.has(mediaType))
  ) {
    invalid(what, `mediaType ${mediaType} does not match the Content-Type ${header}`);
  }
  if (doc.schemaVersion !== 2) invalid(what, `unsupported schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  checkAnnotations(doc.annotations, what, 'manifest');

  if (MANIFEST_TYPES.has(mediaType)) {
    if (doc.manifests !== undefined) invalid(what, 'an image manifest must not have "manifests"');
    const config = validateDescriptor(doc.config, what, 'config');
    if (!CONFIG_MEDIA_TYPES.has(config.mediaType)) {
      throw new UpstreamError(`${what} is not a container image: unsupported config media type ${config.mediaType}`);
    }
    if (!Array.isArray(doc.layers)) invalid(what, 'layers is missing or not a list');
    const layers = doc.layers.map((l, i) => validateDescriptor(l, what, `layers[${i}]`));
    for (const l of layers) {
      if (!LAYER_MEDIA_TYPES.has(l.mediaType)) {
        throw new UpstreamError(`${what} has a layer of unsupported media type ${l.mediaType}`);
      }
    }
    return { kind: 'manifest', mediaType, manifest: doc as unknown as ImageManifest };
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (doc.layers !== undefined || doc.config !== undefined) {
      invalid(what, 'a manifest list must not have "layers" or "config"');
    }
    if (!Array.isArray(doc.manifests)) invalid(what, 'manifests is missing or not a list');
    for (const [i, m] of doc.manifests.entries()) validateDescriptor(m, what, `manifests[${i}]`);
    return { kind: 'index', mediaType, index: doc as unknown as ImageIndex };
  }
  throw new UpstreamError(`unsupported manifest media type ${JSON.stringify(mediaType.slice(0, 100))} for ${what}`);
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
};

/** containerd's platform normalisation: aliases and default variants. */
export function normalizePlatform(p: Platform): Required<Platform> {
  const os = p.os.toLowerCase();
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  if (arch === 'armhf' && !variant) variant = 'v7';
  if (arch === 'armel' && !variant) variant = 'v6';
  arch = ARCH_ALIASES[arch] ?? arch;
  if (arch === 'arm64' && (variant === '' || variant === '8')) variant = 'v8';
  if (arch === 'amd64' && variant === 'v1') variant = '';
  if (arch === 'arm' && variant === '') variant = 'v7';
  if (arch === 'arm' && /^\d$/.test(variant)) variant = `v${variant}`;
  return { os, architecture: arch, variant };
}

/** The platform skiff runs images for: linux on the host's CPU, in OCI's architecture names. */
export function defaultPlatform(): Platform {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips64el: 'mips64le',
  };
  const architecture = arch[process.arch] ?? process.arch;
  if (architecture === 'arm64') return { os: 'linux', architecture, variant: 'v8' };
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    return { os: 'linux', architecture, variant: `v${typeof v === 'string' || typeof v === 'number' ? v : 7}` };
  }
  return { os: 'linux', architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/**
 * Picks the image manifest for `want` from a list: exact variant first, then (for 32-bit arm)
 * older variants the CPU also runs, like containerd's `platforms.Only`.
 */
export function selectManifest(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  const w = normalizePlatform(want);
  const acceptable = [w.variant];
  if (w.architecture === 'arm') {
    for (let v = Number(w.variant.slice(1)) - 1; v >= 5; v--) acceptable.push(`v${v}`);
  }
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of manifests) {
    if (!MANIFEST_TYPES.has(d.mediaType) || !d.platform) continue;
    const p = normalizePlatform(d.platform);
    if (p.os !== w.os || p.architecture !== w.architecture) continue;
    const rank = acceptable.indexOf(p.variant);
    if (rank === -1) continue;
    if (!best || rank < best.rank) best = { d, rank };
  }
  return best?.d;
}

const KNOWN_OSES = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos']);
const PLATFORM_PART = /^[a-z0-9_-]{1,32}$/;

/**
 * Parses a `--platform` value like containerd's `platforms.Parse`: `os[/arch[/variant]]`, or a
 * lone architecture (the OS is then linux), or a lone OS (the host's architecture).
 */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !PLATFORM_PART.test(p))) {
    throw new InvalidParameterError(
      `"${text.slice(0, 100)}": unknown operating system or architecture: invalid argument`,
    );
  }
  if (parts.length === 1) {
    if (KNOWN_OSES.has(parts[0]!)) return { ...defaultPlatform(), os: parts[0]! };
    return normalizedPlatform({ os: 'linux', architecture: parts[0]! });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizedPlatform(variant ? { os, architecture, variant } : { os, architecture });
}

function normalizedPlatform(p: Platform): Platform {
  const n = normalizePlatform(p);
  return n.variant ? n : { os: n.os, architecture: n.architecture };
}
