// Demultiplexer for docker's stdcopy framing (non-TTY attach, exec and logs streams):
// an 8-byte header [stream, 0, 0, 0, size(uint32 BE)] followed by `size` payload bytes.

import type { Writable } from 'node:stream';
import { ProtocolError, StreamSystemError } from './errors.js';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;
const HEADER_SIZE = 8;

/** A piece of a frame's payload; large frames arrive as several pieces. */
export interface FramePiece {
  stream: typeof STDIN | typeof STDOUT | typeof STDERR;
  data: Buffer;
}

/** Incremental parser: feed chunks as they arrive, get payload pieces per stream. */
export class StdcopyParser {
  private header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private stream = 0;
  private remaining = 0;
  private systemError: Buffer[] = [];

  /** Returns the payload pieces in `chunk`; throws StreamSystemError / ProtocolError. */
  push(chunk: Buffer): FramePiece[] {
    const pieces: FramePiece[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0 && this.headerFill < HEADER_SIZE) {
        const n = Math.min(HEADER_SIZE - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + n);
        this.headerFill += n;
        offset += n;
        if (this.headerFill < HEADER_SIZE) break;
        this.stream = this.header[0] ?? 0;
        if (this.stream > SYSTEMERR) {
          throw new ProtocolError(`Unrecognized input header: ${this.stream}`);
        }
        this.remaining = this.header.readUInt32BE(4);
        if (this.remaining === 0) this.finishFrame();
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - offset);
      const data = chunk.subarray(offset, offset + n);
      offset += n;
      this.remaining -= n;
      if (this.stream === SYSTEMERR) this.systemError.push(Buffer.from(data));
      else pieces.push({ stream: this.stream as FramePiece['stream'], data });
      if (this.remaining === 0) this.finishFrame();
    }
    return pieces;
  }

  /** Call at end of input: a cut-off frame is a protocol error. */
  end(): void {
    if (this.headerFill > 0 && this.headerFill < HEADER_SIZE) {
      throw new ProtocolError('unexpected EOF in stream frame header');
    }
    if (this.remaining > 0) throw new ProtocolError('unexpected EOF in stream frame');
  }

  private finishFrame(): void {
    this.headerFill = 0;
    if (this.stream === SYSTEMERR) {
      const message = Buffer.concat(this.systemError).toString('utf8');
      this.systemError = [];
      throw new StreamSystemError(message);
    }
  }
}

function write(target: Writable, data: Buffer): Promise<void> | undefined {
  if (target.write(data)) return undefined;
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      target.off('error', onError);
      resolve();
    };
    const onError = (err: Error): void => {
      target.off('drain', onDrain);
      reject(err);
    };
    target.once('drain', onDrain);
    target.once('error', onError);
  });
}

/** stdcopy.StdCopy: copies `source` to stdout/stderr until it ends, honouring backpressure. */
export async function demuxStream(source: AsyncIterable<Buffer>, stdout: Writable, stderr: Writable): Promise<void> {
  const parser = new StdcopyParser();
  for await (const chunk of source) {
    for (const piece of parser.push(chunk)) {
      await write(piece.stream === STDERR ? stderr : stdout, piece.data);
    }
  }
  parser.end();
}

/** Copies a raw (TTY) stream to `out`. */
export async function copyRawStream(source: AsyncIterable<Buffer>, out: Writable): Promise<void> {
  for await (const chunk of source) await write(out, chunk);
}

/** Encodes one frame (used by tests and fake daemons). */
export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}
