import { PassThrough, Readable } from 'node:stream';
import test from 'ava';
import { ProtocolError, StreamSystemError } from './errors.js';
import { demuxStream, encodeFrame, STDERR, STDOUT, StdcopyParser } from './stdcopy.js';

function collect(parser: StdcopyParser, chunks: Buffer[]): { out: string; err: string } {
  let out = '';
  let err = '';
  for (const chunk of chunks) {
    for (const piece of parser.push(chunk)) {
      if (piece.stream === STDERR) err += piece.data.toString();
      else out += piece.data.toString();
    }
  }
  parser.end();
  return { out, err };
}

const stream = Buffer.concat([
  encodeFrame(STDERR, 'hello-err\n'),
  encodeFrame(STDOUT, 'hello-out\n'),
  encodeFrame(STDOUT, ''),
  encodeFrame(STDOUT, 'x'.repeat(70000)),
]);

test('frames in one chunk', (t) => {
  t.deepEqual(collect(new StdcopyParser(), [stream]), { out: `hello-out\n${'x'.repeat(70000)}`, err: 'hello-err\n' });
});

test('frames split at every possible byte boundary', (t) => {
  const small = stream.subarray(0, 36);
  for (let cut = 1; cut < small.length; cut++) {
    const got = collect(new StdcopyParser(), [small.subarray(0, cut), small.subarray(cut)]);
    t.deepEqual(got, { out: 'hello-out\n', err: 'hello-err\n' }, `cut at ${cut}`);
  }
});

test('frames fed one byte at a time', (t) => {
  const bytes = [...stream.subarray(0, 36)].map((b) => Buffer.from([b]));
  t.deepEqual(collect(new StdcopyParser(), bytes), { out: 'hello-out\n', err: 'hello-err\n' });
});

test('stream id 3 is a daemon error carrying its payload', (t) => {
  const parser = new StdcopyParser();
  const frame = encodeFrame(3, 'container vanished');
  parser.push(frame.subarray(0, 10));
  t.throws(() => parser.push(frame.subarray(10)), {
    instanceOf: StreamSystemError,
    message: 'error from daemon in stream: container vanished',
  });
});

test('unknown stream ids and truncated frames are protocol errors', (t) => {
  t.throws(() => new StdcopyParser().push(encodeFrame(7, 'x')), {
    instanceOf: ProtocolError,
    message: 'Unrecognized input header: 7',
  });
  const cut = new StdcopyParser();
  cut.push(encodeFrame(STDOUT, 'abcdef').subarray(0, 10));
  t.throws(() => cut.end(), { instanceOf: ProtocolError });
  const header = new StdcopyParser();
  header.push(Buffer.from([1, 0, 0]));
  t.throws(() => header.end(), { instanceOf: ProtocolError });
});

test('demuxStream writes to the right streams', async (t) => {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  const chunks = [stream.subarray(0, 5), stream.subarray(5, 30), stream.subarray(30)];
  await demuxStream(Readable.from(chunks), stdout, stderr);
  t.is(Buffer.concat(out).toString(), `hello-out\n${'x'.repeat(70000)}`);
  t.is(Buffer.concat(err).toString(), 'hello-err\n');
});
