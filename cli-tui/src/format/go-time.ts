// Times as Go prints them in docker's output.

/** RFC 3339 in UTC without fractions ("2026-11-23T03:12:45Z"), as `time.Format(time.RFC3339)`. */
export function rfc3339(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 19)}Z`;
}
