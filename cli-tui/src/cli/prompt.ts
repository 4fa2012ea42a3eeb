// Reading a secret or a line from the terminal (docker login's prompts), and all of stdin.

import type { InStream, OutStream } from '../commands/types.js';

/** Reads stdin to its end (for --password-stdin). */
export async function readAll(stdin: InStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Prints `question` and reads one line from a terminal; `secret` turns echo off. */
export function promptLine(stdin: InStream, out: OutStream, question: string, secret: boolean): Promise<string> {
  out.write(question);
  const raw = secret && typeof stdin.setRawMode === 'function';
  if (raw) stdin.setRawMode?.(true);
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode?.(false);
      stdin.pause();
      if (secret) out.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onEnd = (): void => finish();
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new Error('interrupted'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

/**
 * docker's prompt.Confirm: prints `message` + " [y/N] " and reads one line; only "y"/"Y" is a yes.
 * A closed stdin is a no.
 */
export async function confirm(stdin: InStream, out: OutStream, message: string): Promise<boolean> {
  out.write(`${message} [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let line = '';
    const done = (): void => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.off('error', done);
      stdin.pause();
      resolve(line);
    };
    const onData = (chunk: Buffer | string): void => {
      const text = chunk.toString();
      const nl = text.indexOf('\n');
      line += nl >= 0 ? text.slice(0, nl) : text;
      if (nl >= 0) done();
    };
    stdin.on('data', onData);
    stdin.once('end', done);
    stdin.once('error', done);
    stdin.resume();
  });
  return answer.trim().toLowerCase() === 'y';
}
