import { PassThrough } from 'node:stream';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import {
  attachDetachKeys,
  DEFAULT_DETACH_KEYS,
  detachableStdin,
  EscapeScanner,
  execDetachKeys,
  parseDetachKeys,
} from './detach-keys.js';

test('parseDetachKeys follows moby/term ToBytes', (t) => {
  t.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
  t.deepEqual([...parseDetachKeys('ctrl-x,y')], [24, 121]);
  t.deepEqual(
    [...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,DEL,a')],
    [0, 27, 28, 29, 30, 31, 127, 97],
  );
  for (const bad of ['ctrl-', 'ctrl-P', 'ctrl-1', 'ab', '', 'ctrl-p,,a', 'é']) {
    t.throws(() => parseDetachKeys(bad), { message: /Unknown character/ }, bad);
  }
});

test('attach and exec keys: defaults, and dockerd messages for bad ones', (t) => {
  t.is(attachDetachKeys(undefined), DEFAULT_DETACH_KEYS);
  t.is(attachDetachKeys(''), DEFAULT_DETACH_KEYS);
  const fallback = Buffer.from([1]);
  t.is(attachDetachKeys(null, fallback), fallback);
  t.deepEqual([...attachDetachKeys('ctrl-a,b')], [1, 98]);
  t.throws(() => attachDetachKeys('ctrl-foo'), {
    instanceOf: InvalidParameterError,
    message: 'Invalid detach keys (ctrl-foo) provided',
  });
  t.is(execDetachKeys('', fallback), fallback);
  t.throws(() => execDetachKeys('nope'), {
    instanceOf: InvalidParameterError,
    message: 'Invalid escape keys (nope) provided',
  });
});

function scan(keys: string, chunks: string[]): { out: string; detached: boolean } {
  const s = new EscapeScanner(parseDetachKeys(keys));
  let out = '';
  for (const c of chunks) out += s.push(Buffer.from(c, 'latin1')).toString('latin1');
  return { out, detached: s.detached };
}

test('EscapeScanner: whole sequence in one chunk or split, bytes before it forwarded', (t) => {
  t.deepEqual(scan('ctrl-p,ctrl-q', ['ab\x10\x11cd']), { out: 'ab', detached: true });
  t.deepEqual(scan('ctrl-p,ctrl-q', ['ab\x10', '\x11', 'cd']), { out: 'ab', detached: true });
  t.deepEqual(scan('ctrl-x,y', ['\x18', 'y']), { out: '', detached: true });
  t.deepEqual(scan('a', ['xa', 'b']), { out: 'x', detached: true });
});

test('EscapeScanner: a broken prefix is forwarded unchanged, also across chunks', (t) => {
  t.deepEqual(scan('ctrl-p,ctrl-q', ['a\x10b']), { out: 'a\x10b', detached: false });
  t.deepEqual(scan('ctrl-p,ctrl-q', ['\x10', 'b\n']), { out: '\x10b\n', detached: false });
  t.deepEqual(scan('ctrl-p,ctrl-q', ['\x10']), { out: '', detached: false });
  // The broken prefix may itself start the sequence again.
  t.deepEqual(scan('ctrl-p,ctrl-q', ['\x10\x10\x11']), { out: '\x10', detached: true });
  t.deepEqual(scan('a,a,b', ['aaab']), { out: 'a', detached: true });
  t.deepEqual(scan('a,a,b', ['aa', 'c']), { out: 'aac', detached: false });
});

test('detachableStdin forwards until the sequence, then unpipes without ending', async (t) => {
  const source = new PassThrough();
  const detached: boolean[] = [];
  const out = detachableStdin(source, DEFAULT_DETACH_KEYS, (escaped) => detached.push(escaped));
  const got: Buffer[] = [];
  let ended = false;
  out.on('data', (c: Buffer) => got.push(c));
  out.on('end', () => (ended = true));
  out.resume();
  source.write('one\x10');
  source.write('two\x10\x11three');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  source.write('four');
  source.end();
  await new Promise((r) => setImmediate(r));
  t.is(Buffer.concat(got).toString('latin1'), 'one\x10two');
  t.deepEqual(detached, [true]);
  t.false(ended, 'the container stdin must stay open after a detach');
});

test('detachableStdin: the client half-close ends the attach but not the container stdin', async (t) => {
  const source = new PassThrough();
  const detached: boolean[] = [];
  const out = detachableStdin(source, DEFAULT_DETACH_KEYS, (escaped) => detached.push(escaped));
  const got: Buffer[] = [];
  let ended = false;
  out.on('data', (c: Buffer) => got.push(c));
  out.on('end', () => (ended = true));
  out.resume();
  source.end('abc\x10');
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.is(Buffer.concat(got).toString('latin1'), 'abc');
  t.deepEqual(detached, [false]);
  t.false(ended);
});
