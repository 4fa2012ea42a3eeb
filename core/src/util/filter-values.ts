import { InvalidParameterError } from '../plugin-api/errors.js';

/** Refuses filter keys outside `known`, as dockerd's filters.Validate does. */
export function checkFilterKeys(filters: Map<string, string[]>, known: readonly string[]): void {
  for (const k of filters.keys()) if (!known.includes(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
}

/** Go's strconv.ParseBool, as filters use it. */
export function parseBool(v: string, key: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new InvalidParameterError(`invalid filter '${key}=${v}'`);
}

const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** dockerd's timestamp filter values: unix seconds, a Go duration before now, or an RFC 3339 date. In ms. */
export function parseTimestamp(v: string, key: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  if (DURATION.test(v)) {
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return now - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameterError(`invalid filter '${key}=${v}'`);
  return t;
}

/** `label` filter values: `key` (present) or `key=value`. */
export function matchLabel(labels: Record<string, string>, filter: string): boolean {
  const i = filter.indexOf('=');
  if (i < 0) return Object.hasOwn(labels, filter);
  const k = filter.slice(0, i);
  return Object.hasOwn(labels, k) && labels[k] === filter.slice(i + 1);
}

/**
 * The label test of every prune (moby's matchLabels): all `label` values match, and unless
 * `label!` is absent, not all of its values do.
 */
export function pruneLabelsMatch(labels: Record<string, string>, filters: Map<string, string[]>): boolean {
  if (!(filters.get('label') ?? []).every((f) => matchLabel(labels, f))) return false;
  const not = filters.get('label!');
  return !(not && not.length > 0 && not.every((f) => matchLabel(labels, f)));
}

/** `until` of a prune: the cutoff in ms (things created at or after it are kept), if given. */
export function pruneCutoff(filters: Map<string, string[]>): number | undefined {
  const until = filters.get('until');
  if (!until || until.length === 0) return undefined;
  if (until.length > 1) throw new InvalidParameterError('filters: only one until filter is allowed');
  return parseTimestamp(until[0]!, 'until');
}
