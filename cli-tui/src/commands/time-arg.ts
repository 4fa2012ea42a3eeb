// docker's timetypes.GetTimestamp: --since/--until values as the "seconds.nanoseconds" the API takes.

export class TimeArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeArgError';
  }
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, in milliseconds; undefined when `text` is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (!m) return text === '0' ? 0 : undefined;
  let total = 0;
  for (const part of text.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (DURATION_UNITS[part[2] as string] as number);
  }
  return m[1] === '-' ? -total : total;
}

function fromMillis(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return `${seconds}.${String(nanos).padStart(9, '0')}`;
}

/** A duration ("10m": that long before now), a unix timestamp, or an RFC 3339 date (local time when no zone). */
export function getTimestamp(value: string, nowMs: number): string {
  const duration = parseGoDuration(value);
  if (duration !== undefined) return fromMillis(nowMs - duration);
  if (/^\d+(\.\d{1,9})?$/.test(value)) return value.includes('.') ? value : value;
  let text = value;
  // Go layouts accept a date alone, date + time, with or without zone.
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text = `${text}T00:00:00`;
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[-+]\d{2}:?\d{2})?$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (Number.isNaN(ms)) throw new TimeArgError(`failed to parse value as time or duration: "${value}"`);
  return fromMillis(ms);
}
