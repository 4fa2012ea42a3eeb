/** An OCI descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface ContentInfo {
  digest: string;
  size: number;
}

/** Content-addressed blobs; every write is verified against size and digest before commit. */
export interface ContentStore {
  info(digest: string): Promise<ContentInfo>;
  has(digest: string): Promise<boolean>;
  /** A stream of the blob. NotFoundError if absent. */
  read(digest: string): Promise<NodeJS.ReadableStream>;
  readBytes(digest: string): Promise<Buffer>;
  /** Opens (or resumes) an ingest identified by `ref`. */
  writer(ref: string, expected?: { digest: string; size?: number }): Promise<ContentWriter>;
  delete(digest: string): Promise<void>;
  list(): Promise<ContentInfo[]>;
  /** The on-disk path of a committed blob (for drivers that hand files to a VM). */
  path(digest: string): string;
}

export interface ContentWriter {
  /** Bytes already written (for resumption). */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  /** Verifies size and digest, then atomically moves the blob into the store. */
  commit(size: number | undefined, digest: string): Promise<void>;
  /** Discards the ingest and its data. */
  abort(): Promise<void>;
  /** Releases the writer but keeps the data written so far, so a later `writer(ref)` resumes it. */
  close(): Promise<void>;
}
