import type { LogEntry } from '../plugin-api/runtime.js';

const STREAM_ID = { stdin: 0, stdout: 1, stderr: 2 } as const;

/** One stdcopy frame: 8-byte header (stream id, 3 zero bytes, big-endian length) + payload. */
export function frame(stream: 'stdout' | 'stderr' | 'stdin' | 'system', payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream === 'system' ? 3 : STREAM_ID[stream];
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Encodes a log entry the way clients expect it: raw for a TTY, framed otherwise. */
export function encodeEntry(entry: LogEntry, opts: { tty: boolean; timestamps: boolean }): Buffer {
  const data = opts.timestamps ? Buffer.concat([Buffer.from(`${entry.time} `), entry.data]) : entry.data;
  return opts.tty ? data : frame(entry.stream, data);
}
