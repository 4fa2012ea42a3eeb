// `--filter key=value` flags → the `filters` query parameter ({"key":{"value":true}}).

import { UsageError } from './errors.js';

export type Filters = Record<string, Record<string, boolean>>;

export function addFilter(filters: Filters, key: string, value: string): Filters {
  filters[key] = { ...filters[key], [value]: true };
  return filters;
}

/** Parses the flag values; a value without "=" is docker's flag error (exit 125, with usage). */
export function parseFilterFlags(values: readonly string[] | undefined, base: Filters = {}): Filters {
  const filters: Filters = { ...base };
  for (const raw of values ?? []) {
    const eq = raw.indexOf('=');
    if (eq < 0) {
      throw new UsageError(
        `invalid argument "${raw}" for "-f, --filter" flag: bad format of filter (expected name=value)`,
        'flag',
      );
    }
    const key = raw.slice(0, eq).trim().toLowerCase();
    const value = raw.slice(eq + 1).trim();
    addFilter(filters, key, value);
  }
  return filters;
}

/** The query value, or undefined when there is no filter at all. */
export function filtersQuery(filters: Filters): string | undefined {
  return Object.keys(filters).length === 0 ? undefined : JSON.stringify(filters);
}
