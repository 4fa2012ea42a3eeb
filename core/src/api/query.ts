import { InvalidParameterError } from '../plugin-api/errors.js';

/** moby's rule: false iff the trimmed, lower-cased value is "", 0, no, false or none. */
export function boolParam(v: unknown, dflt = false): boolean {
  if (v === undefined) return dflt;
  const s = String(Array.isArray(v) ? v[0] : v)
    .trim()
    .toLowerCase();
  return !['', '0', 'no', 'false', 'none'].includes(s);
}

export function intParam(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  if (!Number.isFinite(n)) throw new InvalidParameterError(`invalid value for ${name}: ${String(v)}`);
  return n;
}

/** `filters` in both shapes clients send: `{"k":{"v":true}}` (CLI) and `{"k":["v"]}` (docker-py, dockerode). */
export function parseFilters(raw: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw === undefined || raw === '') return out;
  let obj: unknown;
  try {
    obj = JSON.parse(String(raw));
  } catch (err) {
    throw new InvalidParameterError(`invalid filter: ${(err as Error).message}`);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw new InvalidParameterError('invalid filter: not an object');
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object')
      out.set(
        k,
        Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]),
      );
    else throw new InvalidParameterError(`invalid filter '${k}'`);
  }
  return out;
}
