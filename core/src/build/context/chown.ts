import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { isErrno } from '../../host/fs.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { resolveInScope } from './scoped-path.js';

const MAX_ID = 2147483647;
const MAX_DB_SIZE = 16 << 20;

export interface Identity {
  uid: number;
  gid: number;
}

/** A file of the rootfs read with its symlinks resolved inside it; undefined when absent. */
async function readInRoot(rootfs: string, path: string): Promise<string | undefined> {
  const r = await resolveInScope(rootfs, path);
  if (r.stat === undefined || !r.stat.isFile()) return undefined;
  if (r.stat.size > MAX_DB_SIZE) throw new InvalidParameterError(`${path} in the image is too large`);
  const fh = await open(r.real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT', 'ELOOP')) return undefined;
    throw e;
  });
  if (!fh) return undefined;
  try {
    return (await fh.readFile()).toString('utf8');
  } finally {
    await fh.close();
  }
}

function numeric(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  if (n > MAX_ID) throw new InvalidParameterError(`uids and gids must be in range 0-${MAX_ID}`);
  return n;
}

/** The id of the first entry named `name` in a passwd/group style file (field 0 = name, field 2 = id). */
function lookup(text: string | undefined, name: string): number | undefined {
  for (const line of (text ?? '').split('\n')) {
    if (line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length >= 3 && f[0] === name && /^\d+$/.test(f[2] as string)) return Number(f[2]);
  }
  return undefined;
}

const PREFIX = 'unable to convert uid/gid chown string to host mapping';

/**
 * Resolves a `--chown` flag against the image as dockerd's classic builder does: `user` alone
 * means `user:user` (the group is looked up by the same name, not the user's primary group);
 * numbers need no entry; names come from the rootfs's /etc/passwd and /etc/group.
 */
export async function resolveChown(rootfs: string, chown: string): Promise<Identity> {
  const parts = chown.split(':');
  if (parts.length > 2) throw new InvalidParameterError(`${PREFIX}: invalid chown string format: ${chown}`);
  const userStr = parts[0] as string;
  const groupStr = parts.length === 1 ? userStr : (parts[1] as string);
  let uid = numeric(userStr);
  if (uid === undefined) {
    uid = lookup(await readInRoot(rootfs, '/etc/passwd'), userStr);
    if (uid === undefined) {
      throw new InvalidParameterError(`${PREFIX}: can't find uid for user ${userStr}: no such user: ${userStr}`);
    }
  }
  let gid = numeric(groupStr);
  if (gid === undefined) {
    gid = lookup(await readInRoot(rootfs, '/etc/group'), groupStr);
    if (gid === undefined) {
      throw new InvalidParameterError(`${PREFIX}: can't find gid for group ${groupStr}: no such group: ${groupStr}`);
    }
  }
  return { uid, gid };
}

/** `--chmod=` as octal permission bits. */
export function parseChmod(chmod: string): number {
  if (!/^[0-7]{1,4}$/.test(chmod)) throw new InvalidParameterError(`invalid chmod parameter: ${chmod}`);
  return Number.parseInt(chmod, 8);
}
