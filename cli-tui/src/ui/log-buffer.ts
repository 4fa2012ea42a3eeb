// Container log lines: split from stream chunks, kept in a bounded buffer, laid out for the
// main panel (timestamps, wrap) and searched.

export interface LogLine {
  /** RFC 3339 timestamp from `timestamps=1`, '' if absent. */
  ts: string;
  text: string;
  stderr: boolean;
}

export const MAX_LOG_LINES = 5000;
/** Longer lines are cut before layout (lazydocker #221: one 90k-character line froze it). */
const MAX_LINE_CHARS = 4000;
const TS_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) /;

/** Splits one stream's bytes into lines, keeping the unfinished tail for the next chunk. */
export class LineSplitter {
  private tail = '';
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array): string[] {
    const text = this.tail + this.decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    this.tail = parts.pop() ?? '';
    if (this.tail.length > MAX_LINE_CHARS * 4) {
      parts.push(this.tail);
      this.tail = '';
    }
    return parts;
  }

  flush(): string[] {
    const rest = this.tail;
    this.tail = '';
    return rest === '' ? [] : [rest];
  }
}

/** Parses "<timestamp> <text>" as the logs endpoint sends with timestamps=1. */
export function parseLogLine(raw: string, stderr: boolean): LogLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const m = TS_RE.exec(line);
  const text = m ? line.slice(m[0].length) : line;
  return {
    ts: m?.[1] ?? '',
    text: text.length > MAX_LINE_CHARS ? `${text.slice(0, MAX_LINE_CHARS)}…` : text,
    stderr,
  };
}

export function appendLines(buffer: readonly LogLine[], lines: readonly LogLine[], max = MAX_LOG_LINES): LogLine[] {
  const next = buffer.length + lines.length > max ? buffer.slice(buffer.length + lines.length - max) : [...buffer];
  for (const l of lines.length > max ? lines.slice(lines.length - max) : lines) next.push(l);
  return next;
}

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** Strips terminal control sequences so a container cannot repaint the dashboard. */
export function sanitize(text: string): string {
  return text.replace(CONTROL_RE, '').replace(/\t/g, '    ');
}

// Each line is cleaned once, not on every re-layout of the (up to 5,000-line) buffer.
const SANITIZED = new WeakMap<LogLine, string>();

/** The lines as shown: optional timestamp prefix, wrapped to `width` or left whole (truncated later). */
export function layoutLogs(
  lines: readonly LogLine[],
  opts: { timestamps: boolean; wrap: boolean; width: number },
): string[] {
  const out: string[] = [];
  const width = Math.max(1, opts.width);
  for (const l of lines) {
    let clean = SANITIZED.get(l);
    if (clean === undefined) {
      clean = sanitize(l.text);
      SANITIZED.set(l, clean);
    }
    const text = (opts.timestamps && l.ts ? `${l.ts} ` : '') + clean;
    if (!opts.wrap || [...text].length <= width) {
      out.push(text);
      continue;
    }
    const chars = [...text];
    for (let i = 0; i < chars.length; i += width) out.push(chars.slice(i, i + width).join(''));
  }
  return out;
}

/** Indices of the lines containing `needle` (case-insensitive). */
export function findMatches(lines: readonly string[], needle: string): number[] {
  if (needle === '') return [];
  const n = needle.toLowerCase();
  const out: number[] = [];
  lines.forEach((l, i) => {
    if (l.toLowerCase().includes(n)) out.push(i);
  });
  return out;
}

/** Splits `text` into [plain, match, plain, match, …] segments for highlighting. */
export function splitMatches(text: string, needle: string): { text: string; match: boolean }[] {
  if (needle === '') return [{ text, match: false }];
  const lower = text.toLowerCase();
  const n = needle.toLowerCase();
  const out: { text: string; match: boolean }[] = [];
  let from = 0;
  for (;;) {
    const at = lower.indexOf(n, from);
    if (at < 0) break;
    if (at > from) out.push({ text: text.slice(from, at), match: false });
    out.push({ text: text.slice(at, at + n.length), match: true });
    from = at + n.length;
  }
  if (from < text.length) out.push({ text: text.slice(from), match: false });
  return out;
}
