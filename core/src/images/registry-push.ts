import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { digestOf, isSha256Digest } from '../content/digest.js';
import type { ContentStore, Descriptor } from '../plugin-api/content.js';
import { InvalidParameterError, NotFoundError, UpstreamError } from '../plugin-api/errors.js';
import type { RegistryClient, RepositorySession, Sent } from './registry-client.js';

export interface UploadOptions {
  signal?: AbortSignal;
  /** Bytes sent so far of `total`. */
  onProgress?: (current: number, total: number) => void;
}

export interface RegistryPusherOptions {
  /**
   * Blobs up to this size go up in one `PUT ?digest=`; larger ones in `PATCH` chunks of this
   * size and a final empty `PUT`. Default 64 MiB.
   */
  chunkSize?: number;
}

const MAX_BODY = 64 * 1024;

function header(res: Sent['res'], name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function drain(sent: Sent): Promise<void> {
  await sent.res.body.dump({ limit: MAX_BODY }).catch(() => {});
}

/**
 * The write side of the Distribution API for blobs and manifests (blobs from a ContentStore):
 * existence checks, cross-repository mounts, monolithic and chunked uploads, manifest PUT.
 */
export class RegistryPusher {
  private readonly chunkSize: number;

  constructor(
    private readonly client: RegistryClient,
    private readonly content: ContentStore,
    options: RegistryPusherOptions = {},
  ) {
    this.chunkSize = options.chunkSize ?? 64 * 1024 * 1024;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 1) {
      throw new InvalidParameterError(`invalid upload chunk size ${this.chunkSize}`);
    }
  }

  /** `HEAD /v2/<name>/blobs/<digest>`: whether the repository already has the blob. */
  async blobExists(session: RepositorySession, desc: Descriptor, signal?: AbortSignal): Promise<boolean> {
    checkDescriptor(desc);
    const sent = await this.client.request(session, 'HEAD', `/v2/${session.ref.path}/blobs/${desc.digest}`, {
      ...(signal ? { signal } : {}),
      accept: (s) => s === 404,
    });
    await drain(sent);
    return sent.res.statusCode >= 200 && sent.res.statusCode < 300;
  }

  /**
   * `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`: true when the registry linked
   * the blob from `from`; otherwise it opened an ordinary upload, whose URL is returned.
   */
  async mountBlob(
    session: RepositorySession,
    digest: string,
    from: string,
    signal?: AbortSignal,
  ): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const query = new URLSearchParams({ mount: digest, from });
    const sent = await this.client.request(session, 'POST', `/v2/${session.ref.path}/blobs/uploads/?${query}`, {
      headers: { 'content-length': '0' },
      ...(signal ? { signal } : {}),
    });
    await drain(sent);
    if (sent.res.statusCode === 201) return { mounted: true };
    return { mounted: false, location: uploadLocation(sent) };
  }

  /** `POST /v2/<name>/blobs/uploads/`: opens an upload session and returns its URL. */
  async startUpload(session: RepositorySession, signal?: AbortSignal): Promise<URL> {
    const sent = await this.client.request(session, 'POST', `/v2/${session.ref.path}/blobs/uploads/`, {
      headers: { 'content-length': '0' },
      ...(signal ? { signal } : {}),
    });
    await drain(sent);
    if (sent.res.statusCode !== 202) {
      throw new UpstreamError(`starting a blob upload: unexpected HTTP status ${sent.res.statusCode}`);
    }
    return uploadLocation(sent);
  }

  /**
   * Uploads a blob from the content store into an upload session (`location`, or a new one):
   * monolithic up to the chunk size, chunked above it. The registry checks the digest.
   */
  async uploadBlob(
    session: RepositorySession,
    desc: Descriptor,
    location: URL | undefined,
    opts: UploadOptions = {},
  ): Promise<void> {
    checkDescriptor(desc);
    const { signal } = opts;
    const info = await this.content.info(desc.digest).catch((err: unknown) => {
      if (err instanceof NotFoundError)
        throw new NotFoundError(`blob ${desc.digest} is not in the local content store`);
      throw err;
    });
    if (info.size !== desc.size) {
      throw new UpstreamError(`local blob ${desc.digest} has ${info.size} bytes, the manifest says ${desc.size}`);
    }
    let url = location ?? (await this.startUpload(session, signal));
    const file = this.content.path(desc.digest);
    let sentBytes = 0;
    const counted = (start: number, end: number) => () => {
      // A repeated request (after a 401) starts counting this range again.
      sentBytes = start;
      const body = desc.size === 0 ? Readable.from([]) : createReadStream(file, { start, end: end - 1 });
      return body.pipe(
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            sentBytes += chunk.length;
            opts.onProgress?.(sentBytes, desc.size);
            cb(null, chunk);
          },
        }),
      );
    };

    if (desc.size <= this.chunkSize) {
      const sent = await this.client.request(session, 'PUT', withDigest(url, desc.digest), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
        body: counted(0, desc.size),
        deadline: false,
        ...(signal ? { signal } : {}),
      });
      await drain(sent);
      return;
    }
    for (let offset = 0; offset < desc.size; offset += this.chunkSize) {
      const end = Math.min(desc.size, offset + this.chunkSize);
      const sent = await this.client.request(session, 'PATCH', url, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(end - offset),
          'content-range': `${offset}-${end - 1}`,
        },
        body: counted(offset, end),
        deadline: false,
        ...(signal ? { signal } : {}),
      });
      await drain(sent);
      const range = /^(?:bytes=)?0-(\d+)$/.exec(header(sent.res, 'range') ?? '');
      if (range && Number(range[1]) !== end - 1) {
        throw new UpstreamError(
          `blob ${desc.digest}: the registry holds ${Number(range[1]) + 1} bytes of the upload, expected ${end}`,
        );
      }
      url = uploadLocation(sent, url);
    }
    const sent = await this.client.request(session, 'PUT', withDigest(url, desc.digest), {
      headers: { 'content-length': '0' },
      ...(signal ? { signal } : {}),
    });
    await drain(sent);
  }

  /** `PUT /v2/<name>/manifests/<reference>`; returns the manifest's digest. */
  async putManifest(
    session: RepositorySession,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<string> {
    const digest = digestOf(bytes);
    const sent = await this.client.request(session, 'PUT', `/v2/${session.ref.path}/manifests/${reference}`, {
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
      ...(signal ? { signal } : {}),
    });
    await drain(sent);
    const echoed = header(sent.res, 'docker-content-digest');
    if (echoed !== undefined && echoed !== digest) {
      throw new UpstreamError(
        `the registry stored manifest ${reference} as ${echoed.slice(0, 80)}, expected ${digest}`,
      );
    }
    return digest;
  }
}

function checkDescriptor(desc: Descriptor): void {
  if (!isSha256Digest(desc?.digest)) throw new InvalidParameterError('invalid blob descriptor: bad digest');
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new InvalidParameterError(`invalid blob descriptor: bad size for ${desc.digest}`);
  }
}

/** The upload URL of a 202 answer (`Location`, relative to the request). */
function uploadLocation(sent: Sent, fallback?: URL): URL {
  const location = header(sent.res, 'location');
  if (!location) {
    if (fallback) return fallback;
    throw new UpstreamError('the registry opened a blob upload without a Location');
  }
  let url: URL;
  try {
    url = new URL(location, sent.url);
  } catch {
    throw new UpstreamError('the registry sent an invalid upload Location');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UpstreamError(`the registry sent a ${url.protocol} upload Location`);
  }
  return url;
}

function withDigest(url: URL, digest: string): URL {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u;
}
