// A spinner on stderr for long work without a progress stream (save, prune). Only on a
// terminal; it erases itself when done, so what the command prints is unchanged.

import type { OutStream } from '../commands/types.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
// Plain ASCII where the terminal may not draw braille.
const ASCII_FRAMES = ['|', '/', '-', '\\'];

export interface Spinner {
  update(text: string): void;
  stop(): void;
}

const NONE: Spinner = { update: () => {}, stop: () => {} };

export function startSpinner(out: OutStream, env: NodeJS.ProcessEnv, text: string): Spinner {
  if (out.isTTY !== true || env.TERM === 'dumb') return NONE;
  const frames = /UTF-?8/i.test(`${env.LC_ALL ?? ''}${env.LC_CTYPE ?? ''}${env.LANG ?? ''}`) ? FRAMES : ASCII_FRAMES;
  let label = text;
  let i = 0;
  const draw = (): void => {
    out.write(`\r\x1b[2K${frames[i++ % frames.length]} ${label}`);
  };
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    update(next) {
      label = next;
    },
    stop() {
      clearInterval(timer);
      out.write('\r\x1b[2K');
    },
  };
}

/** Runs `work` with a spinner showing `text`. */
export async function withSpinner<T>(
  out: OutStream,
  env: NodeJS.ProcessEnv,
  text: string,
  work: (spinner: Spinner) => Promise<T>,
): Promise<T> {
  const spinner = startSpinner(out, env, text);
  try {
    return await work(spinner);
  } finally {
    spinner.stop();
  }
}
