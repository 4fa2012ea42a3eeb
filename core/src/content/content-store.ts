import { createHash, type Hash } from 'node:crypto';
import { constants } from 'node:fs';
import {
  chmod,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentInfo, ContentStore, ContentWriter } from '../plugin-api/content.js';
import { ConflictError, InvalidParameterError, NotFoundError, SystemError } from '../plugin-api/errors.js';
import { assertSha256Digest, describe } from './digest.js';

/** A partially written blob, as reported by `FileContentStore.ingests()`. */
export interface IngestInfo {
  ref: string;
  offset: number;
  updatedAt: Date;
}

const READ_CHUNK = 1 << 20;

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/**
 * Content-addressed blob store on disk, laid out like containerd's:
 *   <root>/blobs/sha256/<hex>          committed, read-only blobs
 *   <root>/ingest/<sha256(ref)>/data   in-progress writes (resumable), with `ref` naming them
 * A blob only ever appears in `blobs/` by an fsync'd rename after its size and digest were verified.
 */
export class FileContentStore implements ContentStore {
  private readonly locked = new Set<string>();

  constructor(readonly root: string) {}

  private get blobDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }

  private ingestDir(ref: string): string {
    return join(this.root, 'ingest', createHash('sha256').update(ref).digest('hex'));
  }

  path(digest: string): string {
    assertSha256Digest(digest);
    return join(this.blobDir, digest.slice('sha256:'.length));
  }

  async info(digest: string): Promise<ContentInfo> {
    const p = this.path(digest);
    try {
      const st = await stat(p);
      return { digest, size: st.size };
    } catch (err) {
      throw notFoundOr(err, digest);
    }
  }

  async has(digest: string): Promise<boolean> {
    const p = this.path(digest);
    try {
      await stat(p);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async read(digest: string): Promise<NodeJS.ReadableStream> {
    const p = this.path(digest);
    let fh: FileHandle;
    try {
      fh = await open(p, constants.O_RDONLY);
    } catch (err) {
      throw notFoundOr(err, digest);
    }
    return fh.createReadStream({ autoClose: true });
  }

  async readBytes(digest: string): Promise<Buffer> {
    const p = this.path(digest);
    try {
      return await readFile(p);
    } catch (err) {
      throw notFoundOr(err, digest);
    }
  }

  async delete(digest: string): Promise<void> {
    const p = this.path(digest);
    try {
      await unlink(p);
    } catch (err) {
      throw notFoundOr(err, digest);
    }
  }

  async list(): Promise<ContentInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.blobDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: ContentInfo[] = [];
    for (const name of names) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      try {
        const st = await stat(join(this.blobDir, name));
        if (st.isFile()) out.push({ digest: `sha256:${name}`, size: st.size });
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    return out;
  }

  async writer(ref: string, expected?: { digest: string; size?: number }): Promise<ContentWriter> {
    if (typeof ref !== 'string' || ref === '')
      throw new InvalidParameterError('content ingest ref must be a non-empty string');
    if (expected) {
      assertSha256Digest(expected.digest);
      if (expected.size !== undefined && !(Number.isSafeInteger(expected.size) && expected.size >= 0)) {
        throw new InvalidParameterError(`invalid expected size ${describe(String(expected.size))}`);
      }
      if (await this.has(expected.digest)) throw new ConflictError(`content ${expected.digest}: already exists`);
    }
    if (this.locked.has(ref)) throw new ConflictError(`ingest ${describe(ref)} is locked by another writer`);
    this.locked.add(ref);
    try {
      const dir = this.ingestDir(ref);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'ref'), ref);
      const dataPath = join(dir, 'data');
      const fh = await open(dataPath, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
      try {
        const hash = createHash('sha256');
        const offset = await rehash(fh, hash);
        if (expected?.size !== undefined && offset > expected.size) {
          // Longer than the blob can be: whatever was written is not a prefix of it.
          await fh.truncate(0);
          return new FileContentWriter(this, ref, dir, fh, createHash('sha256'), 0, expected?.size);
        }
        return new FileContentWriter(this, ref, dir, fh, hash, offset, expected?.size);
      } catch (err) {
        await fh.close().catch(() => {});
        throw err;
      }
    } catch (err) {
      this.locked.delete(ref);
      throw err;
    }
  }

  /** Ingests left behind (interrupted pulls), for resumption or cleanup. */
  async ingests(): Promise<IngestInfo[]> {
    const base = join(this.root, 'ingest');
    let names: string[];
    try {
      names = await readdir(base);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: IngestInfo[] = [];
    for (const name of names) {
      try {
        const ref = await readFile(join(base, name, 'ref'), 'utf8');
        const st = await stat(join(base, name, 'data'));
        out.push({ ref, offset: st.size, updatedAt: st.mtime });
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    return out;
  }

  /** Removes an ingest that no writer holds. */
  async abortIngest(ref: string): Promise<void> {
    if (this.locked.has(ref)) throw new ConflictError(`ingest ${describe(ref)} is locked by another writer`);
    await rm(this.ingestDir(ref), { recursive: true, force: true });
  }

  /** @internal Moves a verified ingest into place. */
  async install(dataPath: string, digest: string): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await chmod(dataPath, 0o444);
    await rename(dataPath, this.path(digest));
    const dir = await open(this.blobDir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** @internal */
  release(ref: string): void {
    this.locked.delete(ref);
  }
}

async function rehash(fh: FileHandle, hash: Hash): Promise<number> {
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  let position = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, position);
    if (bytesRead === 0) return position;
    hash.update(buf.subarray(0, bytesRead));
    position += bytesRead;
  }
}

function notFoundOr(err: unknown, digest: string): Error {
  if (isErrno(err, 'ENOENT')) return new NotFoundError(`content digest ${digest}: not found`);
  return err as Error;
}

class FileContentWriter implements ContentWriter {
  private done = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: FileContentStore,
    private readonly ref: string,
    private readonly dir: string,
    private readonly fh: FileHandle,
    private readonly hash: Hash,
    private written: number,
    private readonly expectedSize: number | undefined,
  ) {}

  get offset(): number {
    return this.written;
  }

  write(chunk: Uint8Array): Promise<void> {
    // Serialised so the hash always covers exactly the bytes on disk, in order.
    const next = this.queue.then(() => this.writeNow(chunk));
    this.queue = next.catch(() => {});
    return next;
  }

  private async writeNow(chunk: Uint8Array): Promise<void> {
    this.assertOpen();
    if (this.expectedSize !== undefined && this.written + chunk.length > this.expectedSize) {
      throw new InvalidParameterError(
        `content ${describe(this.ref)}: ${this.written + chunk.length} bytes exceed the expected size ${this.expectedSize}`,
      );
    }
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, done, chunk.length - done, null);
      if (bytesWritten === 0) throw new SystemError(`content ${describe(this.ref)}: short write`);
      done += bytesWritten;
    }
    this.hash.update(chunk);
    this.written += chunk.length;
  }

  async commit(size: number | undefined, digest: string): Promise<void> {
    await this.queue;
    this.assertOpen();
    assertSha256Digest(digest);
    this.done = true;
    try {
      if (size !== undefined && size !== this.written) {
        throw new InvalidParameterError(`unexpected commit size ${this.written}, expected ${size}`);
      }
      const actual = `sha256:${this.hash.digest('hex')}`;
      if (actual !== digest) throw new InvalidParameterError(`unexpected commit digest ${actual}, expected ${digest}`);
      await this.fh.sync();
      await this.fh.close();
      await this.store.install(join(this.dir, 'data'), digest);
      await rm(this.dir, { recursive: true, force: true });
    } catch (err) {
      // Bad (or unplaceable) data is never kept for resumption.
      await this.fh.close().catch(() => {});
      await rm(this.dir, { recursive: true, force: true }).catch(() => {});
      throw err;
    } finally {
      this.store.release(this.ref);
    }
  }

  async abort(): Promise<void> {
    await this.queue;
    if (this.done) return;
    this.done = true;
    try {
      await this.fh.close().catch(() => {});
      await rm(this.dir, { recursive: true, force: true });
    } finally {
      this.store.release(this.ref);
    }
  }

  async close(): Promise<void> {
    await this.queue;
    if (this.done) return;
    this.done = true;
    try {
      await this.fh.close();
    } finally {
      this.store.release(this.ref);
    }
  }

  private assertOpen(): void {
    if (this.done) throw new ConflictError(`content writer for ${describe(this.ref)} is closed`);
  }
}
