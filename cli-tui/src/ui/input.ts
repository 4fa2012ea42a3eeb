// Turns what Ink's useInput delivers into key names and mouse events. Ink hands a run of
// characters that arrived in one read as one string ("jjj"), and SGR mouse reports as text
// ("[<0;12;4M", with or without the ESC), so both are split here before dispatch.

import type { Key } from 'ink';

export interface MouseEvent {
  kind: 'press' | 'release' | 'wheelUp' | 'wheelDown';
  button: number;
  /** 1-based terminal column and row. */
  x: number;
  y: number;
}

export type InputEvent = { type: 'key'; key: string; text: string } | { type: 'mouse'; mouse: MouseEvent };

// eslint-disable-next-line no-control-regex
const MOUSE_RE = /\x1b?\[<(\d+);(\d+);(\d+)([Mm])/g;

export function decodeMouse(code: number, x: number, y: number, final: string): MouseEvent {
  if (code & 64) return { kind: (code & 1) === 0 ? 'wheelUp' : 'wheelDown', button: code & 3, x, y };
  return { kind: final === 'M' ? 'press' : 'release', button: code & 3, x, y };
}

/** Key name of a single character typed without modifiers Ink reports. */
function charKey(ch: string): string {
  if (ch === ' ') return 'space';
  if (ch === '\r' || ch === '\n') return 'enter';
  if (ch === '\t') return 'tab';
  if (ch === '\x7f' || ch === '\b') return 'backspace';
  const code = ch.codePointAt(0) ?? 0;
  if (code > 0 && code < 27) return `ctrl+${String.fromCharCode(code + 96)}`;
  if (code === 28) return 'ctrl+\\';
  return ch;
}

export function normalizeInput(input: string, key: Partial<Key>): InputEvent[] {
  const events: InputEvent[] = [];
  if (input.includes('[<')) {
    let rest = '';
    let last = 0;
    for (const m of input.matchAll(MOUSE_RE)) {
      rest += input.slice(last, m.index);
      last = m.index + m[0].length;
      events.push({ type: 'mouse', mouse: decodeMouse(Number(m[1]), Number(m[2]), Number(m[3]), m[4] ?? 'M') });
    }
    rest += input.slice(last);
    if (events.length > 0) {
      for (const ch of rest) events.push({ type: 'key', key: charKey(ch), text: ch });
      return events;
    }
  }
  const named = (name: string): InputEvent[] => [{ type: 'key', key: name, text: '' }];
  if (key.upArrow) return named('up');
  if (key.downArrow) return named('down');
  if (key.leftArrow) return named('left');
  if (key.rightArrow) return named('right');
  if (key.pageUp) return named('pageup');
  if (key.pageDown) return named('pagedown');
  if (key.home) return named('home');
  if (key.end) return named('end');
  if (key.return) return named('enter');
  if (key.tab) return named(key.shift ? 'shift+tab' : 'tab');
  if (key.backspace) return named('backspace');
  if (key.delete) return named('delete');
  if (key.escape && input === '') return named('esc');
  if (key.ctrl && input.length === 1) return [{ type: 'key', key: `ctrl+${input.toLowerCase()}`, text: '' }];
  if (key.meta && input.length === 1) return [{ type: 'key', key: `alt+${input}`, text: '' }];
  if (key.escape) return named('esc');
  for (const ch of input) events.push({ type: 'key', key: charKey(ch), text: ch });
  return events;
}

export const MOUSE_ON = '\x1b[?1000h\x1b[?1006h';
export const MOUSE_OFF = '\x1b[?1006l\x1b[?1000l';
