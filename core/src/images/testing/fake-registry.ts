import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Descriptor } from '../../plugin-api/content.js';

/**
 * A small programmable Distribution registry on 127.0.0.1 for protocol and hostile-registry
 * tests (the real registry is used for the happy path). Its `route` hook lets a test answer
 * any request itself: hang, truncate, redirect, lie.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export const sha256 = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface LoggedRequest {
  method: string;
  path: string;
  authorization?: string;
  range?: string;
  accept?: string;
  tls: boolean;
}

export type FakeAuth =
  | { kind: 'bearer'; username?: string; password?: string; realm?: string }
  | { kind: 'basic'; username: string; password: string };

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface FakeRegistryOptions {
  auth?: FakeAuth;
  route?: Route;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** Answer Range requests with 206 (default true). */
  honourRange?: boolean;
}

export class FakeRegistry {
  readonly manifests = new Map<string, { body: Buffer; type: string; digestHeader?: string | null }>();
  readonly blobs = new Map<string, Buffer>();
  readonly log: LoggedRequest[] = [];
  readonly tokenRequests: { query: URLSearchParams; authorization?: string; method: string; body: string }[] = [];
  host = '';
  private server!: Server;

  constructor(private readonly options: FakeRegistryOptions = {}) {}

  async start(): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    };
    this.server = this.options.tls ? createHttpsServer(this.options.tls, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get scheme(): string {
    return this.options.tls ? 'https' : 'http';
  }

  addBlob(bytes: Buffer, mediaType = OCI_LAYER): Descriptor {
    const digest = sha256(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length };
  }

  /** Stores a manifest under its digest and the given tags; returns its digest. */
  addManifest(repo: string, tags: string[], doc: object | Buffer, type = OCI_MANIFEST): string {
    const body = Buffer.isBuffer(doc) ? doc : Buffer.from(JSON.stringify(doc));
    const digest = sha256(body);
    for (const ref of [digest, ...tags]) this.manifests.set(`${repo}/${ref}`, { body, type });
    return digest;
  }

  /** A one-layer OCI image; returns the manifest digest and the blobs' descriptors. */
  addImage(repo: string, tag: string, opts: { architecture?: string; layerSize?: number } = {}) {
    const layer = this.addBlob(randomBytes(opts.layerSize ?? 4096));
    const config = this.addBlob(
      Buffer.from(
        JSON.stringify({
          architecture: opts.architecture ?? 'amd64',
          os: 'linux',
          rootfs: { type: 'layers', diff_ids: [sha256('x')] },
        }),
      ),
      OCI_CONFIG,
    );
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] };
    const digest = this.addManifest(repo, tag ? [tag] : [], manifest);
    return { digest, config, layer, manifest, size: Buffer.byteLength(JSON.stringify(manifest)) };
  }

  private authorized(req: IncomingMessage, repo: string | undefined): boolean {
    const auth = this.options.auth;
    if (!auth) return true;
    const header = req.headers.authorization ?? '';
    if (auth.kind === 'basic') {
      return header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    }
    if (repo === undefined) return header.startsWith('Bearer tok-');
    return header === `Bearer tok-repository:${repo}:pull`;
  }

  private challenge(res: ServerResponse, repo: string | undefined): void {
    const auth = this.options.auth!;
    if (auth.kind === 'basic') {
      res.setHeader('www-authenticate', 'Basic realm="fake registry"');
    } else {
      const realm = auth.realm ?? `${this.scheme}://${this.host}/token`;
      const scope = repo ? `,scope="repository:${repo}:pull"` : '';
      res.setHeader('www-authenticate', `Bearer realm="${realm}",service="fake.registry"${scope}`);
    }
    sendError(res, 401, 'UNAUTHORIZED', 'authentication required');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `${this.scheme}://${this.host}`);
    this.log.push({
      method: req.method ?? '',
      path: url.pathname,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.accept ? { accept: req.headers.accept } : {}),
      tls: !!this.options.tls,
    });
    if (this.options.route && (await this.options.route(req, res, url))) return;

    if (url.pathname === '/token') return this.token(req, res, url);
    if (url.pathname === '/v2/') {
      if (!this.authorized(req, undefined)) return this.challenge(res, undefined);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return sendError(res, 404, 'NOT_FOUND', 'not found');
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    if (!this.authorized(req, repo)) return this.challenge(res, repo);
    if (kind === 'manifests') {
      const entry = this.manifests.get(`${repo}/${ref}`);
      if (!entry) return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.setHeader('content-type', entry.type);
      if (entry.digestHeader !== null) res.setHeader('docker-content-digest', entry.digestHeader ?? sha256(entry.body));
      res.setHeader('content-length', entry.body.length);
      res.end(entry.body);
      return;
    }
    const blob = this.blobs.get(ref);
    if (!blob) return sendError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && this.options.honourRange !== false) {
      const start = Number(range[1]);
      res.statusCode = 206;
      res.setHeader('content-range', `bytes ${start}-${blob.length - 1}/${blob.length}`);
      res.setHeader('content-length', blob.length - start);
      res.end(blob.subarray(start));
      return;
    }
    res.setHeader('content-length', blob.length);
    res.end(blob);
  }

  private async token(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    this.tokenRequests.push({
      query: url.searchParams,
      method: req.method ?? '',
      body,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    const auth = this.options.auth;
    if (auth?.kind === 'bearer' && auth.username) {
      const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.statusCode = 401;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
    }
    res.setHeader('content-type', 'application/json');
    const scope = url.searchParams.get('scope') ?? new URLSearchParams(body).get('scope') ?? '';
    res.end(JSON.stringify({ token: `tok-${scope}`, expires_in: 300 }));
  }
}

export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ errors: [{ code, message, detail: null }] }));
}
