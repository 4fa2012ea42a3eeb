import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { ContentStore } from '../plugin-api/content.js';
import { InvalidParameterError, SkiffError } from '../plugin-api/errors.js';
import { feedStream } from '../util/drain.js';

/** A regular file of the archive, now a blob of the content store. */
export interface ArchiveFile {
  path: string;
  digest: string;
  size: number;
  /** The first bytes, to recognise compression. */
  head: Buffer;
}

type Node =
  { kind: 'file'; file: ArchiveFile } | { kind: 'symlink'; target: string } | { kind: 'hardlink'; target: string };

const MAX_LINK_HOPS = 40;
const HEAD_BYTES = 8;

/**
 * Splits an archive path into its components, resolving `.` and `..` lexically. A path that
 * climbs above the archive root is an InvalidParameterError: archives never name anything
 * outside themselves. A leading `/` means the archive root (as in a chrooted extraction).
 */
export function archivePathParts(path: string, what = 'archive path'): string[] {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new InvalidParameterError(`invalid ${what} ${JSON.stringify(path)}`);
  }
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new InvalidParameterError(`${what} ${JSON.stringify(path)} escapes the archive`);
      out.pop();
    } else out.push(part);
  }
  return out;
}

/**
 * The files of an image archive (`docker save` output or an OCI image layout in a tar), each
 * already stored as a content blob so nothing is held in memory or written outside the store.
 * Blobs this ingest added are listed in `added`, for the caller to drop what it does not keep.
 */
export class IngestedArchive {
  readonly added = new Set<string>();
  private readonly nodes = new Map<string, Node>();

  constructor(private readonly content: ContentStore) {}

  /** @internal */
  set(parts: string[], node: Node): void {
    this.nodes.set(parts.join('/'), node);
  }

  has(path: string): boolean {
    try {
      this.file(path);
      return true;
    } catch (err) {
      if (err instanceof InvalidParameterError) return false;
      throw err;
    }
  }

  /** The regular file at `path`, following symlinks and hard links inside the archive. */
  file(path: string): ArchiveFile {
    let parts = archivePathParts(path);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const [resolved, node] = this.walk(parts, path);
      if (!node) throw new InvalidParameterError(`invalid archive: ${JSON.stringify(path)} is missing`);
      if (node.kind === 'file') return node.file;
      const base = node.kind === 'symlink' && !node.target.startsWith('/') ? resolved.slice(0, -1) : [];
      parts = archivePathParts([...base, node.target].join('/'), `link target of ${JSON.stringify(path)}`);
    }
    throw new InvalidParameterError(`invalid archive: too many levels of links at ${JSON.stringify(path)}`);
  }

  /** Resolves symlinked directories along `parts`; returns the final path and its node. */
  private walk(parts: string[], orig: string): [string[], Node | undefined] {
    let cur: string[] = [];
    let hops = 0;
    for (let i = 0; i < parts.length; i++) {
      cur = [...cur, parts[i]!];
      if (i === parts.length - 1) break;
      let node = this.nodes.get(cur.join('/'));
      while (node && node.kind !== 'file') {
        if (++hops > MAX_LINK_HOPS) {
          throw new InvalidParameterError(`invalid archive: too many levels of links at ${JSON.stringify(orig)}`);
        }
        const base = node.kind === 'symlink' && !node.target.startsWith('/') ? cur.slice(0, -1) : [];
        cur = archivePathParts([...base, node.target].join('/'), `link target in ${JSON.stringify(orig)}`);
        node = this.nodes.get(cur.join('/'));
      }
    }
    return [cur, this.nodes.get(cur.join('/'))];
  }

  /** The content of a (small) file of the archive, refusing files larger than `maxBytes`. */
  async bytes(path: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
    const f = this.file(path);
    if (f.size > maxBytes) throw new InvalidParameterError(`invalid archive: ${path} is larger than ${maxBytes} bytes`);
    return this.content.readBytes(f.digest);
  }

  /** Parses a JSON file of the archive, refusing files larger than `maxBytes`. */
  async json(path: string, maxBytes = 16 * 1024 * 1024): Promise<unknown> {
    const text = (await this.bytes(path, maxBytes)).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new InvalidParameterError(`invalid archive: ${path} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /** Deletes the blobs this ingest added, except `keep`. */
  async discard(keep: (digest: string) => boolean = () => false): Promise<void> {
    for (const d of this.added) {
      if (keep(d)) continue;
      await this.content.delete(d).catch(() => {});
      this.added.delete(d);
    }
  }
}

/**
 * Reads an (uncompressed) tar stream and stores each regular file as a content blob. Any failure
 * — a malformed tar, a truncated upload, a path escaping the archive — discards what was added.
 */
export async function ingestArchive(
  content: ContentStore,
  source: Readable,
  opts: { signal?: AbortSignal } = {},
): Promise<IngestedArchive> {
  const archive = new IngestedArchive(content);
  const extract = tar.extract();
  const onAbort = () => extract.destroy(opts.signal?.reason as Error);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let sourceError: unknown;
  const feeding = feedStream(source as AsyncIterable<Buffer>, extract).then((e) => {
    sourceError = e;
  });

  const ingestId = randomBytes(6).toString('hex');
  let n = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const parts = archivePathParts(h.name, 'archive entry');
      if (parts.length === 0 || h.type === 'directory') {
        entry.resume();
        continue;
      }
      if (h.type === 'symlink' || h.type === 'link') {
        entry.resume();
        if (!h.linkname)
          throw new InvalidParameterError(`invalid archive: link ${JSON.stringify(h.name)} has no target`);
        archive.set(parts, { kind: h.type === 'symlink' ? 'symlink' : 'hardlink', target: h.linkname });
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const file = await storeEntry(content, entry as AsyncIterable<Buffer>, `archive-${ingestId}-${n++}`, archive);
      archive.set(parts, { kind: 'file', file: { ...file, path: parts.join('/') } });
    }
    await feeding;
    if (n === 0) {
      throw new InvalidParameterError('invalid archive: it contains no files (is it empty or not a tar?)');
    }
    return archive;
  } catch (e) {
    extract.destroy();
    source.destroy();
    await feeding.catch(() => {});
    await archive.discard();
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (sourceError instanceof SkiffError) throw sourceError;
    if (sourceError !== undefined)
      throw new InvalidParameterError(`reading the archive: ${(sourceError as Error).message}`);
    if (e instanceof SkiffError) throw e;
    throw new InvalidParameterError(`invalid archive: ${(e as Error).message}`, { cause: e });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

async function storeEntry(
  content: ContentStore,
  entry: AsyncIterable<Buffer>,
  ref: string,
  archive: IngestedArchive,
): Promise<Omit<ArchiveFile, 'path'>> {
  const writer = await content.writer(ref);
  const hash = createHash('sha256');
  let size = 0;
  const head: Buffer[] = [];
  let headLen = 0;
  try {
    for await (const chunk of entry) {
      hash.update(chunk);
      size += chunk.length;
      if (headLen < HEAD_BYTES) {
        head.push(chunk.subarray(0, HEAD_BYTES - headLen));
        headLen += Math.min(chunk.length, HEAD_BYTES - headLen);
      }
      await writer.write(chunk);
    }
    const digest = `sha256:${hash.digest('hex')}`;
    if (await content.has(digest)) await writer.abort();
    else {
      await writer.commit(size, digest);
      archive.added.add(digest);
    }
    return { digest, size, head: Buffer.concat(head) };
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
}
