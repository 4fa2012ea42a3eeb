// skiff cp: copies between a container and the local filesystem through the archive API
// (GET/HEAD/PUT /containers/{id}/archive), as tar streams, with docker cp's naming rules:
// into an existing directory under the source's name, else to the destination's name.

import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, mkdir, readdir, readlink, rm, stat, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { ApiError } from '../api/errors.js';
import { uploadStream } from '../api/upload.js';
import { StatusError } from '../cli/errors.js';
import { humanSize } from '../format/units.js';
import { containerPath } from './container-ops.js';
import type { Command, CommandContext } from './types.js';

/** X-Docker-Container-Path-Stat */
interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime?: string;
  linkTarget?: string;
}

const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

export class CopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CopyError';
  }
}

/** "container:path" → parts; a local path containing ':' must start with '/' or '.' (docker's rule). */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (path.isAbsolute(arg) || arg.startsWith('.')) return { path: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

function decodeStat(header: string | string[] | undefined): PathStat | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as PathStat;
  } catch {
    return undefined;
  }
}

const isDirMode = (mode: number): boolean => Math.floor(mode / GO_MODE_DIR) % 2 === 1;
const isLinkMode = (mode: number): boolean => Math.floor(mode / GO_MODE_SYMLINK) % 2 === 1;

/** HEAD archive: the stat of a path in the container, undefined when it does not exist. */
async function statInContainer(ctx: CommandContext, container: string, p: string): Promise<PathStat | undefined> {
  const res = await ctx.client.request('HEAD', containerPath(container, '/archive'), { query: { path: p } });
  res.resume();
  if (res.statusCode === 404) {
    // A missing container is an error, a missing path is an answer.
    await ctx.client.json('GET', containerPath(container, '/json'));
    return undefined;
  }
  if ((res.statusCode ?? 0) >= 400) {
    throw new ApiError(res.statusCode ?? 500, `Could not stat ${p} in container ${container}`);
  }
  return decodeStat(res.headers['x-docker-container-path-stat']);
}

/** Throws the daemon's error (e.g. "Could not find the file …") when `p` is missing in the container. */
async function requireInContainer(ctx: CommandContext, container: string, p: string): Promise<void> {
  if (await statInContainer(ctx, container, p)) return;
  const res = await ctx.client.stream('GET', containerPath(container, '/archive'), { query: { path: p } });
  res.destroy();
}

/** The path segments of an archive entry name, or undefined when it would leave the root. */
function safeParts(name: string): string[] | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  return parts.includes('..') ? undefined : parts;
}

/** Rebases entry names: a leading `from` component becomes `to` ('' drops it). */
function rebase(parts: string[], from: string, to: string): string[] {
  // "dir/." archives hold "./x" entries: every entry is content of the target.
  if (from === '.' || from === '') return to === '' ? parts : [to, ...parts];
  if (parts[0] !== from) return parts;
  return to === '' ? parts.slice(1) : [to, ...parts.slice(1)];
}

/** Refuses to write through a symlink: every parent below `root` must be a real directory. */
async function checkParents(root: string, parts: string[]): Promise<void> {
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = path.join(current, part);
    const st = await lstat(current).catch(() => undefined);
    if (st && !st.isDirectory()) throw new CopyError(`refusing to extract through ${current}: not a directory`);
  }
}

/** Extracts a tar stream below `root`, renaming the top component `from` to `to`. */
async function extractTo(source: NodeJS.ReadableStream, root: string, from: string, to: string): Promise<void> {
  const extract = tar.extract();
  const done = pipeline(source, extract);
  const dirTimes: [string, Date, number][] = [];
  for await (const entry of extract) {
    const h = entry.header;
    const parts = safeParts(h.name);
    const target = parts ? rebase(parts, from, to) : undefined;
    if (!target || target.length === 0) {
      if (target && h.type === 'directory') {
        await mkdir(root, { recursive: true });
      }
      entry.resume();
      continue;
    }
    await checkParents(root, target);
    const dest = path.join(root, ...target);
    await mkdir(path.dirname(dest), { recursive: true });
    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'directory': {
        const st = await lstat(dest).catch(() => undefined);
        if (st && !st.isDirectory()) await rm(dest, { force: true });
        await mkdir(dest, { recursive: true });
        dirTimes.push([dest, h.mtime ?? new Date(), mode]);
        entry.resume();
        break;
      }
      case 'symlink':
        await rm(dest, { force: true });
        await symlink(h.linkname ?? '', dest);
        entry.resume();
        break;
      case 'link': {
        const linkParts = safeParts(h.linkname ?? '');
        if (!linkParts) throw new CopyError(`invalid hardlink ${h.linkname ?? ''} in archive`);
        await rm(dest, { force: true });
        await link(path.join(root, ...rebase(linkParts, from, to)), dest);
        entry.resume();
        break;
      }
      case 'file':
      case 'contiguous-file':
      case null:
      case undefined: {
        const st = await lstat(dest).catch(() => undefined);
        if (st?.isDirectory()) throw new CopyError(`cannot overwrite directory ${dest} with non-directory`);
        if (st) await rm(dest, { force: true });
        await pipeline(entry, createWriteStream(dest, { mode }));
        await chmod(dest, mode);
        if (h.mtime) await utimes(dest, h.mtime, h.mtime);
        break;
      }
      default:
        // devices and fifos are skipped, like docker does for an unprivileged user
        entry.resume();
    }
    if (process.getuid?.() === 0 && h.type !== 'symlink' && h.uid !== undefined && h.gid !== undefined) {
      await lchown(dest, h.uid, h.gid).catch(() => undefined);
    }
  }
  await done;
  for (const [dir, mtime, mode] of dirTimes.reverse()) {
    await chmod(dir, mode);
    await utimes(dir, mtime, mtime);
  }
}

/** Packs a local path as a tar stream whose top entry is named `top` ('' = the contents only). */
function packLocal(src: string, top: string, followTop: boolean): { stream: tar.Pack; size: () => number } {
  const pack = tar.pack();
  let total = 0;
  const add = async (p: string, name: string, follow: boolean): Promise<void> => {
    const st = follow ? await stat(p) : await lstat(p);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isDirectory()) {
      if (name !== '') pack.entry({ ...base, name: `${name}/`, type: 'directory' });
      for (const child of (await readdir(p)).sort()) {
        await add(path.join(p, child), name === '' ? child : `${name}/${child}`, false);
      }
    } else if (st.isSymbolicLink()) {
      pack.entry({ ...base, name, type: 'symlink', linkname: await readlink(p) });
    } else if (st.isFile()) {
      total += st.size;
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ ...base, name, size: st.size, type: 'file' }, (err) =>
          err ? reject(err) : resolve(),
        );
        pipeline(createReadStream(p), entry).catch(reject);
      });
    }
  };
  add(src, top, followTop).then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  return { stream: pack, size: () => total };
}

function report(ctx: CommandContext, quiet: boolean, size: number, dest: string): void {
  if (!quiet && ctx.streams.stderr.isTTY)
    ctx.streams.stderr.write(`Successfully copied ${humanSize(size)} to ${dest}\n`);
}

async function copyFromContainer(
  ctx: CommandContext,
  container: string,
  srcPath: string,
  dstPath: string,
  opts: { follow: boolean; quiet: boolean },
): Promise<void> {
  let src = srcPath;
  if (opts.follow) {
    const st = await statInContainer(ctx, container, src);
    if (st?.linkTarget) src = st.linkTarget;
  }
  const res = await ctx.client.stream('GET', containerPath(container, '/archive'), { query: { path: src } });
  if (dstPath === '-') {
    await pipeline(res, ctx.streams.stdout, { end: false });
    return;
  }
  const stat = decodeStat(res.headers['x-docker-container-path-stat']);
  const srcName = stat?.name ?? path.posix.basename(src);
  const srcIsDir = stat ? isDirMode(stat.mode) && !isLinkMode(stat.mode) : false;
  const contentsOnly = srcPath.endsWith('/.');
  const dst = path.resolve(dstPath);
  const dstTrailing = dstPath.endsWith('/') || dstPath.endsWith('/.');
  // The path as given: a trailing slash makes lstat of a file fail with ENOTDIR, as in docker.
  const dstStat = await lstat(dstTrailing ? `${dst}/` : dst).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    res.destroy();
    throw new CopyError(`stat ${dstPath}: ${err.code === 'ENOTDIR' ? 'not a directory' : err.message}`);
  });
  try {
    if (dstStat?.isDirectory()) {
      await extractTo(res, dst, srcName, contentsOnly ? '' : srcName);
    } else if (dstStat) {
      if (srcIsDir) throw new CopyError('cannot copy directory');
      await extractTo(res, path.dirname(dst), srcName, path.basename(dst));
    } else {
      if (dstTrailing && !srcIsDir) throw new CopyError(`no such directory`);
      const parent = await lstat(path.dirname(dst)).catch(() => undefined);
      if (!parent?.isDirectory()) throw new CopyError(`no such directory`);
      await extractTo(res, path.dirname(dst), srcName, path.basename(dst));
    }
  } finally {
    res.destroy();
  }
  report(ctx, opts.quiet, stat?.size ?? 0, dstPath);
}

async function copyToContainer(
  ctx: CommandContext,
  srcPath: string,
  container: string,
  dstPath: string,
  opts: { follow: boolean; quiet: boolean; archive: boolean },
): Promise<void> {
  const dstStat = await statInContainer(ctx, container, dstPath);
  const dstIsDir = dstStat ? isDirMode(dstStat.mode) : false;
  const query = { copyUIDGID: opts.archive, noOverwriteDirNonDir: true };
  if (srcPath === '-') {
    if (!dstIsDir) throw new CopyError(`destination "${container}:${dstPath}" must be a directory`);
    const res = await uploadStream(ctx.client, 'PUT', containerPath(container, '/archive'), {
      query: { ...query, path: dstPath },
      headers: { 'Content-Type': 'application/x-tar' },
      body: ctx.streams.stdin,
    });
    res.resume();
    return;
  }
  const src = path.resolve(srcPath);
  const st = await (opts.follow ? stat(src) : lstat(src)).catch((err: NodeJS.ErrnoException) => {
    throw new CopyError(
      `${opts.follow ? 'stat' : 'lstat'} ${src}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`,
    );
  });
  const contentsOnly = srcPath.endsWith('/.');
  let target: string;
  let top: string;
  if (dstStat && dstIsDir) {
    target = dstPath;
    top = contentsOnly && st.isDirectory() ? '' : path.basename(src);
  } else if (dstStat) {
    if (st.isDirectory()) throw new CopyError('cannot copy directory');
    target = path.posix.dirname(dstPath);
    top = path.posix.basename(dstPath);
  } else {
    if (dstPath.endsWith('/') && !st.isDirectory()) throw new CopyError('no such directory');
    target = path.posix.dirname(dstPath.replace(/\/+$/, '') || '/');
    top = path.posix.basename(dstPath.replace(/\/+$/, ''));
  }
  // The daemon answers a missing target before reading the body: ask first, for its own message.
  if (!dstStat || !dstIsDir) await requireInContainer(ctx, container, target);
  const packed = packLocal(src, top, opts.follow);
  const res = await uploadStream(ctx.client, 'PUT', containerPath(container, '/archive'), {
    query: { ...query, path: target },
    headers: { 'Content-Type': 'application/x-tar' },
    body: Readable.from(packed.stream),
  });
  res.resume();
  report(ctx, opts.quiet, packed.size(), `${container}:${dstPath}`);
}

export const cpCommand: Command = {
  name: 'cp',
  usage: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tskiff cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  summary: 'Copy files/folders between a container and the local filesystem',
  interspersed: true,
  args: { min: 2, max: 2 },
  flags: [
    { name: 'archive', short: 'a', type: 'bool', description: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', type: 'bool', description: 'Always follow symbol link in SRC_PATH' },
    {
      name: 'quiet',
      short: 'q',
      type: 'bool',
      description:
        'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached',
    },
  ],
  async run(ctx, { flags, args }) {
    const src = splitCpArg(args[0] ?? '');
    const dst = splitCpArg(args[1] ?? '');
    if (src.container !== undefined && dst.container !== undefined) {
      throw new StatusError(1, 'copying between containers is not supported');
    }
    if (src.container === undefined && dst.container === undefined) {
      throw new StatusError(1, 'must specify at least one container source');
    }
    if ((src.container !== undefined && src.path === '') || (dst.container !== undefined && dst.path === '')) {
      throw new StatusError(1, 'filepath cannot be empty');
    }
    const opts = {
      follow: flags['follow-link'] === true,
      quiet: flags.quiet === true,
      archive: flags.archive === true,
    };
    try {
      if (src.container !== undefined) await copyFromContainer(ctx, src.container, src.path, dst.path, opts);
      else await copyToContainer(ctx, src.path, dst.container as string, dst.path, opts);
    } catch (err) {
      if (err instanceof CopyError) throw new StatusError(1, err.message);
      throw err;
    }
    return 0;
  },
};
