// Terminal colours: only on a terminal, never when NO_COLOR is set (https://no-color.org).

import type { OutStream } from '../commands/types.js';

export type Color = 'red' | 'green' | 'yellow' | 'dim';

const CODES: Record<Color, [number, number]> = { red: [31, 39], green: [32, 39], yellow: [33, 39], dim: [2, 22] };

export function colorEnabled(out: OutStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return out.isTTY === true && env.TERM !== 'dumb';
}

export function paint(text: string, color: Color, enabled: boolean): string {
  if (!enabled || text === '') return text;
  const [on, off] = CODES[color];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}
