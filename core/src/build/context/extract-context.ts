import { constants } from 'node:fs';
import { lstat, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isErrno } from '../../host/fs.js';
import { decompressAny } from './decompress-any.js';
import { parseDockerignore, PatternMatcher } from './dockerignore.js';
import { resolveInScope } from './scoped-path.js';
import { extractTar } from './tar-extract.js';
import type { ExtractContextOptions } from './types.js';

export const DEFAULT_DOCKERFILE = 'Dockerfile';
const MAX_IGNORE_FILE = 16 << 20;

/**
 * Reads `<contextDir>/.dockerignore` (following a symlink only inside the context) and returns its
 * patterns; none when there is no such file.
 */
export async function readDockerignore(contextDir: string): Promise<string[]> {
  const r = await resolveInScope(contextDir, '.dockerignore');
  if (r.stat === undefined || !r.stat.isFile()) return [];
  const fh = await open(r.real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT', 'ELOOP')) return undefined;
    throw e;
  });
  if (!fh) return [];
  try {
    const buf = Buffer.alloc(Math.min(r.stat.size, MAX_IGNORE_FILE));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return parseDockerignore(buf.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await fh.close();
  }
}

/** The context-relative names a Dockerfile option may point at, kept until locateDockerfile has read it. */
export function dockerfileCandidates(name: string | undefined): string[] {
  const n = name === undefined || name === '' ? DEFAULT_DOCKERFILE : name;
  const clean = resolveNameParts(n).join('/');
  return n === DEFAULT_DOCKERFILE ? [clean, clean.toLowerCase()] : [clean];
}

function resolveNameParts(name: string): string[] {
  return name.split('/').filter((c) => c !== '' && c !== '.');
}

/**
 * Removes what `matcher` excludes below `dir` (`rel` is its context-relative path), keeping
 * `keep`. Excluded directories are walked only when exception patterns could re-include
 * something in them, and removed when nothing in them survived.
 */
async function prune(dir: string, rel: string, matcher: PatternMatcher, keep: Set<string>): Promise<boolean> {
  let left = 0;
  for (const name of await readdir(dir)) {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const path = join(dir, name);
    const excluded = !keep.has(childRel) && matcher.matches(childRel);
    const st = await lstat(path);
    const holdsKept = [...keep].some((k) => k.startsWith(`${childRel}/`));
    if (st.isDirectory() && (!excluded || matcher.hasExclusions || holdsKept)) {
      const kept = await prune(path, childRel, matcher, keep);
      if (excluded && !kept) await rm(path, { recursive: true, force: true });
      else left++;
      continue;
    }
    if (excluded) await rm(path, { recursive: true, force: true });
    else left++;
  }
  return left > 0;
}

/**
 * Extracts a POST /build body (plain tar, or gzip/bzip2/xz/zstd-compressed) into `dir`, which
 * must exist: nothing can land outside it (see extractTar), owners are ignored, device nodes
 * skipped, modes and mtimes kept. A broken archive is an InvalidParameterError (400).
 *
 * Like dockerd, the context is otherwise left as the client sent it (clients apply .dockerignore;
 * locateDockerfile then drops the Dockerfile and .dockerignore when excluded). With
 * `opts.applyDockerignore` the whole of .dockerignore is applied here the way the docker CLI
 * applies it, keeping `.dockerignore` and the Dockerfile named by `opts.dockerfile` (default
 * `Dockerfile`, and `dockerfile`) for locateDockerfile.
 */
export async function extractContext(tar: Readable, dir: string, opts: ExtractContextOptions = {}): Promise<void> {
  await extractTar(dir, decompressAny(tar), {
    owners: 'ignore',
    devices: 'skip',
    signal: opts.signal,
    what: 'build context',
  });
  if (opts.applyDockerignore !== true) return;
  const patterns = await readDockerignore(dir);
  if (patterns.length === 0) return;
  const matcher = new PatternMatcher(patterns);
  const keep = new Set(['.dockerignore', ...dockerfileCandidates(opts.dockerfile)]);
  opts.signal?.throwIfAborted();
  await prune(dir, '', matcher, keep);
}
