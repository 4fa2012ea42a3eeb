// An interactive stream session on a hijacked connection (attach, exec, start -a): copies
// output (raw for a TTY, demultiplexed otherwise), forwards stdin with docker's detach keys,
// puts the terminal in raw mode and forwards terminal resizes.

import { spawnSync } from 'node:child_process';
import { type HijackedStream, hijackedChunks } from '../api/client.js';
import { copyRawStream, demuxStream } from '../api/stdcopy.js';
import type { CommandContext, InStream } from './types.js';

export class DetachKeysError extends Error {
  constructor(keys: string) {
    super(`Invalid detach keys (${keys}) provided`);
    this.name = 'DetachKeysError';
  }
}

/** docker's term.ToBytes: "ctrl-p,ctrl-q", "a", "ctrl-@", "ctrl-[" … */
export function parseDetachKeys(keys: string): number[] {
  const out: number[] = [];
  for (const raw of keys.split(',')) {
    const key = raw.trim();
    if (key.length > 1 && key.startsWith('ctrl-')) {
      const c = key.slice(5);
      if (c.length !== 1) throw new DetachKeysError(keys);
      const code = c.toLowerCase().charCodeAt(0);
      if (code >= 0x61 && code <= 0x7a) out.push(code - 0x60);
      else if (c === '@') out.push(0);
      else if (c === '[') out.push(27);
      else if (c === '\\') out.push(28);
      else if (c === ']') out.push(29);
      else if (c === '^') out.push(30);
      else if (c === '_') out.push(31);
      else throw new DetachKeysError(keys);
    } else if (key.length === 1) {
      out.push(key.charCodeAt(0));
    } else {
      throw new DetachKeysError(keys);
    }
  }
  return out;
}

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Filters stdin for the detach sequence; bytes of a partial match are released when it breaks. */
export class DetachMatcher {
  private matched = 0;

  constructor(private readonly keys: readonly number[]) {}

  /** Returns the bytes to forward and whether the sequence completed. */
  push(chunk: Buffer): { data: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.keys.length > 0 && byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { data: Buffer.from(out), detach: true };
        continue;
      }
      if (this.matched > 0) {
        out.push(...this.keys.slice(0, this.matched));
        this.matched = 0;
        if (byte === this.keys[0]) {
          this.matched = 1;
          continue;
        }
      }
      out.push(byte);
    }
    return { data: Buffer.from(out), detach: false };
  }
}

/**
 * Puts the terminal in raw mode; returns the restore function. libuv's raw mode keeps output
 * post-processing (ONLCR), so the container's "\r\n" would reach the screen as "\r\r\n";
 * docker's MakeRaw clears OPOST, and so do we (setRawMode(false) restores the saved settings).
 */
export function enterRawMode(stdin: InStream): () => void {
  stdin.setRawMode?.(true);
  if (stdin === process.stdin) spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  return () => stdin.setRawMode?.(false);
}

export interface SessionOptions {
  tty: boolean;
  /** Forward our stdin to the stream. */
  stdin: boolean;
  detachKeys: number[];
  /** Called with (rows, columns) at start and on SIGWINCH when stdout is a terminal. */
  resize?: (rows: number, columns: number) => Promise<void>;
}

export type SessionEnd = 'ended' | 'detached';

/** Runs until the daemon closes the output (or the user detaches); restores the terminal. */
export async function runSession(
  ctx: CommandContext,
  stream: HijackedStream,
  opts: SessionOptions,
): Promise<SessionEnd> {
  const { stdin, stdout, stderr } = ctx.streams;
  const cleanups: (() => void)[] = [() => stream.socket.destroy()];
  try {
    const chunks = hijackedChunks(stream);
    const output = (opts.tty ? copyRawStream(chunks, stdout) : demuxStream(chunks, stdout, stderr)).then(
      (): SessionEnd => 'ended',
    );
    let onDetach: (end: SessionEnd) => void = () => {};
    const detached = new Promise<SessionEnd>((resolve) => {
      onDetach = resolve;
    });
    if (opts.stdin) {
      const raw = opts.tty && stdin.isTTY === true && typeof stdin.setRawMode === 'function';
      if (raw) cleanups.push(enterRawMode(stdin));
      // docker only watches for the detach keys when stdin is a terminal.
      const matcher = raw ? new DetachMatcher(opts.detachKeys) : undefined;
      const onData = (chunk: Buffer): void => {
        let data = chunk;
        if (matcher) {
          const r = matcher.push(chunk);
          if (r.detach) {
            onDetach('detached');
            return;
          }
          data = r.data;
        }
        if (data.length > 0 && !stream.socket.write(data)) {
          stdin.pause();
          stream.socket.once('drain', () => stdin.resume());
        }
      };
      const onEnd = (): void => {
        stream.socket.end();
      };
      stdin.on('data', onData);
      stdin.once('end', onEnd);
      stdin.resume();
      cleanups.push(() => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        stdin.pause();
      });
    } else {
      stream.socket.end();
    }
    if (opts.tty && opts.resize && stdout.isTTY) {
      const resizeOnce = (): Promise<void> =>
        stdout.rows && stdout.columns
          ? (opts.resize?.(stdout.rows, stdout.columns) ?? Promise.resolve())
          : Promise.resolve();
      const resize = (): void => void resizeOnce().catch(() => undefined);
      // docker's initTtySize: the process may not be up yet, so a failed first resize is retried.
      void (async () => {
        for (let retry = 0; retry <= 10; retry++) {
          try {
            await resizeOnce();
            return;
          } catch {
            await new Promise((r) => setTimeout(r, (retry + 1) * 10));
          }
        }
        stderr.write('failed to resize tty, using default size\n');
      })();
      ctx.hooks.on('SIGWINCH', resize);
      cleanups.push(() => ctx.hooks.off('SIGWINCH', resize));
    }
    const end = await Promise.race([output, detached]);
    if (end === 'detached') stderr.write('\n');
    return end;
  } finally {
    for (const cleanup of cleanups.reverse()) cleanup();
  }
}
