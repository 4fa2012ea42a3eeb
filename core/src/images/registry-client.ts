import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, isSha256Digest, isValidDigest, matchesDigest } from '../content/digest.js';
import type { ContentStore, Descriptor } from '../plugin-api/content.js';
import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  SkiffError,
  UnauthorizedError,
  UpstreamError,
} from '../plugin-api/errors.js';
import {
  canonicalString,
  familiarName,
  familiarString,
  type ImageReference,
  parseReference,
  withDefaultTag,
} from './reference.js';
import {
  type AuthChallenge,
  basicAuthorization,
  type Credentials,
  credentialsOf,
  parseWwwAuthenticate,
  type RegistryAuth,
} from './registry-auth.js';
import {
  networkErrorMessage,
  parseRegistryErrors,
  RegistryUnavailableError,
  redactUrl,
  translateRegistryError,
} from './registry-errors.js';
import { InsecureRegistryPolicy, registryHost } from './registry-hosts.js';
import { RegistryAgents } from './registry-tls.js';
import { type HttpResponse, httpRequest } from './http-transport.js';
import {
  CONFIG_MEDIA_TYPES,
  defaultPlatform,
  formatPlatform,
  type ImageIndex,
  type ImageManifest,
  MANIFEST_ACCEPT,
  type ManifestDocument,
  type Platform,
  parseManifestDocument,
  selectManifest,
} from './registry-manifest.js';

export type { RegistryAuth } from './registry-auth.js';
export type { ImageIndex, ImageManifest, Platform } from './registry-manifest.js';

export interface RegistryClientOptions {
  /** `host[:port]` names or CIDRs reachable over plain HTTP / unverified TLS (loopback always is). */
  insecureRegistries?: readonly string[];
  userAgent?: string;
  /** How long the registry may stay silent: connect, response headers, or between body chunks. Default 30 s. */
  timeoutMs?: number;
  /** How many times a blob download is resumed after a network failure. Default 3. */
  blobRetries?: number;
  /** Largest manifest accepted. Default 4 MiB. */
  maxManifestBytes?: number;
  /** docker's certs.d: `<certsDir>/<host[:port]>/{*.crt,*.cert,*.key}`. Unset: no per-registry TLS files. */
  certsDir?: string;
}

export interface ResolveOptions {
  platform?: Platform;
  auth?: RegistryAuth;
  signal?: AbortSignal;
}

export interface ResolvedImage {
  /** Digest of the platform's image manifest. */
  manifestDigest: string;
  manifest: ImageManifest;
  /** The exact bytes the digest covers. */
  manifestBytes: Buffer;
  mediaType: string;
  /** Set when the reference named a manifest list / index. */
  indexDigest?: string;
  index?: ImageIndex;
  indexBytes?: Buffer;
  indexMediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface FetchBlobOptions {
  signal?: AbortSignal;
  /** Resume from this byte (a Range request; a registry that ignores Range is handled too). */
  offset?: number;
  auth?: RegistryAuth;
}

export interface PullBlobOptions {
  signal?: AbortSignal;
  auth?: RegistryAuth;
  onProgress?: (current: number, total: number) => void;
  /** Also hands the bytes to `tee` as they arrive (see {@link BlobTee}). */
  tee?: BlobTee;
}

/**
 * Receives a blob's bytes while it downloads, so work such as unpacking overlaps the download.
 * Exactly one of `end` or `abandon` is called, and at most once.
 */
export interface BlobTee {
  /** The next bytes, in order from byte 0; the download waits for the returned promise (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** All bytes were handed over, and the blob was verified and committed to the store. */
  end(): void;
  /**
   * The bytes handed over so far must not be used: the blob was already stored, another
   * download had it, the ingest resumed or restarted, or the download failed.
   */
  abandon(): void;
}

interface Session {
  ref: ImageReference;
  host: string;
  credentials: Credentials;
  credentialsId: string;
  /** Token scopes, e.g. `repository:library/busybox:pull`. */
  scopes: string[];
  label: { familiarName: string; familiarString: string };
}

/** An authorized conversation with one repository (see {@link RegistryClient.repository}). */
export type RepositorySession = Readonly<Session>;

export interface Sent {
  res: HttpResponse;
  url: URL;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request body; a function is called again when the request has to be repeated after a 401. */
export type RequestBody = string | Buffer | (() => Readable | Buffer);

export interface RepositoryRequestOptions {
  headers?: Record<string, string>;
  body?: RequestBody;
  signal?: AbortSignal;
  /** Abort when no complete answer came within the client's timeout (default true; false for streamed bodies). */
  deadline?: boolean;
  /** Statuses handed back to the caller instead of becoming errors (2xx always are). */
  accept?: (status: number) => boolean;
}

/** The outcome of `docker login` against a registry. */
export interface LoginResult {
  /** A refresh token the registry's token server issued for `offline_token=true`, or ''. */
  identityToken: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const MAX_ERROR_BODY = 64 * 1024;
const MAX_TOKEN_BODY = 1024 * 1024;

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A Distribution (OCI) v2 registry client for pulls: endpoint selection like dockerd's
 * (HTTPS, then HTTP for insecure registries), anonymous → Bearer/Basic auth on 401, manifests
 * verified against their digest, blobs streamed (resumable) into a ContentStore.
 */
export class RegistryClient {
  private readonly policy: InsecureRegistryPolicy;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly blobRetries: number;
  private readonly maxManifestBytes: number;
  private readonly agents: RegistryAgents;
  /** host → base URL (`https://host`) that answered the /v2/ ping. */
  private readonly endpoints = new Map<string, string>();
  /** host → the last auth challenge it sent, to authorize later requests up front. */
  private readonly challenges = new Map<string, AuthChallenge>();
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private readonly inflight = new WeakMap<ContentStore, Map<string, Promise<{ alreadyExists: boolean }>>>();

  constructor(options: RegistryClientOptions = {}) {
    this.policy = new InsecureRegistryPolicy(options.insecureRegistries ?? []);
    this.userAgent = options.userAgent ?? 'skiff';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.blobRetries = options.blobRetries ?? 3;
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.agents = new RegistryAgents(options.certsDir ? { certsDir: options.certsDir } : {});
  }

  /**
   * Loads the system CAs (~200 ms) ahead of the first pull; the daemon calls this once it is
   * serving, so neither start-up nor the first pull waits for it.
   */
  /** Closes idle connections. */
  async close(): Promise<void> {
    this.agents.close();
  }

  isInsecure(hostPort: string): boolean {
    return this.policy.isInsecure(hostPort);
  }

  /**
   * Resolves a reference (tag defaults to `latest`) to the image manifest for `platform`,
   * following a manifest list / index. Every document is checked against its digest.
   */
  async resolve(ref: ImageReference, options: ResolveOptions = {}): Promise<ResolvedImage> {
    const session = this.session(withDefaultTag(ref), options.auth);
    const { signal } = options;
    const platform = options.platform ?? defaultPlatform();
    const what = `manifest for ${session.label.familiarString}`;
    const top = await this.fetchManifest(
      session,
      session.ref.digest ?? session.ref.tag!,
      session.ref.digest ? { digest: session.ref.digest } : undefined,
      what,
      signal,
    );
    if (top.doc.kind === 'manifest') {
      return this.resolved(top.doc, top.digest, top.bytes, what);
    }
    const chosen = selectManifest(top.doc.index.manifests, platform);
    if (!chosen) {
      throw new NotFoundError(`no matching manifest for ${formatPlatform(platform)} in the manifest list entries`);
    }
    const childWhat = `manifest ${chosen.digest} for ${session.label.familiarString}`;
    const child = await this.fetchManifest(
      session,
      chosen.digest,
      { digest: chosen.digest, size: chosen.size },
      childWhat,
      signal,
    );
    if (child.doc.kind !== 'manifest') {
      throw new UpstreamError(`${childWhat}: a manifest list inside a manifest list is not supported`);
    }
    return {
      ...this.resolved(child.doc, child.digest, child.bytes, childWhat),
      indexDigest: top.digest,
      index: top.doc.index,
      indexBytes: top.bytes,
      indexMediaType: top.doc.mediaType,
    };
  }

  private resolved(
    doc: Extract<ManifestDocument, { kind: 'manifest' }>,
    digest: string,
    bytes: Buffer,
    what: string,
  ): ResolvedImage {
    const { manifest } = doc;
    for (const d of [manifest.config, ...manifest.layers]) {
      if (!isSha256Digest(d.digest))
        throw new UpstreamError(`${what}: unsupported blob digest ${d.digest.slice(0, 80)}`);
    }
    return {
      manifestDigest: digest,
      manifest,
      manifestBytes: bytes,
      mediaType: doc.mediaType,
      config: manifest.config,
      layers: manifest.layers,
    };
  }

  /**
   * Streams a blob from the registry. The stream yields exactly `size - offset` bytes or
   * fails; the digest is not checked here (the content store does that at commit).
   */
  async fetchBlob(ref: ImageReference, descriptor: Descriptor, options: FetchBlobOptions = {}): Promise<Readable> {
    const { signal } = options;
    const offset = options.offset ?? 0;
    if (!isValidDigest(descriptor?.digest)) throw new InvalidParameterError('invalid blob descriptor: bad digest');
    const { digest, size } = descriptor;
    if (!Number.isSafeInteger(size) || size < 0)
      throw new InvalidParameterError(`invalid blob descriptor: bad size for ${digest}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
      throw new InvalidParameterError(`invalid offset ${offset} for blob ${digest} of ${size} bytes`);
    }
    if (offset === size) return Readable.from([]);
    const session = this.session(ref, options.auth);
    const { res, url } = await this.registryRequest(session, 'GET', `/v2/${session.ref.path}/blobs/${digest}`, {
      what: 'blob',
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      signal,
      deadline: false,
    });
    let skip = 0;
    if (offset > 0 && res.statusCode === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(res, 'content-range') ?? '');
      if (!m || Number(m[1]) !== offset) {
        discard(res);
        throw new UpstreamError(
          `blob ${digest}: registry answered a range request from ${offset} with ${header(res, 'content-range') ?? 'no Content-Range'}`,
        );
      }
    } else if (res.statusCode === 200) {
      skip = offset;
    } else {
      discard(res);
      throw new UpstreamError(`blob ${digest}: unexpected HTTP status ${res.statusCode}`);
    }
    const expect = size - offset;
    const length = header(res, 'content-length');
    if (length !== undefined && Number(length) !== expect + skip) {
      discard(res);
      throw new UpstreamError(
        `blob ${digest}: registry sent Content-Length ${length.slice(0, 20)}, expected ${expect + skip}`,
      );
    }
    const timeoutMs = this.timeoutMs;
    async function* window(): AsyncGenerator<Buffer> {
      let toSkip = skip;
      let passed = 0;
      try {
        for await (const raw of res.body) {
          let chunk = raw as Buffer;
          if (toSkip > 0) {
            if (chunk.length <= toSkip) {
              toSkip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(toSkip);
            toSkip = 0;
          }
          passed += chunk.length;
          if (passed > expect)
            throw new UpstreamError(`blob ${digest}: registry sent more than the ${size} bytes expected`);
          yield chunk;
        }
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof SkiffError) throw err;
        throw new RegistryUnavailableError(networkErrorMessage('GET', url.href, err, timeoutMs), { cause: err });
      }
      if (passed < expect) {
        throw new RegistryUnavailableError(`blob ${digest}: unexpected EOF after ${offset + passed} of ${size} bytes`);
      }
    }
    return Readable.from(window(), { objectMode: false });
  }

  /**
   * Downloads a blob into `store` (skipped when present), resuming an interrupted ingest and
   * retrying network failures; the store verifies size and digest before commit.
   */
  async pullBlob(
    ref: ImageReference,
    desc: Descriptor,
    store: ContentStore,
    options: PullBlobOptions = {},
  ): Promise<{ alreadyExists: boolean }> {
    if (!isSha256Digest(desc?.digest)) {
      options.tee?.abandon();
      throw new InvalidParameterError('invalid blob descriptor: bad digest');
    }
    try {
      return await this.pullBlobShared(ref, desc, store, options);
    } finally {
      options.tee?.abandon(); // a no-op after end()
    }
  }

  private async pullBlobShared(
    ref: ImageReference,
    desc: Descriptor,
    store: ContentStore,
    options: PullBlobOptions,
  ): Promise<{ alreadyExists: boolean }> {
    let perStore = this.inflight.get(store);
    if (!perStore) {
      perStore = new Map();
      this.inflight.set(store, perStore);
    }
    for (;;) {
      const running = perStore.get(desc.digest);
      if (!running) break;
      try {
        const result = await running;
        options.onProgress?.(desc.size, desc.size);
        return result;
      } catch {
        // The other download failed (perhaps its client went away): try ourselves.
        if (options.signal?.aborted) throw options.signal.reason;
      }
    }
    const own = this.pullBlobOnce(ref, desc, store, options);
    perStore.set(desc.digest, own);
    try {
      return await own;
    } finally {
      if (perStore.get(desc.digest) === own) perStore.delete(desc.digest);
    }
  }

  private async pullBlobOnce(
    ref: ImageReference,
    desc: Descriptor,
    store: ContentStore,
    options: PullBlobOptions,
  ): Promise<{ alreadyExists: boolean }> {
    const { signal, onProgress } = options;
    let { tee } = options;
    const { digest, size } = desc;
    const dropTee = () => {
      tee?.abandon();
      tee = undefined;
    };
    for (let attempt = 0; ; attempt++) {
      if (await store.has(digest)) {
        onProgress?.(size, size);
        return { alreadyExists: attempt === 0 };
      }
      let writer: Awaited<ReturnType<ContentStore['writer']>>;
      try {
        writer = await store.writer(`pull-${digest}`, { digest, size });
      } catch (err) {
        if (err instanceof ConflictError && (await store.has(digest))) return { alreadyExists: attempt === 0 };
        throw err;
      }
      const resumedFrom = writer.offset;
      if (resumedFrom > 0) dropTee();
      try {
        if (writer.offset > 0) onProgress?.(writer.offset, size);
        if (writer.offset < size) {
          const stream = await this.fetchBlob(ref, desc, { offset: writer.offset, ...pick(options, 'signal', 'auth') });
          for await (const chunk of stream) {
            await writer.write(chunk as Buffer);
            if (tee) await tee.write(chunk as Buffer);
            onProgress?.(writer.offset, size);
          }
        }
      } catch (err) {
        dropTee();
        await writer.close().catch(() => {});
        if (signal?.aborted) throw signal.reason;
        if (err instanceof RegistryUnavailableError && attempt < this.blobRetries) {
          await sleep(200 * (attempt + 1), undefined, signal ? { signal } : {});
          continue;
        }
        throw err;
      }
      try {
        await writer.commit(size, digest);
      } catch (err) {
        dropTee();
        // A resumed ingest may hold a bad prefix; the store dropped it, so start once more from zero.
        if (err instanceof InvalidParameterError && resumedFrom > 0 && attempt < this.blobRetries) continue;
        if (err instanceof InvalidParameterError) {
          const kind = CONFIG_MEDIA_TYPES.has(desc.mediaType) ? 'image config' : 'filesystem layer';
          throw new UpstreamError(`${kind} verification failed for digest ${digest}`, { cause: err });
        }
        throw err;
      }
      tee?.end();
      return { alreadyExists: false };
    }
  }

  // ---- sessions, endpoints, auth ------------------------------------------------------------

  private session(ref: ImageReference, auth: RegistryAuth | undefined, scopes?: string[]): Session {
    // Re-parse so a hand-built reference can never smuggle `..` or `?` into a URL.
    const checked = parseReference(canonicalString(ref));
    if (checked.domain !== ref.domain || checked.path !== ref.path) {
      throw new InvalidParameterError(`invalid reference ${canonicalString(ref).slice(0, 300)}`);
    }
    const credentials = credentialsOf(auth);
    return {
      ref: checked,
      host: registryHost(checked.domain),
      credentials,
      credentialsId: credentials.kind === 'none' ? '' : digestOf(Buffer.from(JSON.stringify(credentials))),
      scopes: scopes ?? [`repository:${checked.path}:pull`],
      label: { familiarName: familiarName(checked), familiarString: familiarString(checked) },
    };
  }

  /**
   * Opens a session on `ref`'s repository for push-side requests: the token asks for
   * `pull,push` on it and `pull` on every repository in `mountFrom` (cross-repository mounts).
   */
  repository(
    ref: ImageReference,
    auth: RegistryAuth | undefined,
    opts: { push?: boolean; mountFrom?: readonly string[] } = {},
  ): RepositorySession {
    const path = parseReference(canonicalString(ref)).path;
    const scopes = [`repository:${path}:${opts.push ? 'pull,push' : 'pull'}`];
    for (const from of opts.mountFrom ?? []) {
      if (from !== path && /^[a-z0-9]+(?:[._-][a-z0-9]+|__)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+|__)*)*$/.test(from)) {
        scopes.push(`repository:${from}:pull`);
      }
    }
    return this.session(ref, auth, scopes);
  }

  /**
   * One authorized request on a repository session: `target` is a path (`/v2/…`) or an
   * upload URL the registry handed out. Answers one 401 challenge; statuses other than 2xx
   * (and those `accept` lets through) become typed errors. The caller reads or dumps the body.
   */
  async request(
    session: RepositorySession,
    method: HttpMethod,
    target: string | URL,
    opts: RepositoryRequestOptions = {},
  ): Promise<Sent> {
    return this.registryRequest(session, method, target, {
      what: 'blob',
      headers: opts.headers ?? {},
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      signal: opts.signal,
      deadline: opts.deadline ?? true,
      ...(opts.accept ? { accept: opts.accept } : {}),
    });
  }

  /**
   * `docker login`: checks `auth` against the registry named by `auth.serveraddress` (ping,
   * answer the challenge, `GET /v2/` again). Wrong credentials are an UnauthorizedError
   * phrased as dockerd's.
   */
  async login(auth: RegistryAuth, signal?: AbortSignal): Promise<LoginResult> {
    const host = loginHost(auth.serveraddress);
    const credentials = credentialsOf(auth);
    const session: Session = {
      ref: { domain: host, path: 'login' },
      host,
      credentials,
      credentialsId: credentials.kind === 'none' ? '' : digestOf(Buffer.from(JSON.stringify(credentials))),
      scopes: [],
      label: { familiarName: host, familiarString: host },
    };
    this.endpoints.delete(host);
    const base = await this.endpoint(host, signal);
    const url = new URL(`${base}/v2/`);
    const challenge = this.challenges.get(host);
    let authorization: string | undefined;
    let identityToken = '';
    if (challenge?.scheme === 'basic' && credentials.kind === 'basic') {
      authorization = basicAuthorization(credentials.username, credentials.password);
    } else if (challenge?.scheme === 'bearer' && credentials.kind !== 'none') {
      if (credentials.kind === 'bearer') {
        authorization = `Bearer ${credentials.token}`;
      } else {
        try {
          const got = await this.fetchToken(session, challenge, signal, { offline: true });
          authorization = `Bearer ${got.token}`;
          identityToken = got.refreshToken ?? '';
        } catch (err) {
          if (err instanceof TokenDeniedError) {
            throw new UnauthorizedError(`Get "${url.href}": unauthorized: ${err.details}`, { cause: err });
          }
          throw err;
        }
      }
    }
    const res = await this.send(url, {
      method: 'GET',
      headers: authorization ? { authorization } : {},
      signal,
      deadline: true,
    });
    await res.body.dump({ limit: MAX_ERROR_BODY }).catch(() => {});
    if (res.statusCode === 200) return { identityToken };
    const message = `login attempt to ${url.href} failed with status: ${res.statusCode} ${statusText(res.statusCode)}`;
    throw res.statusCode === 401 ? new UnauthorizedError(message) : new UpstreamError(message);
  }

  /** Picks the scheme for a host by pinging `/v2/`: HTTPS, then HTTP if the host is insecure. */
  private async endpoint(host: string, signal: AbortSignal | undefined): Promise<string> {
    const known = this.endpoints.get(host);
    if (known) return known;
    let lastError: unknown;
    for (const scheme of this.policy.schemes(host)) {
      const base = `${scheme}://${host}`;
      const url = new URL(`${base}/v2/`);
      try {
        const res = await this.send(url, { method: 'GET', headers: {}, signal, deadline: true });
        await res.body.dump({ limit: MAX_ERROR_BODY }).catch(() => {});
        if (res.statusCode === 200 || res.statusCode === 401 || res.statusCode === 403) {
          const challenge = this.pickChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
          if (challenge) this.challenges.set(host, challenge);
          else this.challenges.delete(host);
          this.endpoints.set(host, base);
          return base;
        }
        lastError = new UpstreamError(
          `Get "${url.href}": unexpected HTTP status ${res.statusCode}: not a Distribution v2 registry`,
        );
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        // A broken certs.d entry is the admin's to fix: do not hide it behind the HTTP fallback.
        if (err instanceof InvalidParameterError) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  private pickChallenge(challenges: AuthChallenge[]): AuthChallenge | undefined {
    return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
  }

  /** The Authorization header for a session, from a challenge seen earlier (undefined when anonymous). */
  private async authorization(
    session: Session,
    challenge: AuthChallenge | undefined,
    signal: AbortSignal | undefined,
    refresh: boolean,
  ): Promise<string | undefined> {
    if (!challenge) return undefined;
    const creds = session.credentials;
    if (challenge.scheme === 'basic') {
      return creds.kind === 'basic' ? basicAuthorization(creds.username, creds.password) : undefined;
    }
    if (creds.kind === 'bearer') return `Bearer ${creds.token}`;
    return `Bearer ${await this.token(session, challenge, signal, refresh)}`;
  }

  /** A bearer token for the session's scopes, cached per realm, service, scopes and credentials. */
  private async token(session: Session, challenge: AuthChallenge, signal: AbortSignal | undefined, refresh: boolean) {
    const key = JSON.stringify([
      challenge.params.realm ?? '',
      challenge.params.service ?? '',
      session.scopes,
      session.credentialsId,
    ]);
    const cached = this.tokens.get(key);
    if (!refresh && cached && cached.expiresAt > Date.now()) return cached.token;
    let got: { token: string; expiresIn: number };
    try {
      got = await this.fetchToken(session, challenge, signal, { offline: false });
    } catch (err) {
      if (err instanceof TokenDeniedError) throw new UpstreamError(err.message, { cause: err });
      throw err;
    }
    const now = Date.now();
    if (this.tokens.size > 1000) {
      for (const [k, v] of this.tokens) if (v.expiresAt <= now) this.tokens.delete(k);
    }
    this.tokens.set(key, { token: got.token, expiresAt: now + Math.max(got.expiresIn - 10, 1) * 1000 });
    return got.token;
  }

  /** Asks the challenge's token realm for a token (docker's token and OAuth2 refresh-token flows). */
  private async fetchToken(
    session: Session,
    challenge: AuthChallenge,
    signal: AbortSignal | undefined,
    opts: { offline: boolean },
  ): Promise<{ token: string; expiresIn: number; refreshToken?: string }> {
    const realmText = challenge.params.realm;
    if (!realmText) throw new UpstreamError(`registry ${session.host} sent a Bearer challenge without a realm`);
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new UpstreamError(`registry ${session.host} sent an invalid token realm`);
    }
    // Credentials only travel over TLS, or in the clear to a realm the admin marked insecure.
    if (!(realm.protocol === 'https:' || (realm.protocol === 'http:' && this.policy.isInsecure(realm.host)))) {
      throw new UpstreamError(`refusing token realm ${redactUrl(realm.href)}: it must be https`);
    }
    const service = challenge.params.service;
    const creds = session.credentials;
    const url = new URL(realm);
    const headers: Record<string, string> = {};
    let method: 'GET' | 'POST' = 'GET';
    let body: string | undefined;
    if (creds.kind === 'refresh') {
      method = 'POST';
      headers['content-type'] = 'application/x-www-form-urlencoded';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, client_id: 'skiff' });
      if (service) form.set('service', service);
      if (session.scopes.length > 0) form.set('scope', session.scopes.join(' '));
      if (opts.offline) form.set('access_type', 'offline');
      body = form.toString();
    } else {
      if (service) url.searchParams.set('service', service);
      for (const scope of session.scopes) url.searchParams.append('scope', scope);
      if (creds.kind === 'basic') {
        headers.authorization = basicAuthorization(creds.username, creds.password);
        url.searchParams.set('account', creds.username);
        if (opts.offline) {
          url.searchParams.set('offline_token', 'true');
          url.searchParams.set('client_id', 'skiff');
        }
      }
    }
    const res = await this.send(url, {
      method,
      headers,
      signal,
      deadline: true,
      ...(body !== undefined ? { body } : {}),
    });
    const text = (await this.readBody(res, MAX_TOKEN_BODY, url, signal, 'token response', true)).toString('utf8');
    if (res.statusCode !== 200) {
      let details = '';
      try {
        const j = JSON.parse(text) as { details?: unknown; error_description?: unknown };
        details =
          typeof j.details === 'string'
            ? j.details
            : typeof j.error_description === 'string'
              ? j.error_description
              : '';
      } catch {}
      const registryErrors = parseRegistryErrors(text);
      if (!details && registryErrors[0]) details = registryErrors[0].message;
      details ||= 'authentication required';
      const where = `(${method} ${redactUrl(url.href)})`;
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new TokenDeniedError(`unauthorized: ${details} ${where}`, details);
      }
      throw new UpstreamError(`token request failed with HTTP ${res.statusCode}: ${details} ${where}`);
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; refresh_token?: unknown };
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UpstreamError(`token server ${realm.host} sent invalid JSON`);
    }
    const token = typeof parsed?.token === 'string' && parsed.token ? parsed.token : parsed?.access_token;
    if (typeof token !== 'string' || token === '' || token.length > 64 * 1024 || /[\s]/.test(token)) {
      throw new UpstreamError(`token server ${realm.host} sent no usable token`);
    }
    const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    const refreshToken =
      typeof parsed.refresh_token === 'string' && parsed.refresh_token.length <= 64 * 1024
        ? parsed.refresh_token
        : undefined;
    return { token, expiresIn, ...(refreshToken ? { refreshToken } : {}) };
  }

  // ---- HTTP --------------------------------------------------------------------------------

  /**
   * A request on the registry API with auth: anonymous (or with a token from an earlier
   * challenge), then once more after answering a 401 challenge. Non-2xx answers become typed
   * errors unless `accept` lets them through.
   */
  private async registryRequest(
    session: Session,
    method: HttpMethod,
    target: string | URL,
    opts: {
      what: 'manifest' | 'blob';
      headers: Record<string, string>;
      body?: RequestBody;
      signal: AbortSignal | undefined;
      deadline: boolean;
      accept?: (status: number) => boolean;
    },
  ): Promise<Sent> {
    const base = await this.endpoint(session.host, opts.signal);
    const url = typeof target === 'string' ? new URL(base + target) : target;
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new UpstreamError(`registry ${session.host} sent a ${url.protocol} URL`);
    }
    if (url.protocol === 'http:' && !this.policy.isInsecure(url.host)) {
      throw new UpstreamError(`refusing plain HTTP ${redactUrl(url.href)}`);
    }
    let authorization = await this.authorization(session, this.challenges.get(session.host), opts.signal, false);
    for (let attempt = 0; ; attempt++) {
      const body = typeof opts.body === 'function' ? opts.body() : opts.body;
      const sent = await this.sendFollowing(url, base, authorization, {
        method,
        headers: opts.headers,
        ...(body !== undefined ? { body } : {}),
        signal: opts.signal,
        deadline: opts.deadline,
      });
      const { res } = sent;
      if ((res.statusCode >= 200 && res.statusCode < 300) || opts.accept?.(res.statusCode)) return sent;
      const text =
        method === 'HEAD'
          ? ''
          : (await this.readBody(res, MAX_ERROR_BODY, sent.url, opts.signal, 'error response', true)).toString('utf8');
      if (method === 'HEAD') discard(res);
      if (res.statusCode === 401 && attempt === 0 && sent.url.origin === new URL(base).origin) {
        const challenge = this.pickChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
        if (challenge) {
          this.challenges.set(session.host, challenge);
          const next = await this.authorization(session, challenge, opts.signal, authorization !== undefined);
          if (next !== undefined && next !== authorization) {
            authorization = next;
            continue;
          }
        }
      }
      throw translateRegistryError(res.statusCode, text, { ...session.label, what: opts.what });
    }
  }

  /**
   * Sends a request, following redirects of GET and HEAD by hand so credentials (Authorization,
   * and never cookies: none are kept) do not leave the registry's origin.
   */
  private async sendFollowing(
    target: URL,
    base: string,
    authorization: string | undefined,
    init: {
      method: HttpMethod;
      headers: Record<string, string>;
      body?: string | Buffer | Readable;
      signal: AbortSignal | undefined;
      deadline: boolean;
    },
  ): Promise<Sent> {
    const origin = new URL(base).origin;
    const follows = init.method === 'GET' || init.method === 'HEAD';
    let url = target;
    for (let hop = 0; ; hop++) {
      const headers = { ...init.headers };
      if (authorization && url.origin === origin) headers.authorization = authorization;
      const res = await this.send(url, {
        method: init.method,
        headers,
        signal: init.signal,
        deadline: init.deadline,
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
      if (!follows || !REDIRECTS.has(res.statusCode)) return { res, url };
      await res.body.dump({ limit: MAX_ERROR_BODY }).catch(() => {});
      const location = header(res, 'location');
      if (!location) throw new UpstreamError(`redirect from ${redactUrl(url.href)} without a Location`);
      if (hop >= MAX_REDIRECTS) throw new UpstreamError(`stopped after ${MAX_REDIRECTS} redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new UpstreamError(`redirect from ${redactUrl(url.href)} to an invalid URL`);
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new UpstreamError(`refusing redirect to ${next.protocol} URL`);
      }
      if (next.protocol === 'http:' && !this.policy.isInsecure(next.host)) {
        throw new UpstreamError(`refusing redirect to plain HTTP ${redactUrl(next.href)}`);
      }
      url = next;
    }
  }

  private async send(
    url: URL,
    init: {
      method: HttpMethod;
      headers: Record<string, string>;
      signal: AbortSignal | undefined;
      deadline: boolean;
      body?: string | Buffer | Readable;
    },
  ): Promise<HttpResponse> {
    const signals: AbortSignal[] = [];
    if (init.signal) signals.push(init.signal);
    if (init.deadline) signals.push(AbortSignal.timeout(this.timeoutMs));
    const agent = await this.agents.agentFor(url, this.policy.isInsecure(url.host));
    try {
      return await httpRequest(url, {
        method: init.method,
        headers: { 'user-agent': this.userAgent, ...init.headers },
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
        agent,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason;
      throw new RegistryUnavailableError(networkErrorMessage(init.method, url.href, err, this.timeoutMs), {
        cause: err,
      });
    }
  }

  /** Reads a whole (small) body with a hard cap. */
  private async readBody(
    res: HttpResponse,
    limit: number,
    url: URL,
    signal: AbortSignal | undefined,
    what: string,
    truncate = false,
  ): Promise<Buffer> {
    const length = Number(header(res, 'content-length'));
    if (!truncate && Number.isFinite(length) && length > limit) {
      discard(res);
      throw new UpstreamError(`${what} from ${redactUrl(url.href)} is too large (${length} bytes, limit ${limit})`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        if (total + buf.length > limit) {
          if (truncate) {
            chunks.push(buf.subarray(0, limit - total));
            total = limit;
            discard(res);
            break;
          }
          discard(res);
          throw new UpstreamError(`${what} from ${redactUrl(url.href)} is too large (over ${limit} bytes)`);
        }
        chunks.push(buf);
        total += buf.length;
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof SkiffError) throw err;
      throw new RegistryUnavailableError(networkErrorMessage('GET', url.href, err, this.timeoutMs), { cause: err });
    }
    return Buffer.concat(chunks, total);
  }

  private async fetchManifest(
    session: Session,
    reference: string,
    expected: { digest: string; size?: number } | undefined,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<{ digest: string; bytes: Buffer; doc: ManifestDocument }> {
    const { res, url } = await this.registryRequest(session, 'GET', `/v2/${session.ref.path}/manifests/${reference}`, {
      what: 'manifest',
      headers: { accept: MANIFEST_ACCEPT },
      signal,
      deadline: true,
    });
    const bytes = await this.readBody(res, this.maxManifestBytes, url, signal, what);
    const headerDigest = header(res, 'docker-content-digest');
    let digest: string;
    if (expected) {
      if (!matchesDigest(bytes, expected.digest))
        throw new UpstreamError(`manifest verification failed for digest ${expected.digest}`);
      digest = expected.digest;
    } else if (headerDigest !== undefined) {
      if (!isValidDigest(headerDigest))
        throw new UpstreamError(`${what}: registry sent an invalid Docker-Content-Digest`);
      if (!matchesDigest(bytes, headerDigest))
        throw new UpstreamError(`manifest verification failed for digest ${headerDigest}`);
      digest = headerDigest;
    } else {
      digest = digestOf(bytes);
    }
    if (expected?.size !== undefined && bytes.length !== expected.size) {
      throw new UpstreamError(
        `${what}: size mismatch, the list says ${expected.size} bytes but the registry sent ${bytes.length}`,
      );
    }
    const doc = parseManifestDocument(bytes, header(res, 'content-type'), what);
    return { digest, bytes, doc };
  }
}

/** Drops a response body we will not read (a destroyed body may still report an error). */
function discard(res: HttpResponse): void {
  res.body.on('error', () => {});
  res.body.destroy();
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** A token server refused the credentials (401/403). */
class TokenDeniedError extends UpstreamError {
  constructor(
    message: string,
    readonly details: string,
  ) {
    super(message);
  }
}

/** The registry host of a `docker login` server address (`https://host:port/v1/` → `host:port`). */
export function loginHost(serverAddress: string | undefined): string {
  const raw = (serverAddress ?? '').trim();
  if (raw === '') return registryHost('docker.io');
  const stripped = raw.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/s, '');
  if (stripped === 'index.docker.io' || stripped === 'docker.io') return registryHost('docker.io');
  if (!/^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)(?::\d{1,5})?$/.test(stripped)) {
    throw new InvalidParameterError(`invalid registry address ${JSON.stringify(raw.slice(0, 200))}`);
  }
  return stripped;
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  };
  return texts[status] ?? '';
}
