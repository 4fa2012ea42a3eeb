import type { FileHandle } from 'node:fs/promises';
import type { LogEntry } from '@skiff/core/plugin-api';

/**
 * conmon's `k8s-file` log format (CRI): one record per line,
 * `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <bytes>\n`. `F` ends a line of the container's
 * output; `P` is a partial line (conmon splits long lines and flushes unterminated output) that
 * continues in the next record of the same stream.
 */
export interface K8sRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  data: Buffer;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const CHUNK = 64 * 1024;

/** RFC 3339 with any offset → UTC with exactly 9 fractional digits (`…T12:17:56.383760558Z`). */
export function normalizeTime(ts: string): string | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/.exec(ts);
  if (!m) return undefined;
  const offset = m[3] === 'Z' ? 'Z' : m[3]!.replace(/^([+-]\d\d)(\d\d)$/, '$1:$2');
  const ms = Date.parse(`${m[1]}${offset}`);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0')}Z`;
}

/** Parses one record (without its newline); undefined for a malformed line. */
export function parseRecord(line: Buffer): K8sRecord | undefined {
  const s1 = line.indexOf(SPACE);
  if (s1 < 0) return undefined;
  const s2 = line.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return undefined;
  const stream = line.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line[s2 + 1];
  const partial = tag === 0x50; /* P */
  if (!partial && tag !== 0x46 /* F */) return undefined;
  const after = line[s2 + 2];
  if (after !== undefined && after !== SPACE) return undefined;
  const time = normalizeTime(line.toString('latin1', 0, s1));
  if (!time) return undefined;
  return { time, stream, partial, data: line.subarray(Math.min(line.length, s2 + 3)) };
}

/**
 * Turns records into entries: a full line ends with "\n"; partial records are joined with the
 * following records of the same stream. Partial data still pending at a `flush()` (the end of
 * what is written so far) is emitted as it is, so a prompt without a newline is not held back.
 */
export class EntryAssembler {
  private readonly pending = new Map<'stdout' | 'stderr', { time: string; parts: Buffer[] }>();

  push(rec: K8sRecord, out: LogEntry[]): void {
    const p = this.pending.get(rec.stream);
    if (rec.partial) {
      if (p) p.parts.push(rec.data);
      else this.pending.set(rec.stream, { time: rec.time, parts: [rec.data] });
      return;
    }
    if (p) {
      this.pending.delete(rec.stream);
      out.push({ stream: rec.stream, time: p.time, data: Buffer.concat([...p.parts, rec.data, Buffer.from('\n')]) });
    } else {
      out.push({ stream: rec.stream, time: rec.time, data: Buffer.concat([rec.data, Buffer.from('\n')]) });
    }
  }

  flush(out: LogEntry[]): void {
    for (const [stream, p] of this.pending) out.push({ stream, time: p.time, data: Buffer.concat(p.parts) });
    this.pending.clear();
  }
}

/** Reads complete records forward from `offset`; an unterminated last line waits for its newline. */
export class RecordReader {
  private carry: Buffer = Buffer.alloc(0);
  private readonly buf = Buffer.allocUnsafe(CHUNK);

  constructor(
    private readonly fh: FileHandle,
    public offset: number,
  ) {}

  /**
   * Everything available now, as entries (partials joined, then flushed unless `flush` is false:
   * a rotated file's last partial line continues in the next file).
   */
  async readAvailable(assembler: EntryAssembler, flush = true): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    for (;;) {
      const { bytesRead } = await this.fh.read(this.buf, 0, CHUNK, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      const data =
        this.carry.length > 0
          ? Buffer.concat([this.carry, this.buf.subarray(0, bytesRead)])
          : this.buf.subarray(0, bytesRead);
      let start = 0;
      for (let nl = data.indexOf(NEWLINE, start); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
        const rec = parseRecord(data.subarray(start, nl));
        if (rec) assembler.push({ ...rec, data: Buffer.from(rec.data) }, out);
        start = nl + 1;
      }
      this.carry = Buffer.from(data.subarray(start));
    }
    if (flush) assembler.flush(out);
    return out;
  }
}

/** Entries in the file (full records, plus one for a trailing run of partial records), reading it forward. */
export async function countEntries(fh: FileHandle): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let carry: Buffer = Buffer.alloc(0);
  let count = 0;
  let partialRun = false;
  for (let pos = 0; ;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
    let start = 0;
    for (let nl = data.indexOf(NEWLINE, start); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
      const rec = parseRecord(data.subarray(start, nl));
      if (rec) {
        if (rec.partial) partialRun = true;
        else {
          count++;
          partialRun = false;
        }
      }
      start = nl + 1;
    }
    carry = Buffer.from(data.subarray(start));
  }
  return count + (partialRun ? 1 : 0);
}

/**
 * Offset at which the last `n` entries of the file begin (0 when it has fewer), scanning
 * backwards in chunks so a large log is not read whole. An entry is a run of partial records
 * ended by a full one; a trailing run of partial records counts as one entry.
 */
export async function tailOffset(fh: FileHandle, size: number, n: number): Promise<number> {
  if (n <= 0) return size;
  let pos = size;
  let frag: Buffer = Buffer.alloc(0);
  let needFull: number | undefined;
  let fulls = 0;
  let first = true;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const chunk = Buffer.alloc(len);
    await fh.read(chunk, 0, len, pos);
    let buf = frag.length > 0 ? Buffer.concat([chunk, frag]) : chunk;
    if (first) {
      // Ignore an unterminated last line: it is still being written.
      const last = buf.lastIndexOf(NEWLINE);
      if (last < 0) {
        frag = Buffer.alloc(0);
        if (pos === 0) return 0;
        continue;
      }
      buf = buf.subarray(0, last + 1);
      first = false;
    }
    const nls: number[] = [];
    for (let i = buf.indexOf(NEWLINE); i >= 0; i = buf.indexOf(NEWLINE, i + 1)) nls.push(i);
    // Records ending at nls[j] start after nls[j-1]; the one ending at nls[0] is complete only at the file start.
    for (let j = nls.length - 1; j >= (pos === 0 ? 0 : 1); j--) {
      const startOfLine = j === 0 ? 0 : nls[j - 1]! + 1;
      const rec = parseRecord(buf.subarray(startOfLine, nls[j]));
      if (!rec) continue;
      if (needFull === undefined) needFull = rec.partial ? n : n + 1;
      if (!rec.partial && ++fulls === needFull) return pos + nls[j]! + 1;
    }
    frag = nls.length > 0 ? Buffer.from(buf.subarray(0, nls[0]! + 1)) : Buffer.from(buf);
  }
  return 0;
}
