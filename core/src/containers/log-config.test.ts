import test from 'ava';
import { InvalidParameterError, NotImplementedError } from '../plugin-api/errors.js';
import { assertLogsReadable, logRotationOf, parseSize, validateLogConfig } from './log-config.js';

const lc = (Type: string, Config: Record<string, string> = {}) => ({ Type, Config });

test('sizes: json-file counts k as 1000 (FromHumanSize), local as 1024 (RAMInBytes)', (t) => {
  t.is(parseSize('1k', 1000), 1000);
  t.is(parseSize('1.5m', 1000), 1_500_000);
  t.is(parseSize('10 kb', 1000), 10_000);
  t.is(parseSize('512', 1000), 512);
  t.is(parseSize('2KiB', 1024), 2048);
  t.is(parseSize('20m', 1024), 20 * 1024 * 1024);
  for (const bad of ['', 'abc', '-1k', '1x', '1 k b'])
    t.throws(() => parseSize(bad, 1000), { instanceOf: InvalidParameterError, message: `invalid size: '${bad}'` });
});

test('rotation per driver', (t) => {
  t.is(logRotationOf(lc('json-file')), undefined);
  t.is(logRotationOf(lc('json-file', { 'max-file': '3' })), undefined);
  t.deepEqual(logRotationOf(lc('json-file', { 'max-size': '1k' })), { maxSize: 1000, maxFiles: 1 });
  t.deepEqual(logRotationOf(lc('json-file', { 'max-size': '1k', 'max-file': '2' })), { maxSize: 1000, maxFiles: 2 });
  t.deepEqual(logRotationOf(lc('local')), { maxSize: 20 * 1024 * 1024, maxFiles: 5 });
  t.deepEqual(logRotationOf(lc('local', { 'max-size': '1m' })), { maxSize: 1024 * 1024, maxFiles: 5 });
  t.deepEqual(logRotationOf(lc('none')), { maxSize: 1024 * 1024, maxFiles: 1 });
});

test('validation: drivers, options, values', (t) => {
  for (const ok of [
    lc('json-file'),
    lc('json-file', { 'max-size': '10m', 'max-file': '3', compress: 'true', tag: 'x', mode: 'non-blocking' }),
    lc('local', { 'max-size': '1m' }),
    lc('none'),
  ])
    t.notThrows(() => validateLogConfig(ok), ok.Type);
  const bad: Array<[ReturnType<typeof lc>, string]> = [
    [lc('nope'), "logger: no log driver named 'nope' is registered"],
    [lc('json-file', { bogus: '1' }), "unknown log opt 'bogus' for json-file log driver"],
    [lc('local', { tag: 'x' }), "unknown log opt 'tag' for log driver local"],
    [lc('json-file', { 'max-size': 'big' }), "invalid size: 'big'"],
    [lc('json-file', { 'max-size': '0' }), 'max-size must be a positive number'],
    [lc('json-file', { 'max-size': '1k', 'max-file': '0' }), 'max-file cannot be less than 1'],
    [lc('json-file', { 'max-file': 'two' }), 'strconv.Atoi: parsing "two": invalid syntax'],
    [lc('json-file', { mode: 'sometimes' }), 'logger: logging mode not supported: sometimes'],
  ];
  for (const [c, message] of bad) t.throws(() => validateLogConfig(c), { instanceOf: InvalidParameterError, message });
  t.throws(() => validateLogConfig(lc('syslog')), { instanceOf: NotImplementedError });
});

test('logs of a none container are refused with dockerd words', (t) => {
  t.throws(() => assertLogsReadable(lc('none')), {
    instanceOf: NotImplementedError,
    message: 'configured logging driver does not support reading',
  });
  t.notThrows(() => assertLogsReadable(lc('local')));
});
