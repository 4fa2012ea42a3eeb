import { InvalidParameterError } from '../plugin-api/errors.js';

/**
 * `since`/`until` of GET /containers/{id}/logs as the docker CLI sends them: Unix time with up to
 * nine fractional digits (`1700000000.123456789`), as nanoseconds; 0n when absent or zero. Kept
 * exact (BigInt) so that `--since` with an entry's own timestamp includes that entry.
 */
export function timeParamNanos(v: unknown, name: string): bigint {
  if (v === undefined || v === '') return 0n;
  const s = String(Array.isArray(v) ? v[0] : v);
  const m = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(s);
  if (!m) throw new InvalidParameterError(`invalid value for ${name}: ${s}`);
  const sec = BigInt(m[1]!);
  const frac = BigInt((m[2] ?? '').padEnd(9, '0'));
  return sec * 1_000_000_000n + (sec < 0n ? -frac : frac);
}

/** An entry's RFC 3339 UTC time with nanoseconds (`2026-11-22T12:17:56.383760558Z`) as nanoseconds. */
export function entryNanos(time: string): bigint {
  const m = /^(.{19})(?:\.(\d{1,9}))?Z$/.exec(time);
  const ms = Date.parse(`${m ? m[1] : time}Z`);
  if (!m || Number.isNaN(ms)) return 0n;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
