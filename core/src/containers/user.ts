import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isErrno } from '../host/fs.js';
import { resolveDirInRoot } from '../host/resolve.js';
import { InvalidParameterError } from '../plugin-api/errors.js';

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

const MAX_ID = 2147483647;
const MAX_LINKS = 40;
/** /etc/passwd and /etc/group larger than this are refused rather than read into memory. */
const MAX_DB_SIZE = 16 << 20;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  if (n > MAX_ID) throw new InvalidParameterError(`uids and gids must be in range 0-${MAX_ID}`);
  return n;
}

/**
 * Reads the file at `path` (absolute, as the container sees it) inside `root`, resolving every
 * symlink the way the container would, so an image cannot point it at a host file. Undefined when
 * the file (or a directory on the way) is missing or is not a regular file.
 */
async function readFileInRoot(root: string, path: string): Promise<string | undefined> {
  let components = path.split('/').filter((c) => c !== '' && c !== '.');
  for (let links = 0; links <= MAX_LINKS; links++) {
    const base = components.pop();
    if (base === undefined || base === '..') return undefined;
    const dir = await resolveDirInRoot(root, components).catch((e: unknown) => {
      // A missing or non-directory component means there is no such file in the container.
      if (e instanceof InvalidParameterError) return undefined;
      throw e;
    });
    if (dir === undefined) return undefined;
    const file = join(dir, base);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(file);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    }
    if (st.isSymbolicLink()) {
      const target = await readlink(file);
      const parent = relative(root, dir)
        .split('/')
        .filter((c) => c !== '');
      components = [
        ...(target.startsWith('/') ? [] : parent),
        ...target.split('/').filter((c) => c !== '' && c !== '.'),
      ];
      // Resolve `..` lexically against the root, clamped at `/` like the kernel does for a chroot.
      const clean: string[] = [];
      for (const c of components) {
        if (c === '..') clean.pop();
        else clean.push(c);
      }
      components = clean;
      continue;
    }
    if (!st.isFile()) return undefined;
    if (st.size > MAX_DB_SIZE)
      throw new InvalidParameterError(`${path} in the container is too large (${st.size} bytes)`);
    // O_NOFOLLOW: the entry was a regular file a moment ago; never follow a symlink swapped in since.
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT', 'ELOOP')) return undefined;
      throw e;
    });
    if (!fh) return undefined;
    try {
      const buf = await fh.readFile();
      return buf.subarray(0, MAX_DB_SIZE).toString('utf8');
    } finally {
      await fh.close();
    }
  }
  throw new InvalidParameterError(`too many levels of symlinks resolving ${path} in the container`);
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = /^\d+$/.test(f[2]!) ? Number(f[2]) : Number.NaN;
    const gid = /^\d+$/.test(f[3]!) ? Number(f[3]) : Number.NaN;
    if (Number.isNaN(uid) || Number.isNaN(gid)) continue;
    out.push({ name: f[0]!, uid, gid });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2]!)) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0]!, gid: Number(f[2]), members });
  }
  return out;
}

/**
 * Resolves a Docker `User` (`''`, `name`, `uid`, `name:group`, `uid:gid`, …) against the image's
 * /etc/passwd and /etc/group, with the semantics of runc's `user.GetExecUser` that dockerd uses:
 * a numeric id needs no entry; a name must exist; supplementary groups come from group membership
 * only when no group is given.
 */
export async function resolveUser(rootfs: string, userSpec: string | undefined | null): Promise<ProcessUser> {
  const spec = (userSpec ?? '').trim();
  const colon = spec.indexOf(':');
  const userArg = (colon < 0 ? spec : spec.slice(0, colon)) || '0';
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const uidArg = parseId(userArg);
  const gidArg = groupArg === '' ? undefined : parseId(groupArg);

  const passwdText = await readFileInRoot(rootfs, '/etc/passwd');
  const users = passwdText === undefined ? [] : parsePasswd(passwdText);
  const match = users.find((u) => u.name === userArg || (uidArg !== undefined && u.uid === uidArg));
  let uid: number;
  let gid = 0;
  let name = '';
  if (match) {
    ({ uid, gid, name } = match);
  } else if (uidArg !== undefined) {
    uid = uidArg;
  } else {
    throw new InvalidParameterError(`unable to find user ${userArg}: no matching entries in passwd file`);
  }

  const additionalGids: number[] = [];
  if (groupArg !== '' || name !== '') {
    const groupText = await readFileInRoot(rootfs, '/etc/group');
    const groups = groupText === undefined ? [] : parseGroup(groupText);
    if (groupArg !== '') {
      const g = groups.find((e) => e.name === groupArg || (gidArg !== undefined && e.gid === gidArg));
      if (g) gid = g.gid;
      else if (gidArg !== undefined) gid = gidArg;
      else throw new InvalidParameterError(`unable to find group ${groupArg}: no matching entries in group file`);
    } else {
      for (const g of groups)
        if (g.members.includes(name) && !additionalGids.includes(g.gid)) additionalGids.push(g.gid);
    }
  }
  return { uid, gid, additionalGids };
}
