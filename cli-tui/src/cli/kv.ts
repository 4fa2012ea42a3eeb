// Repeatable KEY=VALUE flags (--label, --opt, --aux-address) → a map.

import { UsageError } from './errors.js';

/** Values without "=" map to "" (docker's --label), unless `requireValue` names the flag. */
export function keyValues(values: readonly string[] | undefined, requireValue?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq < 0) {
      if (requireValue) {
        throw new UsageError(
          `invalid argument "${v}" for "${requireValue}" flag: invalid key value pair format: ${v}`,
          'flag',
        );
      }
      out[v] = '';
    } else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** "k=v,k2=v2" in key order (docker joins a Go map, whose order varies; sorted is stable). */
export function joinLabels(labels: Record<string, string> | null | undefined): string {
  return Object.keys(labels ?? {})
    .sort()
    .map((k) => `${k}=${labels?.[k] ?? ''}`)
    .join(',');
}
