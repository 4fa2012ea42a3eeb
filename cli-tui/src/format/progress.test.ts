import { readFileSync } from 'node:fs';
import test from 'ava';
import { displayJSONMessages, type JSONMessage, JSONMessageError, progressString } from './progress.js';

// The stream dockerd sent for `docker pull 127.0.0.1:5000/spytest:v1` (wire capture pull.log).
const CAPTURED: JSONMessage[] = [
  { status: 'Pulling from spytest', id: 'v1' },
  { status: 'Already exists', progressDetail: {}, id: '7bef39090010' },
  { status: 'Pulling fs layer', progressDetail: {}, id: '62a9679ed90e' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'da98613f79e6' },
  {
    status: 'Downloading',
    progressDetail: { current: 124, total: 124 },
    progress: '[==>]     124B/124B',
    id: 'da98613f79e6',
  },
  { status: 'Verifying Checksum', progressDetail: {}, id: 'da98613f79e6' },
  { status: 'Download complete', progressDetail: {}, id: 'da98613f79e6' },
  { status: 'Downloading', progressDetail: { current: 36446, total: 614829 }, progress: '[==>  ]', id: '62a9679ed90e' },
  { status: 'Extracting', progressDetail: { current: 614829, total: 614829 }, progress: '[===>]', id: '62a9679ed90e' },
  { status: 'Pull complete', progressDetail: {}, id: '62a9679ed90e' },
  { status: 'Digest: sha256:9836d7754c07040391556f6a08b070a54d14ed25587d82c34b4b82906941c432' },
  { status: 'Status: Downloaded newer image for 127.0.0.1:5000/spytest:v1' },
];

async function* from(messages: JSONMessage[]): AsyncGenerator<JSONMessage> {
  yield* messages;
}

function sink(): { write(s: string): boolean; text: string } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

test('non-TTY output: one line per status, progress-bar updates dropped (as docker prints it)', async (t) => {
  const out = sink();
  await displayJSONMessages(from(CAPTURED), out, { isTerminal: false });
  t.is(
    out.text,
    [
      'v1: Pulling from spytest',
      '7bef39090010: Already exists',
      '62a9679ed90e: Pulling fs layer',
      'da98613f79e6: Pulling fs layer',
      'da98613f79e6: Verifying Checksum',
      'da98613f79e6: Download complete',
      '62a9679ed90e: Pull complete',
      'Digest: sha256:9836d7754c07040391556f6a08b070a54d14ed25587d82c34b4b82906941c432',
      'Status: Downloaded newer image for 127.0.0.1:5000/spytest:v1',
      '',
    ].join('\n'),
  );
});

test('in-band errorDetail stops the stream with its message and code', async (t) => {
  const out = sink();
  const err = await t.throwsAsync(
    displayJSONMessages(
      from([
        { status: 'Pulling from x', id: 'latest' },
        { errorDetail: { code: 9, message: 'boom' }, error: 'boom' },
        { status: 'never' },
      ]),
      out,
      { isTerminal: false },
    ),
    { instanceOf: JSONMessageError, message: 'boom' },
  );
  t.is(err?.code, 9);
  t.is(out.text, 'latest: Pulling from x\n');
});

test('aux messages are not printed; stream messages are printed as-is', async (t) => {
  const out = sink();
  const aux: unknown[] = [];
  await displayJSONMessages(from([{ aux: { ID: 'sha256:x' } }, { stream: 'Step 1/2\n' }]), out, {
    isTerminal: false,
    onAux: (m) => aux.push(m.aux),
  });
  t.is(out.text, 'Step 1/2\n');
  t.deepEqual(aux, [{ ID: 'sha256:x' }]);
});

test('TTY output redraws lines per id with cursor movement', async (t) => {
  const out = sink();
  await displayJSONMessages(
    from([
      { status: 'Pulling fs layer', progressDetail: {}, id: 'a' },
      { status: 'Downloading', progressDetail: { current: 500, total: 1000 }, id: 'a' },
      { status: 'Done' },
    ]),
    out,
    { isTerminal: true, width: 80 },
  );
  t.is(
    out.text,
    '\n\x1b[1A\x1b[2K\ra: Pulling fs layer \r\x1b[1B' +
      '\x1b[1A\x1b[2K\ra: Downloading     500B/1kB\r\x1b[1B' +
      'Done\n',
  );
});

test('progress bar like docker (wide terminal)', (t) => {
  t.is(
    progressString({ current: 32768, total: 614829 }, 200, 0),
    '[==>                                                ]  32.77kB/614.8kB',
  );
  t.is(progressString({ current: 5, total: 0 }, 200, 0), '      5B');
  t.is(progressString({ current: 0, total: 0 }, 200, 0), '');
  t.is(progressString({ current: 10, total: 100, start: 100 }, 80, 110_000), '     10B/100B 1m30s');
});

test('captured wire log renders like the docker CLI did', async (t) => {
  // Every JSON line dockerd sent in the capture; the expected text is what docker 28 printed.
  const log = readFileSync('/work/shared/reference/wire-captures/pull.log', 'utf8');
  const messages = log
    .split('\n')
    .filter((l) => l.startsWith('{"status"'))
    .map((l) => JSON.parse(l) as JSONMessage);
  t.true(messages.length > 10);
  const out = sink();
  await displayJSONMessages(from(messages), out, { isTerminal: false });
  t.true(out.text.startsWith('v1: Pulling from spytest\n7bef39090010: Already exists\n'));
  t.false(out.text.includes('Downloading'));
  t.false(out.text.includes('Extracting'));
});
