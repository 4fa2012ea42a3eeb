// Times as Go prints them in docker's output.

/** RFC 3339 in UTC without fractions ("2026-11-23T03:12:45Z"), as `time.Format(time.RFC3339)`. */
export function rfc3339(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 19)}Z`;
}

const RFC3339 = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/;

/**
 * A time from the API as Go's `time.Time.String()` prints it after decoding ("2026-11-23 12:06:28.362 +0000 UTC"):
 * fraction without trailing zeros, numeric offset, and the zone's name (UTC, or the offset again for a fixed zone).
 * Text that is not RFC 3339 comes back unchanged; an absent time is Go's zero time.
 */
export function goTimeString(text: string | undefined): string {
  if (text === undefined || text === '') return '0001-01-01 00:00:00 +0000 UTC';
  const m = RFC3339.exec(text);
  if (!m) return text;
  const [, date, clock, fraction, zone] = m as unknown as [string, string, string, string | undefined, string];
  const frac = (fraction ?? '').slice(0, 9).replace(/0+$/, '');
  const offset = zone === 'Z' ? '+0000' : zone.replace(':', '');
  const name = zone === 'Z' || offset === '+0000' || offset === '-0000' ? 'UTC' : offset;
  return `${date} ${clock}${frac ? `.${frac}` : ''} ${offset === '-0000' ? '+0000' : offset} ${name}`;
}
