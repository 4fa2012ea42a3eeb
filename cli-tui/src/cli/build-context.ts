// The build context docker sends: the directory as a tar stream, minus what .dockerignore
// excludes (the Dockerfile and .dockerignore always go), owned by root like docker's archive.

import { randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import tar from 'tar-stream';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';

export class BuildContextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildContextError';
  }
}

export interface ContextOptions {
  /** The context directory. */
  dir: string;
  /** The Dockerfile path relative to the context ("Dockerfile" by default), kept even if ignored. */
  dockerfile: string;
  /** A Dockerfile from outside the context (or stdin): added under a random name. */
  extraDockerfile?: { content: Buffer };
}

export interface BuildContext {
  stream: Readable;
  /** What to send as `dockerfile=`. */
  dockerfileName: string;
  /** Bytes handed to the daemon so far. */
  sent(): number;
}

async function readIgnore(dir: string): Promise<string[]> {
  try {
    return parseDockerignore(await readFile(join(dir, '.dockerignore'), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BuildContextError(`error reading .dockerignore: ${(err as Error).message}`);
  }
}

/** The files and directories to send, in walk order (slash-separated relative paths). */
async function collect(dir: string, matcher: IgnoreMatcher, keep: Set<string>): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string): Promise<void> => {
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      const full = join(abs, name);
      const rel = relative(dir, full).split(sep).join('/');
      const st = await lstat(full);
      const excluded = matcher.excludes(rel) && !keep.has(rel);
      if (st.isDirectory()) {
        // An excluded directory is only entered when an exception may bring something back.
        if (excluded && !matcher.hasExceptions) continue;
        if (!excluded) out.push(rel);
        await walk(full);
      } else if (!excluded) out.push(rel);
    }
  };
  await walk(dir);
  return out;
}

export async function createBuildContext(opts: ContextOptions): Promise<BuildContext> {
  let st;
  try {
    st = await lstat(opts.dir);
  } catch {
    throw new BuildContextError(`unable to prepare context: path "${opts.dir}" not found`);
  }
  if (!st.isDirectory()) throw new BuildContextError(`unable to prepare context: path "${opts.dir}" not a directory`);
  const matcher = new IgnoreMatcher(await readIgnore(opts.dir));
  const dockerfileName = opts.extraDockerfile
    ? `.dockerfile.${randomBytes(10).toString('hex')}`
    : opts.dockerfile.split(sep).join('/');
  if (!opts.extraDockerfile) {
    try {
      await lstat(join(opts.dir, dockerfileName));
    } catch {
      throw new BuildContextError(
        `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${join(opts.dir, dockerfileName)}: no such file or directory`,
      );
    }
  }
  const entries = await collect(opts.dir, matcher, new Set([dockerfileName, '.dockerignore']));
  const pack = tar.pack();
  const fill = async (): Promise<void> => {
    for (const rel of entries) {
      const full = join(opts.dir, ...rel.split('/'));
      const s = await lstat(full);
      const base = { name: rel, mode: s.mode & 0o7777, mtime: s.mtime, uid: 0, gid: 0 };
      if (s.isDirectory()) pack.entry({ ...base, type: 'directory' });
      else if (s.isSymbolicLink()) pack.entry({ ...base, type: 'symlink', linkname: await readlink(full) });
      else if (s.isFile()) {
        await new Promise<void>((done, fail) => {
          const entry = pack.entry({ ...base, type: 'file', size: s.size }, (err) => (err ? fail(err) : done()));
          const body = createReadStream(full);
          body.once('error', fail);
          body.pipe(entry as unknown as NodeJS.WritableStream);
        });
      }
      // sockets, fifos and devices are not part of a build context
    }
    if (opts.extraDockerfile) {
      pack.entry(
        { name: dockerfileName, mode: 0o600, mtime: new Date(), uid: 0, gid: 0 },
        opts.extraDockerfile.content,
      );
    }
    pack.finalize();
  };
  fill().catch((err: Error) => pack.destroy(err));
  return counting(Readable.from(pack), dockerfileName);
}

/** Counts the bytes that pass (without putting the source in flowing mode early). */
function counting(source: Readable, dockerfileName: string): BuildContext {
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      done(null, chunk);
    },
  });
  source.on('error', (err) => counter.destroy(err));
  source.pipe(counter);
  return { stream: counter, dockerfileName, sent: () => sent };
}

/** A context made of one Dockerfile (build from a Dockerfile on stdin). */
export function dockerfileOnlyContext(content: Buffer): BuildContext {
  const pack = tar.pack();
  pack.entry({ name: 'Dockerfile', mode: 0o600, mtime: new Date(), uid: 0, gid: 0 }, content);
  pack.finalize();
  return counting(Readable.from(pack), 'Dockerfile');
}

/** Whether the bytes start a tar archive (possibly compressed): then stdin is the whole context. */
export function looksLikeArchive(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true; // gzip
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true; // zstd
  return head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
}

/** A context that is already an archive (stdin), counted like the others. */
export function archiveContext(data: Buffer): BuildContext {
  return counting(Readable.from([data]), 'Dockerfile');
}
