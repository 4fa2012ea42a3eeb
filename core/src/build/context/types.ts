/** A source of COPY/ADD found in a root (the build context, or another stage's or image's rootfs). */
export interface LocalSource {
  kind: 'local';
  /** The pattern or path as written in the Dockerfile. */
  original: string;
  /** The path inside the root, cleaned, without a leading `/` ("" for the root itself). */
  rel: string;
  /** `rel` with its symlinks followed inside the root: the file really copied. */
  resolved: string;
  /** Real host path, resolved inside the root (symlinks followed inside it only). */
  path: string;
  /** The name a file takes in a directory destination: the last component of `rel`. */
  name: string;
  isDir: boolean;
}

/** An ADD source downloaded from a URL into a temporary file. */
export interface UrlSource {
  kind: 'url';
  url: string;
  /** The downloaded content (host path, inside the set's temporary directory). */
  path: string;
  /** Name from the URL's path, used when the destination is a directory. */
  name: string;
  /** From Last-Modified, when the server sent one. */
  mtime?: Date;
  /** sha256 of the downloaded content, `sha256:…`. */
  digest: string;
}

export type Source = LocalSource | UrlSource;

export interface SourceSet {
  root: string;
  sources: Source[];
  /** Removes the temporary downloads of URL sources; safe to call more than once. */
  release(): Promise<void>;
}

export interface ResolveSourcesOptions {
  /** ADD: `http://` and `https://` sources are downloaded. COPY: they are plain paths. */
  allowUrl: boolean;
  /** Where URL downloads go (default: the OS temporary directory). */
  tmpDir?: string;
  signal?: AbortSignal;
  /** For error messages; default ADD when `allowUrl`, else COPY. */
  instruction?: 'COPY' | 'ADD';
  /** Whether `root` is the build context (default true) rather than a stage or image (`--from`). */
  inContext?: boolean;
}

export interface CopyOptions {
  /** The working directory in the image, absolute; a relative destination is relative to it. */
  workdir: string;
  /** `--chown=user[:group]`, names resolved from the rootfs's /etc/passwd and /etc/group. */
  chown?: string;
  /** `--chmod=` octal. */
  chmod?: string;
  isAdd: boolean;
  signal?: AbortSignal;
}

export interface ExtractContextOptions {
  signal?: AbortSignal;
  /**
   * Also remove everything .dockerignore excludes (default false). dockerd does not: clients (the
   * docker CLI, docker-py/compose, dockerode) filter before sending, and the daemon only drops the
   * Dockerfile and .dockerignore themselves when they are excluded, which locateDockerfile does.
   */
  applyDockerignore?: boolean;
  /** The `dockerfile` query parameter: that file is kept even when .dockerignore names it (default `Dockerfile`). */
  dockerfile?: string;
}
