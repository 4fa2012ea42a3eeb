import { PassThrough } from 'node:stream';
import test from 'ava';
import type { OutStream } from '../commands/types.js';
import { colorEnabled, paint } from './color.js';
import { startSpinner, withSpinner } from './spinner.js';

function stream(tty: boolean): OutStream & { text(): string } {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; text(): string };
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  s.isTTY = tty;
  s.text = () => out;
  return s;
}

test('colours only on a terminal, and never with NO_COLOR or TERM=dumb', (t) => {
  t.true(colorEnabled(stream(true), {}));
  t.false(colorEnabled(stream(false), {}));
  t.false(colorEnabled(stream(true), { NO_COLOR: '1' }));
  t.true(colorEnabled(stream(true), { NO_COLOR: '' }), 'an empty NO_COLOR does not count (no-color.org)');
  t.false(colorEnabled(stream(true), { TERM: 'dumb' }));
  t.is(paint('x', 'red', true), '\x1b[31mx\x1b[39m');
  t.is(paint('x', 'red', false), 'x');
});

test('the spinner draws only on a terminal and erases itself', async (t) => {
  const plain = stream(false);
  await withSpinner(plain, {}, 'work', async () => {});
  await new Promise((r) => setImmediate(r));
  t.is(plain.text(), '');
  const tty = stream(true);
  const result = await withSpinner(tty, { LANG: 'C.UTF-8' }, 'saving', async (s) => {
    s.update('saving 1MB');
    return 42;
  });
  await new Promise((r) => setImmediate(r));
  t.is(result, 42);
  t.true(tty.text().startsWith('\r\x1b[2K⠋ saving'), JSON.stringify(tty.text()));
  t.true(tty.text().endsWith('\r\x1b[2K'));
  const ascii = stream(true);
  startSpinner(ascii, { LANG: 'C' }, 'x').stop();
  await new Promise((r) => setImmediate(r));
  t.true(ascii.text().startsWith('\r\x1b[2K| x'));
});
