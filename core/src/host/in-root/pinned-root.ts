import { closeSync, fstatSync, type BigIntStats } from 'node:fs';
import {
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  openat,
  openat2,
  readlinkat,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  RESOLVE_NO_XDEV,
  type SysError,
} from './syscalls.js';

/** Linux's own limit on symlinks followed while resolving one path. */
const MAX_LINKS = 40;

/** A host directory (or file) that the container sees at `destination` (a volume or a bind mount). */
export interface RootMount {
  destination: string;
  source: string;
  readOnly: boolean;
}

/**
 * One resolved component: an O_PATH fd pinning its inode, and the path the container sees it at
 * (symlinks resolved). `mount` is the index of the mount it lives in, -1 for the rootfs.
 */
export interface PinnedNode {
  readonly fd: number;
  readonly path: readonly string[];
  readonly mount: number;
  readonly stat: BigIntStats;
  /** Whether the fd belongs to this node (the root's and mounts' fds belong to the PinnedRoot). */
  readonly owned: boolean;
}

export interface Resolved {
  /** The final component (the root itself for `/`). */
  node: PinnedNode;
  /** The directory holding it; undefined for the root. */
  parent: PinnedNode | undefined;
  /** The final component's name in `parent` ('' for the root). */
  name: string;
  /** Closes every fd of the resolution. */
  release(): void;
}

function errno(code: string, message: string): SysError {
  const err = new Error(message) as SysError;
  err.code = code;
  err.errno = 0;
  err.syscall = 'resolve';
  return err;
}

/** `/a/./b/` → ['', 'a', '.', 'b', '']: every component is kept ('.', '..', '' too) for the walker. */
function components(path: string): string[] {
  if (path.includes('\0')) throw errno('EINVAL', `path contains a NUL byte: ${JSON.stringify(path)}`);
  return path.split('/');
}

/**
 * A container's filesystem as the container sees it: the rootfs plus its volumes and bind
 * mounts, every path resolved one component at a time from pinned directory fds with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, and RESOLVE_NO_XDEV inside the rootfs). Symlinks are
 * followed by the walker itself, inside the root: an absolute target restarts at the root and
 * `..` never climbs above it, as in the container. Whatever the container does meanwhile
 * (swapping a directory for a symlink to `/`, renaming things), every fd stays inside its tree.
 */
export class PinnedRoot {
  private readonly mounts: Array<RootMount & { fd: number; key: string }> = [];
  private readonly byPath = new Map<string, number>();
  readonly root: PinnedNode;
  private closed = false;

  private constructor(
    rootFd: number,
    readonly readOnlyRootfs: boolean,
  ) {
    this.root = { fd: rootFd, path: [], mount: -1, stat: fstatSync(rootFd, { bigint: true }), owned: false };
  }

  /**
   * Pins `rootfs` (a trusted host path) and the sources of `mounts`. A mount's destination is
   * resolved in the container's tree the way the runtime mounted it (symlinks followed), so a
   * volume at `/var/run` where the image has `/var/run -> /run` is found at `/run`.
   */
  static open(rootfs: string, opts: { mounts?: readonly RootMount[]; readOnlyRootfs?: boolean } = {}): PinnedRoot {
    const fd = openat(-100, rootfs, O_PATH | O_DIRECTORY);
    const r = new PinnedRoot(fd, opts.readOnlyRootfs ?? false);
    try {
      const sorted = [...(opts.mounts ?? [])].sort(
        (a, b) => a.destination.split('/').length - b.destination.split('/').length,
      );
      for (const m of sorted) {
        let mfd: number;
        try {
          mfd = openat(-100, m.source, O_PATH | O_DIRECTORY);
        } catch (e) {
          // A file bind mount (/etc/hosts), else a vanished source: then the rootfs shows through.
          if ((e as SysError).code !== 'ENOTDIR') continue;
          try {
            mfd = openat(-100, m.source, O_PATH);
          } catch {
            continue;
          }
        }
        const key = r.realPath(m.destination);
        if (r.byPath.has(key)) {
          closeSync(mfd);
          continue;
        }
        r.byPath.set(key, r.mounts.length);
        r.mounts.push({ ...m, fd: mfd, key });
      }
    } catch (err) {
      r.close();
      throw err;
    }
    return r;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.mounts) closeSync(m.fd);
    closeSync(this.root.fd);
  }

  /** Whether writes to `node` must be refused: a read-only mount, or the rootfs of a `--read-only` container. */
  isReadOnly(node: PinnedNode): boolean {
    return node.mount < 0 ? this.readOnlyRootfs : this.mounts[node.mount]!.readOnly;
  }

  /** The mount `node` lives in (undefined for the rootfs). */
  mountOf(node: PinnedNode): RootMount | undefined {
    return node.mount < 0 ? undefined : this.mounts[node.mount];
  }

  /** Whether the mount at the resolved path `path` is a directory (not a bind-mounted file). */
  isMountDir(path: readonly string[]): boolean {
    const m = this.byPath.get(`/${path.join('/')}`);
    return m !== undefined && fstatSync(this.mounts[m]!.fd).isDirectory();
  }

  /** Names in the directory `path` at which the container sees a mount (its mountpoint may be missing in the rootfs). */
  mountNamesIn(path: readonly string[]): string[] {
    const prefix = path.length === 0 ? '/' : `/${path.join('/')}/`;
    return this.mounts
      .filter((m) => m.key.startsWith(prefix) && !m.key.slice(prefix.length).includes('/'))
      .map((m) => m.key.slice(prefix.length));
  }

  /**
   * Whether a lookup of the resolved path `path` from its prefix of `depth` components would enter
   * a mount: the kernel would not see it (the container's mounts live in its own namespace).
   */
  crossesMount(path: readonly string[], depth: number): boolean {
    for (let i = path.length; i > depth; i--) if (this.byPath.has(`/${path.slice(0, i).join('/')}`)) return true;
    return false;
  }

  /**
   * `name` inside the directory `dir`, never following a symlink at `name`: the mount root when
   * the container sees a mount there. Throws ENOENT when missing, ENOTDIR when `dir` is not a
   * directory. The returned node is owned by the caller (`closeNode`).
   */
  child(dir: PinnedNode, name: string): PinnedNode {
    if (name === '' || name === '.' || name === '..' || name.includes('/'))
      throw errno('EINVAL', `not a single path component: ${JSON.stringify(name)}`);
    const path = [...dir.path, name];
    const m = this.byPath.get(`/${path.join('/')}`);
    if (m !== undefined) {
      const mount = this.mounts[m]!;
      return { fd: mount.fd, path, mount: m, stat: fstatSync(mount.fd, { bigint: true }), owned: false };
    }
    const resolve =
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | (dir.mount < 0 ? RESOLVE_NO_XDEV : 0);
    const fd = openat2(dir.fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, resolve);
    try {
      return { fd, path, mount: dir.mount, stat: fstatSync(fd, { bigint: true }), owned: true };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** A second, independently owned fd on the directory `node`. */
  reopen(node: PinnedNode): PinnedNode {
    const fd = openat2(node.fd, '.', O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    return { ...node, fd, owned: true };
  }

  closeNode(node: PinnedNode | undefined): void {
    if (node?.owned) closeSync(node.fd);
  }

  /**
   * Resolves `path` (absolute in the container; a relative one is taken from the root) as the
   * container would. The final component is followed when it is a symlink only if
   * `followFinal`, or when the path ends in `/` or `/.` (as the kernel does). Throws ENOENT,
   * ENOTDIR or ELOOP errors like the kernel's.
   */
  resolve(path: string, followFinal: boolean): Resolved {
    const stack = this.walk(components(path), followFinal);
    return this.resolution(stack);
  }

  /**
   * The path `path` resolves to in the container, every symlink followed; components that do
   * not exist are appended as they are (moby's FollowSymlinkInScope). For stat's `linkTarget`.
   */
  realPath(path: string): string {
    const missing: string[] = [];
    const stack = this.walk(components(path), true, missing);
    const top = stack.at(-1)!;
    const out = [...top.path];
    for (const s of stack) this.closeNode(s);
    for (const c of missing) {
      if (c === '' || c === '.') continue;
      if (c === '..') out.pop();
      else out.push(c);
    }
    return `/${out.join('/')}`;
  }

  private resolution(stack: PinnedNode[]): Resolved {
    const node = stack.at(-1)!;
    const parent = stack.length > 1 ? stack.at(-2) : undefined;
    const keep = new Set([node, parent]);
    for (const s of stack) if (!keep.has(s)) this.closeNode(s);
    let released = false;
    return {
      node,
      parent,
      name: node.path.at(-1) ?? '',
      release: () => {
        if (released) return;
        released = true;
        this.closeNode(node);
        this.closeNode(parent);
      },
    };
  }

  /**
   * The component walk. Returns the stack of nodes from the root to the final one (owned fds
   * must be closed by the caller). With `missing`, a missing component ends the walk instead of
   * throwing, and it and the rest are pushed there.
   */
  private walk(parts: string[], followFinal: boolean, missing?: string[]): PinnedNode[] {
    const stack: PinnedNode[] = [this.root];
    const pending = [...parts];
    let links = 0;
    try {
      while (pending.length > 0) {
        const name = pending.shift()!;
        if (name === '' || name === '.') continue;
        if (name === '..') {
          if (stack.length > 1) this.closeNode(stack.pop());
          continue;
        }
        const top = stack.at(-1)!;
        if (!top.stat.isDirectory()) throw errno('ENOTDIR', `not a directory: /${top.path.join('/')}`);
        let node: PinnedNode;
        try {
          node = this.child(top, name);
        } catch (err) {
          if (missing && (err as SysError).code === 'ENOENT') {
            missing.push(name, ...pending);
            return stack;
          }
          throw err;
        }
        const more = pending.some((p) => p !== '');
        const trailing = pending.length > 0; // `a/` or `a/.`: the kernel follows `a`
        if (node.stat.isSymbolicLink() && (more || trailing || followFinal)) {
          if (++links > MAX_LINKS) {
            this.closeNode(node);
            throw errno('ELOOP', `too many levels of symbolic links: ${parts.join('/')}`);
          }
          let target: string;
          try {
            target = readlinkat(node.fd, '');
          } finally {
            this.closeNode(node);
          }
          if (target.startsWith('/')) while (stack.length > 1) this.closeNode(stack.pop());
          pending.unshift(...components(target));
          continue;
        }
        stack.push(node);
      }
      return stack;
    } catch (err) {
      for (const s of stack) this.closeNode(s);
      throw err;
    }
  }
}
