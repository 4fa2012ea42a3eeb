// Rendering of the JSON progress stream (pull/push/build/load), ported from moby's
// pkg/jsonmessage DisplayJSONMessagesStream so the output matches the docker CLI.

import { goDurationSeconds, humanSize } from './units.js';

export interface JSONProgress {
  current?: number;
  total?: number;
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

export interface JSONMessage {
  status?: string;
  id?: string;
  from?: string;
  stream?: string;
  progress?: string;
  progressDetail?: JSONProgress;
  errorDetail?: { code?: number; message?: string };
  error?: string;
  aux?: unknown;
  time?: number;
  timeNano?: number;
}

/** An error reported in-band by the daemon (`errorDetail`). */
export class JSONMessageError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'JSONMessageError';
  }
}

export interface ProgressOutput {
  write(text: string): unknown;
}

export interface DisplayOptions {
  /** Redraw progress lines in place (only when the output is a terminal). */
  isTerminal: boolean;
  /** Terminal width; the bar is drawn only above 110 columns, like docker. */
  width?: number;
  /** Clock for time-left estimates, in milliseconds. */
  now?: () => number;
  /** Called for messages carrying `aux` (never printed). */
  onAux?: (message: JSONMessage) => void;
}

/** JSONProgress.String(): "[==>   ]  32.77kB/614.8kB 1m2s"; "" when there is nothing to show. */
export function progressString(p: JSONProgress, width: number, nowMs: number): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) {
    return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  }
  let percentage = Math.trunc(Math.trunc((current / total) * 100) / 2);
  if (percentage > 50) percentage = 50;
  let bar = '';
  if (width > 110) {
    bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  }
  let numbers = '';
  if (p.hidecounts) {
    // no counts
  } else if (!p.units) {
    const cur = humanSize(current);
    numbers = current > total ? cur.padStart(8) : `${cur.padStart(8)}/${humanSize(total)}`;
  } else {
    numbers = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  }
  let timeLeft = '';
  if (current > 0 && p.start && p.start > 0 && percentage < 50 && width > 50) {
    const elapsed = nowMs / 1000 - p.start;
    const left = ((total - current) * elapsed) / current;
    timeLeft = ` ${goDurationSeconds(left)}`;
  }
  return bar + numbers + timeLeft;
}

function rfc3339NanoFixed(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

function display(msg: JSONMessage, out: ProgressOutput, opts: DisplayOptions, width: number): void {
  const now = opts.now?.() ?? Date.now();
  const progress = msg.progressDetail ? progressString(msg.progressDetail, width, now) : undefined;
  let endl = '';
  if (opts.isTerminal && !msg.stream && msg.progressDetail) {
    endl = '\r';
    out.write(`\x1b[2K${endl}`);
  } else if (progress) {
    // Progress bars are not printed when the output is not a terminal.
    return;
  }
  if (msg.timeNano) out.write(`${rfc3339NanoFixed(BigInt(msg.timeNano))} `);
  else if (msg.time) out.write(`${rfc3339NanoFixed(BigInt(msg.time) * 1_000_000_000n)} `);
  if (msg.id) out.write(`${msg.id}: `);
  if (msg.from) out.write(`(from ${msg.from}) `);
  const status = msg.status ?? '';
  if (msg.progressDetail && opts.isTerminal) out.write(`${status} ${progress ?? ''}${endl}`);
  else if (msg.progress) out.write(`${status} ${msg.progress}${endl}`);
  else if (msg.stream) out.write(`${msg.stream}${endl}`);
  else out.write(`${status}${endl}\n`);
}

/**
 * Prints a progress stream like `docker pull`. In terminal mode lines with the same id are
 * redrawn in place with cursor movements. Throws JSONMessageError at the first in-band error.
 */
export async function displayJSONMessages(
  messages: AsyncIterable<JSONMessage>,
  out: ProgressOutput,
  opts: DisplayOptions,
): Promise<void> {
  const width = opts.width ?? 200;
  let ids = new Map<string, number>();
  for await (const msg of messages) {
    if (msg.errorDetail || msg.error) {
      const detail = msg.errorDetail;
      throw new JSONMessageError(detail?.message ?? msg.error ?? 'unknown error', detail?.code);
    }
    if (msg.aux !== undefined) {
      opts.onAux?.(msg);
      continue;
    }
    let diff = 0;
    if (msg.id && (msg.progressDetail || msg.progress)) {
      let line = ids.get(msg.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(msg.id, line);
        if (opts.isTerminal) out.write('\n');
      }
      diff = ids.size - line;
      if (opts.isTerminal && diff > 0) out.write(`\x1b[${diff}A`);
    } else {
      // A line without an id ends the block of lines that can be redrawn.
      ids = new Map();
    }
    display(msg, out, opts, width);
    if (msg.id && opts.isTerminal && diff > 0) out.write(`\x1b[${diff}B`);
  }
}
