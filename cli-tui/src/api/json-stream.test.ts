import { Readable } from 'node:stream';
import test from 'ava';
import { ProtocolError } from './errors.js';
import { JSONValueSplitter, readJSONStream } from './json-stream.js';

async function all(chunks: (string | Buffer)[]): Promise<unknown[]> {
  const values: unknown[] = [];
  for await (const v of readJSONStream(Readable.from(chunks))) values.push(v);
  return values;
}

test('values split across chunks, several per chunk, with and without newlines', async (t) => {
  const text = '{"status":"a {\\"q\\"}"}\n{"id":"x","progressDetail":{}}{"arr":[1,{"b":"]"}]}\r\n';
  const expected = [{ status: 'a {"q"}' }, { id: 'x', progressDetail: {} }, { arr: [1, { b: ']' }] }];
  t.deepEqual(await all([text]), expected);
  for (let cut = 1; cut < text.length; cut++) {
    t.deepEqual(await all([text.slice(0, cut), text.slice(cut)]), expected, `cut at ${cut}`);
  }
});

test('multi-byte UTF-8 split between chunks', async (t) => {
  const bytes = Buffer.from('{"status":"héllo…"}');
  t.deepEqual(await all([bytes.subarray(0, 14), bytes.subarray(14)]), [{ status: 'héllo…' }]);
});

test('garbage and truncated streams fail with ProtocolError', async (t) => {
  await t.throwsAsync(all(['not json']), { instanceOf: ProtocolError });
  await t.throwsAsync(all(['{"status":"cut']), { instanceOf: ProtocolError });
  await t.throwsAsync(all(['{"a":tru}']), { instanceOf: ProtocolError });
  t.deepEqual(new JSONValueSplitter().push('  \n'), []);
});
