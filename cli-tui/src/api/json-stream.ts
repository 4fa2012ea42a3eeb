// Reads a stream of concatenated JSON values (progress messages, events), the way Go's
// json.Decoder does: values may be split across chunks or share one, with or without
// newlines between them.

import { ProtocolError } from './errors.js';

/** Incremental splitter: feed chunks, get the complete top-level JSON texts. */
export class JSONValueSplitter {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array | string): string[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const values: string[] = [];
    let i = this.scanned;
    for (; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (this.start < 0) {
        if (ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t') continue;
        if (ch !== '{' && ch !== '[') {
          throw new ProtocolError(`invalid character '${ch}' looking for beginning of value`);
        }
        this.start = i;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if (ch === '}' || ch === ']') {
        this.depth--;
        if (this.depth === 0) {
          values.push(this.buffer.slice(this.start, i + 1));
          this.start = -1;
        }
      }
    }
    // Drop what has been consumed so the buffer only holds the value in progress.
    const keepFrom = this.start >= 0 ? this.start : i;
    this.buffer = this.buffer.slice(keepFrom);
    if (this.start >= 0) this.start = 0;
    this.scanned = this.buffer.length;
    return values;
  }

  /** Call at end of input: throws if a value was cut off. */
  end(): void {
    if (this.start >= 0) throw new ProtocolError('unexpected EOF in JSON stream');
  }
}

/** Yields each JSON value of `source` (a Readable or any async iterable of chunks). */
export async function* readJSONStream<T = unknown>(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<T> {
  const splitter = new JSONValueSplitter();
  for await (const chunk of source) {
    for (const text of splitter.push(chunk)) {
      try {
        yield JSON.parse(text) as T;
      } catch (err) {
        throw new ProtocolError(`malformed JSON in stream: ${(err as Error).message}`);
      }
    }
  }
  splitter.end();
}
