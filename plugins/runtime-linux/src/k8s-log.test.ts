import { appendFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEntry } from '@skiff/core/plugin-api';
import test from 'ava';
import { EntryAssembler, normalizeTime, parseRecord, RecordReader, tailOffset } from './k8s-log.js';

const TS = '2026-11-22T12:17:56.383760558+00:00';

async function tempFile(t: { teardown(fn: () => Promise<void>): void }, content: string | Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-k8slog-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const p = join(dir, 'log');
  await writeFile(p, content);
  return p;
}

async function readAll(path: string, tail?: number): Promise<LogEntry[]> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const reader = new RecordReader(fh, tail === undefined ? 0 : await tailOffset(fh, size, tail));
    return await reader.readAvailable(new EntryAssembler());
  } finally {
    await fh.close();
  }
}

const show = (es: LogEntry[]) => es.map((e) => `${e.stream}:${e.data.toString()}`);

test('normalizeTime gives UTC with 9 fractional digits', (t) => {
  t.is(normalizeTime(TS), '2026-11-22T12:17:56.383760558Z');
  t.is(normalizeTime('2026-11-22T14:17:56.5+02:00'), '2026-11-22T12:17:56.500000000Z');
  t.is(normalizeTime('2026-11-22T00:17:56.000000001-0130'), '2026-11-22T01:47:56.000000001Z');
  t.is(normalizeTime('2026-11-22T12:17:56Z'), '2026-11-22T12:17:56.000000000Z');
  t.is(normalizeTime('2026-01-01T00:30:00.1+01:00'), '2025-12-31T23:30:00.100000000Z');
  for (const bad of [
    '',
    'yesterday',
    '2026-11-22 12:17:56Z',
    '2026-11-22T12:17:56.1234567890Z',
    '2026-13-45T99:99:99Z',
  ]) {
    t.is(normalizeTime(bad), undefined, bad);
  }
});

test('parseRecord reads stream, tag and raw bytes', (t) => {
  t.like(parseRecord(Buffer.from(`${TS} stdout F hello world`)), { stream: 'stdout', partial: false });
  t.is(parseRecord(Buffer.from(`${TS} stdout F hello  world `))?.data.toString(), 'hello  world ');
  t.is(parseRecord(Buffer.from(`${TS} stderr P `))?.data.length, 0);
  t.is(parseRecord(Buffer.from(`${TS} stderr F`))?.data.length, 0);
  const bin = Buffer.concat([Buffer.from(`${TS} stdout F `), Buffer.from([0xff, 0x00, 0xfe])]);
  t.deepEqual([...(parseRecord(bin)?.data ?? [])], [0xff, 0x00, 0xfe]);
  for (const bad of ['', 'garbage', `${TS} stdin F x`, `${TS} stdout X x`, `${TS} stdout Fx`, `notatime stdout F x`]) {
    t.is(parseRecord(Buffer.from(bad)), undefined, bad);
  }
});

test('partial records join into one entry per stream; malformed lines are skipped', async (t) => {
  const p = await tempFile(
    t,
    [
      `${TS} stdout P abc`,
      `${TS} stderr F e1`,
      `${TS} stdout P def`,
      'this line is garbage',
      `${TS} stdout F ghi`,
      `${TS} stdout F `,
      `${TS} stderr P tail`,
      '',
    ].join('\n'),
  );
  const entries = await readAll(p);
  t.deepEqual(show(entries), ['stderr:e1\n', 'stdout:abcdefghi\n', 'stdout:\n', 'stderr:tail']);
  t.is(entries[1]?.time, '2026-11-22T12:17:56.383760558Z');
});

test('an unterminated last line waits for its newline', async (t) => {
  const p = await tempFile(t, `${TS} stdout F one\n${TS} stdout F tw`);
  const fh = await open(p, 'r');
  t.teardown(() => fh.close());
  const reader = new RecordReader(fh, 0);
  const asm = new EntryAssembler();
  t.deepEqual(show(await reader.readAvailable(asm)), ['stdout:one\n']);
  await appendFile(p, 'o\n');
  t.deepEqual(show(await reader.readAvailable(asm)), ['stdout:two\n']);
  t.deepEqual(show(await reader.readAvailable(asm)), []);
});

test('tailOffset counts entries, a trailing partial run as one', async (t) => {
  const lines = [`${TS} stdout F a`, `${TS} stdout P b1`, `${TS} stdout F b2`, `${TS} stderr F c`, `${TS} stdout P d`];
  const p = await tempFile(t, `${lines.join('\n')}\n${TS} stdout F unterminated`);
  t.deepEqual(show(await readAll(p, 1)), ['stdout:d']);
  t.deepEqual(show(await readAll(p, 2)), ['stderr:c\n', 'stdout:d']);
  t.deepEqual(show(await readAll(p, 3)), ['stdout:b1b2\n', 'stderr:c\n', 'stdout:d']);
  t.deepEqual(show(await readAll(p, 4)), ['stdout:a\n', 'stdout:b1b2\n', 'stderr:c\n', 'stdout:d']);
  t.deepEqual(show(await readAll(p, 100)), show(await readAll(p)));
  t.deepEqual(show(await readAll(p, 0)), []);
  const empty = await tempFile(t, '');
  t.deepEqual(await readAll(empty, 5), []);
});

test('tailOffset across chunk boundaries of a large file', async (t) => {
  const n = 5000;
  const body = Array.from(
    { length: n },
    (_, i) => `${TS} ${i % 2 ? 'stderr' : 'stdout'} F line-${i}-${'x'.repeat(i % 50)}\n`,
  ).join('');
  t.true(body.length > 4 * 64 * 1024);
  const p = await tempFile(t, body);
  for (const k of [1, 7, 1234, 4999, 5000]) {
    const entries = await readAll(p, k);
    t.is(entries.length, k);
    t.true(entries[0]!.data.toString().startsWith(`line-${n - k}-`), `tail ${k}`);
  }
});
