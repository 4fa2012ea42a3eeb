import { createHash, type Hash } from 'node:crypto';
import { InvalidParameterError } from '../plugin-api/errors.js';

/**
 * Digest syntax and hashing. The store accepts only `sha256:` + 64 lowercase hex so that a digest
 * taken from a registry or an API call can never become a path traversal or an odd URL.
 */
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Algorithms go-digest knows, with the length of their hex encoding. */
const ALGORITHMS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
/** go-digest's DigestRegexp: any syntactically valid digest, supported or not. */
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isSha256Digest(s: unknown): boolean {
  return typeof s === 'string' && SHA256_DIGEST.test(s);
}

/** Throws InvalidParameterError unless `s` is `sha256:` followed by 64 lowercase hex digits. */
export function assertSha256Digest(s: unknown): asserts s is string {
  if (!isSha256Digest(s))
    throw new InvalidParameterError(`invalid digest ${describe(s)}: expected sha256:<64 lowercase hex>`);
}

/**
 * Validates a digest like go-digest's `Digest.Validate` (sha256, sha384, sha512) and returns the
 * algorithm and hex. The error messages are go-digest's, which dockerd passes through.
 */
export function parseDigest(s: string): { algorithm: string; hex: string } {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw new InvalidParameterError('invalid checksum digest format');
  const algorithm = s.slice(0, i);
  const hex = s.slice(i + 1);
  if (!Object.hasOwn(ALGORITHMS, algorithm)) {
    if (!ANY_DIGEST.test(s)) throw new InvalidParameterError('invalid checksum digest format');
    throw new InvalidParameterError('unsupported digest algorithm');
  }
  if (hex.length !== ALGORITHMS[algorithm]) throw new InvalidParameterError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidParameterError('invalid checksum digest format');
  return { algorithm, hex };
}

export function isValidDigest(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

/** A hasher for the algorithm of `digest` (which must be valid). */
export function hasherFor(digest: string): Hash {
  return createHash(parseDigest(digest).algorithm);
}

export function digestOf(data: Uint8Array, algorithm: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** True when `data` hashes to `digest` (any supported algorithm). */
export function matchesDigest(data: Uint8Array, digest: string): boolean {
  const { algorithm } = parseDigest(digest);
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` === digest;
}

/** A short, printable rendering of untrusted input for error messages. */
export function describe(s: unknown): string {
  if (typeof s !== 'string') return String(typeof s);
  const cut = s.length > 100 ? `${s.slice(0, 100)}…` : s;
  return JSON.stringify(cut);
}
