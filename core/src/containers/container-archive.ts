import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { ArchiveEntryError, extractTar } from '../host/in-root/extract.js';
import { goFileMode, goTime, packTree } from '../host/in-root/pack.js';
import { PinnedRoot, type Resolved, type RootMount } from '../host/in-root/pinned-root.js';
import type { SysError } from '../host/in-root/syscalls.js';
import type { ImageService } from '../images/image-service.js';
import { sniffCompression } from '../images/decompress.js';
import { InvalidParameterError, NotFoundError, SkiffError, SystemError } from '../plugin-api/errors.js';
import type { ContainerVolumes } from '../volumes/container-volumes.js';
import { ContainerFiles } from './container-files.js';
import type { ContainerService } from './container-service.js';
import type { ContainerRecord } from './container-types.js';
import { resolveUser } from './user.js';

/** The `X-Docker-Container-Path-Stat` header's JSON (moby's ContainerPathStat). */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface ExtractRequest {
  /** Refuse to replace a directory by a non-directory and the reverse (the CLI always asks). */
  noOverwriteDirNonDir: boolean;
  /** `docker cp -a`: owned by the container's user instead of the archive's uid/gid. */
  copyUIDGID: boolean;
}

/**
 * moby's PreserveTrailingDotOrSeparator after joining with `/`: `path` as an absolute, clean
 * container path that still ends in `/` or `/.` when the client's did (which makes the final
 * symlink followed and, for `/.`, means "the directory's contents").
 */
export function containerPath(path: string): string {
  if (path === '') throw new InvalidParameterError('bad parameter: pathcannot be empty');
  if (path.includes('\0')) throw new InvalidParameterError('bad parameter: path contains a NUL byte');
  const clean = posix.join('/', path);
  if (clean === '/') return '/';
  if ((path.endsWith('/.') || path === '.') && !clean.endsWith('/.')) return `${clean}/.`;
  if (path.endsWith('/') && !clean.endsWith('/')) return `${clean}/`;
  return clean;
}

/** Go's filepath.Base. */
export function goBase(path: string): string {
  const p = path.replace(/\/+$/, '');
  if (p === '') return '/';
  return p.slice(p.lastIndexOf('/') + 1);
}

const ERRNO_TEXT: Record<string, string> = {
  ENOTDIR: 'not a directory',
  ELOOP: 'too many levels of symbolic links',
  EACCES: 'permission denied',
  EXDEV: 'invalid cross-device link',
  ENOENT: 'no such file or directory',
  EEXIST: 'file exists',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EBUSY: 'device or resource busy',
  ENOTEMPTY: 'directory not empty',
  EPERM: 'operation not permitted',
  EINVAL: 'invalid argument',
};

/** Host binaries for the formats zlib lacks: run by absolute path, from `/`, with an empty environment. */
const HOST_DECOMPRESSORS = { xz: '/usr/bin/xz', bzip2: '/usr/bin/bzip2' } as const;

/** The first bytes of `body` (for its magic number), left in the stream. */
function peek(body: Readable): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const done = (b: Buffer) => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', reject);
      resolve(b);
    };
    const onReadable = () => {
      const chunk = body.read() as Buffer | null;
      if (chunk === null) return;
      body.unshift(chunk);
      done(chunk.subarray(0, 8));
    };
    const onEnd = () => done(Buffer.alloc(0));
    body.on('readable', onReadable);
    body.once('end', onEnd);
    body.once('error', reject);
  });
}

/**
 * A PUT body as a plain tar: gzip and zstd by zlib, xz and bzip2 by the host's own tools. This
 * happens in the daemon before anything touches the container (a `xz` inside the container is
 * never looked up, unlike CVE-2026-41567's dockerd).
 */
export async function uncompressedBody(body: Readable): Promise<Readable> {
  const first = await peek(body);
  const compression = sniffCompression(first);
  if (compression === 'none') return body;
  if (compression === 'gzip' || compression === 'zstd') {
    const chunkSize = 256 * 1024;
    const inflate = compression === 'gzip' ? createGunzip({ chunkSize }) : createZstdDecompress({ chunkSize });
    pipeline(body, inflate, () => {});
    return inflate;
  }
  const child = spawn(HOST_DECOMPRESSORS[compression], ['-d', '-c', '-q'], {
    cwd: '/',
    env: {},
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 4096)));
  child.stdin.on('error', () => {});
  pipeline(body, child.stdin, () => {});
  // pipe() keeps back-pressure; the end is the process's exit status, not its stdout's EOF.
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  child.once('error', (e) => out.destroy(e));
  child.once('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new ArchiveEntryError(`${compression} decompression failed: ${stderr.trim() || `exit ${code}`}`));
  });
  out.once('close', () => child.kill());
  return out;
}

/**
 * `docker cp`: HEAD/GET/PUT /containers/{id}/archive, on running and stopped containers alike.
 * Paths are resolved as the container sees them — its rootfs plus its volumes and bind mounts —
 * by PinnedRoot, from directory fds pinned with openat2, so nothing the container does can make
 * the daemon read or write outside the container's tree; no binary or library of the container
 * is ever run or loaded.
 */
export class ContainerArchive {
  private readonly files: ContainerFiles;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly containers: ContainerService,
    private readonly images: ImageService,
    private readonly volumes?: ContainerVolumes,
  ) {
    this.files = new ContainerFiles(containers, images);
  }

  /** `HEAD /containers/{id}/archive`. */
  async stat(ref: string, path: string): Promise<ContainerPathStat> {
    const abs = containerPath(path);
    const c = this.containers.get(ref);
    return this.withRoot(c, (root) => {
      const r = this.lookup(root, abs, false, path, ref);
      try {
        return Promise.resolve(this.statOf(root, r, abs));
      } finally {
        r.release();
      }
    });
  }

  /**
   * `GET /containers/{id}/archive`: `send` gets the stat and the tar stream and must settle once
   * the stream has been sent (or abandoned).
   */
  async archive(
    ref: string,
    path: string,
    send: (stat: ContainerPathStat, tar: Readable) => Promise<void>,
  ): Promise<void> {
    const abs = containerPath(path);
    const c = this.containers.get(ref);
    await this.withRoot(c, async (root) => {
      const r = this.lookup(root, abs, false, path, ref);
      try {
        const stat = this.statOf(root, r, abs);
        const stream = packTree(root, r.node, goBase(abs));
        try {
          await send(stat, stream);
        } finally {
          stream.destroy();
          await stream.done; // no fd of `root` may close under the walk
        }
      } finally {
        r.release();
      }
    });
    this.publish(c, 'archive-path');
  }

  /** `PUT /containers/{id}/archive`: extracts the (possibly compressed) tar `body` into the directory `path`. */
  async extract(ref: string, path: string, body: Readable, req: ExtractRequest): Promise<void> {
    const abs = containerPath(path);
    const c = this.containers.get(ref);
    await this.withRoot(c, async (root, rootfs) => {
      const r = this.lookup(root, abs, true, path, ref);
      try {
        if (!r.node.stat.isDirectory()) throw new SystemError('extraction point is not a directory');
        if (r.node.mount >= 0 && root.isReadOnly(r.node)) throw new SystemError('mounted volume is marked read-only');
        if (r.node.mount < 0 && root.isReadOnly(r.node)) throw new SystemError('container rootfs is marked read-only');
        let owner: { uid: number; gid: number } | undefined;
        if (req.copyUIDGID && c.Config.User) {
          const u = await resolveUser(rootfs, c.Config.User);
          owner = { uid: u.uid, gid: u.gid };
        }
        const tarStream = await uncompressedBody(body);
        try {
          await extractTar(root, r.node, `/${r.node.path.join('/')}`, tarStream, {
            noOverwriteDirNonDir: req.noOverwriteDirNonDir,
            owner,
          });
        } catch (err) {
          if (err instanceof SkiffError) throw err;
          if (err instanceof ArchiveEntryError)
            throw new SystemError(`Error processing tar file(exit status 1): ${err.message}`);
          const e = err as SysError;
          if (typeof e.code === 'string' && typeof e.syscall === 'string') {
            const what = e.path === undefined ? e.syscall : `${e.syscall} ${e.path}`;
            throw new SystemError(
              `Error processing tar file(exit status 1): ${what}: ${ERRNO_TEXT[e.code] ?? e.code}`,
              { cause: err },
            );
          }
          throw new SystemError(`Error processing tar file(exit status 1): ${(err as Error).message}`, { cause: err });
        } finally {
          tarStream.destroy();
        }
      } finally {
        r.release();
      }
    });
    this.publish(c, 'extract-to-dir');
  }

  private lookup(root: PinnedRoot, abs: string, followFinal: boolean, asked: string, ref: string): Resolved {
    try {
      return root.resolve(abs, followFinal);
    } catch (err) {
      if ((err as SysError).code === 'ENOENT')
        throw new NotFoundError(`Could not find the file ${asked} in container ${ref}`);
      const code = (err as SysError).code;
      const why = code === undefined ? (err as Error).message : (ERRNO_TEXT[code] ?? code);
      throw new SystemError(`lstat ${asked}: ${why}`, { cause: err });
    }
  }

  /** moby's StatPath: the final component not followed (unless the path ends in `/` or `/.`). */
  private statOf(root: PinnedRoot, r: Resolved, abs: string): ContainerPathStat {
    const st = r.node.stat;
    return {
      name: goBase(abs),
      size: Number(st.size),
      mode: goFileMode(Number(st.mode)),
      mtime: goTime(st.mtimeNs),
      linkTarget: st.isSymbolicLink() ? root.realPath(abs) : '',
    };
  }

  /** The container's tree pinned for `fn`, one operation per container at a time (a stopped one is mounted for it). */
  private async withRoot<T>(c: ContainerRecord, fn: (root: PinnedRoot, rootfs: string) => Promise<T>): Promise<T> {
    const work = () =>
      this.files.withRoots(c, false, async (rootfs) => {
        const root = PinnedRoot.open(rootfs, {
          mounts: this.mountsOf(c),
          readOnlyRootfs: c.HostConfig.ReadonlyRootfs === true,
        });
        try {
          return await fn(root, rootfs);
        } finally {
          root.close();
        }
      });
    // A running container's rootfs is shared as it is; a stopped one's snapshot is mounted once at a time.
    if (c.State.Running) return work();
    const prev = this.locks.get(c.Id) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(work);
    this.locks.set(c.Id, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(c.Id) === run) this.locks.delete(c.Id);
    }
  }

  /** What the container sees mounted over its rootfs: volumes, bind mounts, and the /etc files of the core. */
  private mountsOf(c: ContainerRecord): RootMount[] {
    const mounts: RootMount[] = (this.volumes?.mountsView(c.Id) ?? [])
      .filter((m) => m.Type !== 'tmpfs')
      .map((m) => ({ destination: m.Destination, source: m.Source, readOnly: !m.RW }));
    // Written by the core and bound over the image's files once the container has started.
    for (const [destination, source] of [
      ['/etc/resolv.conf', c.ResolvConfPath],
      ['/etc/hostname', c.HostnamePath],
      ['/etc/hosts', c.HostsPath],
    ] as const) {
      if (source && existsSync(source) && !mounts.some((m) => posix.normalize(m.destination) === destination))
        mounts.push({ destination, source, readOnly: c.HostConfig.ReadonlyRootfs === true });
    }
    return mounts;
  }

  private publish(c: ContainerRecord, action: string): void {
    this.images.local.events.publish({
      Type: 'container',
      Action: action,
      Actor: { ID: c.Id, Attributes: { ...c.Config.Labels, image: c.Config.Image, name: c.Name.slice(1) } },
    });
  }
}
