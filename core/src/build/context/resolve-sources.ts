import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidParameterError, NotFoundError } from '../../plugin-api/errors.js';
import { cleanPath } from './dockerignore.js';
import { downloadSource, isUrl } from './download.js';
import { containsWildcards, goMatch, splitPattern } from './go-match.js';
import { resolveInScope } from './scoped-path.js';
import type { LocalSource, ResolveSourcesOptions, Source, SourceSet } from './types.js';

/** Byte order of the UTF-8 names, like Go's sort of directory entries. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Context-relative paths matching `segs` (one Go pattern per path component), in the order of
 * Go's filepath.WalkDir: only real directories are descended into, symlinks are not followed.
 */
async function walkMatches(root: string, segs: string[]): Promise<string[]> {
  const out: string[] = [];
  async function visit(dir: string, rel: string, depth: number): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).sort(byteOrder);
    } catch {
      return; // not a directory, or gone: nothing matches below it
    }
    const seg = segs[depth] as string;
    for (const name of names) {
      if (!goMatch(seg, name)) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      if (depth === segs.length - 1) {
        out.push(childRel);
        continue;
      }
      const st = await lstat(join(dir, name)).catch(() => undefined);
      if (st?.isDirectory()) await visit(join(dir, name), childRel, depth + 1);
    }
  }
  if (segs.length > 0) await visit(root, '', 0);
  return out;
}

/** moby's calcCopyInfo path clean-up: one leading `/` and one leading `./` go. */
function trimSource(orig: string): string {
  let p = orig.startsWith('/') ? orig.slice(1) : orig;
  if (p.startsWith('./')) p = p.slice(2);
  return p;
}

async function localSource(
  root: string,
  original: string,
  path: string,
  cmd: string,
  inContext: boolean,
): Promise<LocalSource> {
  const cleaned = cleanPath(path);
  if (cleaned === '..' || cleaned.startsWith('../') || path.includes('\0')) {
    throw new InvalidParameterError(`${cmd} failed: forbidden path outside the build context: ${path} ()`);
  }
  const r = await resolveInScope(root, cleaned === '.' ? '' : cleaned);
  if (r.stat === undefined) {
    const why = inContext ? 'file not found in build context or excluded by .dockerignore: ' : '';
    throw new NotFoundError(`${cmd} failed: ${why}stat ${path}: file does not exist`);
  }
  const parts = cleaned === '.' ? [] : cleaned.split('/');
  return {
    kind: 'local',
    original,
    rel: parts.join('/'),
    resolved: r.parts.join('/'),
    path: r.real,
    name: parts.at(-1) ?? '',
    isDir: r.stat.isDirectory(),
  };
}

/**
 * Resolves the sources of a COPY or ADD in `root` (the build context, or another stage's or
 * image's rootfs for `--from`) as moby's copier does: a leading `/` or `./` is dropped, paths with
 * wildcards match Go-style against every path of the root (symlinked directories not walked),
 * each source is resolved inside `root` with its symlinks followed there only. With `allowUrl`
 * (ADD), http(s) sources are downloaded now, so their content can enter the cache key; call
 * `release()` on the result when done with it.
 */
export async function resolveSources(
  root: string,
  patterns: string[],
  opts: ResolveSourcesOptions,
): Promise<SourceSet> {
  const cmd = opts.instruction ?? (opts.allowUrl ? 'ADD' : 'COPY');
  const inContext = opts.inContext ?? true;
  const tmpDirs: string[] = [];
  const release = async () => {
    for (const d of tmpDirs.splice(0)) await rm(d, { recursive: true, force: true });
  };
  const sources: Source[] = [];
  try {
    for (const orig of patterns) {
      opts.signal?.throwIfAborted();
      if (isUrl(orig)) {
        if (!opts.allowUrl) throw new InvalidParameterError(`${cmd} failed: source can't be a URL for COPY`);
        const { source, dir } = await downloadSource(orig, opts.tmpDir, opts.signal);
        tmpDirs.push(dir);
        sources.push(source);
        continue;
      }
      const path = trimSource(orig);
      if (containsWildcards(path)) {
        for (const rel of await walkMatches(root, splitPattern(path))) {
          sources.push(await localSource(root, orig, rel, cmd, inContext));
        }
        continue;
      }
      sources.push(await localSource(root, orig, path, cmd, inContext));
    }
    if (sources.length === 0) throw new InvalidParameterError(`${cmd} failed: no source files were specified`);
  } catch (e) {
    await release();
    throw e;
  }
  return { root, sources, release };
}
