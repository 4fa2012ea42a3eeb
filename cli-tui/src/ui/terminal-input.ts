// Sits between the terminal and Ink: takes SGR mouse reports out of the byte stream (Ink drops
// control sequences it has no key for, so useInput never sees them) and can divert all input to
// an exec session while Ink has released the terminal.

import { PassThrough } from 'node:stream';
import type { InStream } from '../commands/types.js';
import { decodeMouse, type MouseEvent } from './input.js';

// eslint-disable-next-line no-control-regex
const MOUSE_RE = /\x1b\[<(\d+);(\d+);(\d+)([Mm])/g;
// eslint-disable-next-line no-control-regex
const PARTIAL_RE = /\x1b\[<[\d;]*$/;

/** Splits mouse reports from the rest; a report cut at the end of a chunk waits for the next one. */
export class MouseFilter {
  private pending = '';

  push(text: string): { rest: string; mouse: MouseEvent[] } {
    const input = this.pending + text;
    this.pending = '';
    const mouse: MouseEvent[] = [];
    let rest = '';
    let last = 0;
    for (const m of input.matchAll(MOUSE_RE)) {
      rest += input.slice(last, m.index);
      last = m.index + m[0].length;
      mouse.push(decodeMouse(Number(m[1]), Number(m[2]), Number(m[3]), m[4] ?? 'M'));
    }
    rest += input.slice(last);
    const partial = PARTIAL_RE.exec(rest);
    if (partial) {
      this.pending = partial[0];
      rest = rest.slice(0, partial.index);
    }
    return { rest, mouse };
  }
}

export type InkStdin = PassThrough & {
  isTTY: boolean;
  setRawMode(raw: boolean): void;
  ref(): void;
  unref(): void;
};

export class TerminalInput {
  readonly inkStdin: InkStdin;
  private readonly filter = new MouseFilter();
  private readonly decoder = new TextDecoder();
  private readonly mouseListeners = new Set<(m: MouseEvent) => void>();
  private divertTo: ((chunk: Buffer) => void) | undefined;

  constructor(private readonly real: InStream) {
    const realRef = real as InStream & { ref?: () => void; unref?: () => void };
    this.inkStdin = Object.assign(new PassThrough(), {
      isTTY: true,
      setRawMode: (raw: boolean) => {
        real.setRawMode?.(raw);
      },
      ref: () => realRef.ref?.(),
      unref: () => realRef.unref?.(),
    });
    real.on('data', this.onData);
  }

  private readonly onData = (chunk: Buffer | string): void => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.divertTo) {
      this.divertTo(buf);
      return;
    }
    const { rest, mouse } = this.filter.push(this.decoder.decode(buf, { stream: true }));
    for (const m of mouse) for (const l of this.mouseListeners) l(m);
    if (rest !== '') this.inkStdin.write(rest);
  };

  onMouse(listener: (m: MouseEvent) => void): () => void {
    this.mouseListeners.add(listener);
    return () => this.mouseListeners.delete(listener);
  }

  /** Sends every byte typed to `handler` (an exec session) instead of Ink, until called with undefined. */
  divert(handler: ((chunk: Buffer) => void) | undefined): void {
    this.divertTo = handler;
  }

  setRawMode(raw: boolean): void {
    this.real.setRawMode?.(raw);
  }

  close(): void {
    this.real.off('data', this.onData);
    this.real.pause();
    this.inkStdin.end();
  }
}
