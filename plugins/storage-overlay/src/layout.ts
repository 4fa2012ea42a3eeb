import { randomBytes } from 'node:crypto';
import { MOUNT_DATA_MAX, planMount } from '@skiff/core/host';
import { InvalidParameterError, type Mount } from '@skiff/core/plugin-api';

/**
 * overlayfs accepts up to 500 lower layers, but mount(2) takes one page of options. Lowerdirs
 * are links `l/<10-char id>`, 11 bytes each once made relative to `l/` (see planMount), so 128
 * layers (moby's overlay2 limit) take 1408 bytes and leave room for long data-root paths in the
 * absolute upperdir and workdir.
 */
export const MAX_LAYERS = 128;

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** A short random id (50 bits): keeps lowerdir strings small. */
export function shortId(): string {
  const bytes = randomBytes(10);
  let out = '';
  for (const b of bytes) out += ID_ALPHABET[b & 31];
  return out;
}

export interface SnapshotDirs {
  /** The upper (or only) directory: the snapshot's own files. */
  fs: string;
  work: string;
}

export interface OverlayPlan {
  /** The snapshot's own dirs when it is writable. */
  upper?: SnapshotDirs;
  /** The committed ancestors' `fs` dirs (or links to them), nearest first. */
  lowers: string[];
  /** Extra overlay options such as `index=off`. */
  extraOptions?: string[];
}

/**
 * The mounts for a snapshot: a plain bind when there is nothing to stack (a base layer, or a
 * view of a single layer), otherwise an overlay. Refuses stacks deeper than MAX_LAYERS or option
 * strings that cannot fit a page even with relative lowerdirs.
 */
export function overlayMounts(plan: OverlayPlan): Mount[] {
  const { upper, lowers } = plan;
  if (lowers.length > MAX_LAYERS) {
    throw new InvalidParameterError(
      `snapshot would stack ${lowers.length} layers; overlay supports at most ${MAX_LAYERS}`,
    );
  }
  for (const p of [...lowers, upper?.fs ?? '', upper?.work ?? '']) {
    if (/[,:\\]/.test(p)) throw new InvalidParameterError(`overlay paths may not contain ',', ':' or '\\': ${p}`);
  }
  if (upper && lowers.length === 0) return [{ type: 'bind', source: upper.fs, options: ['rbind', 'rw'] }];
  if (!upper && lowers.length === 1) return [{ type: 'bind', source: lowers[0] as string, options: ['rbind', 'ro'] }];
  if (!upper && lowers.length === 0) throw new InvalidParameterError('a view needs at least one layer');
  const options = [...(plan.extraOptions ?? []), `lowerdir=${lowers.join(':')}`];
  if (upper) options.push(`upperdir=${upper.fs}`, `workdir=${upper.work}`);
  else options.push('ro');
  const mount: Mount = { type: 'overlay', source: 'overlay', options };
  // Throws SystemError when it cannot fit one page, even relative: fail at prepare, not at start.
  planMount(mount, '/');
  return [mount];
}

export { MOUNT_DATA_MAX };
