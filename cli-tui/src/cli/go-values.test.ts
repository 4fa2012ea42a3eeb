import test from 'ava';
import { goDuration, goInt, goUint, memSwapBytes, nanoCpus, ramInBytes, ValueError } from './go-values.js';

test('ramInBytes: binary units, optional b/ib, a space before the unit', (t) => {
  t.is(ramInBytes('1024'), 1024);
  t.is(ramInBytes('100k'), 102400);
  t.is(ramInBytes('64m'), 64 * 1024 ** 2);
  t.is(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
  t.is(ramInBytes('1 MiB'), 1024 ** 2);
  t.is(ramInBytes('2KB'), 2048);
  t.is(ramInBytes('10b'), 10);
  t.throws(() => ramInBytes('1x'), { instanceOf: ValueError, message: "invalid suffix: 'x'" });
  t.throws(() => ramInBytes('1kbb'), { message: "invalid suffix: 'kbb'" });
  t.throws(() => ramInBytes('abc'), { message: "invalid size: 'abc'" });
  t.throws(() => ramInBytes('-1'), { message: "invalid size: '-1'" });
  t.is(memSwapBytes('-1'), -1);
});

test('goInt, goUint: base prefixes and Go error texts', (t) => {
  t.is(goInt('42'), 42);
  t.is(goInt('-7'), -7);
  t.is(goInt('0x10'), 16);
  t.is(goInt('010'), 8);
  t.throws(() => goInt('1.5'), { message: 'strconv.ParseInt: parsing "1.5": invalid syntax' });
  t.throws(() => goInt('99999999999999999999'), {
    message: 'strconv.ParseInt: parsing "99999999999999999999": value out of range',
  });
  t.is(goUint('100', 16), 100);
  t.throws(() => goUint('70000', 16), { message: 'strconv.ParseUint: parsing "70000": value out of range' });
});

test('goDuration: time.ParseDuration', (t) => {
  t.is(goDuration('0'), 0);
  t.is(goDuration('1.5h'), 1.5 * 3600e9);
  t.is(goDuration('1m30s'), 90e9);
  t.is(goDuration('-1s'), -1e9);
  t.is(goDuration('300ms'), 300e6);
  t.throws(() => goDuration('x'), { message: 'time: invalid duration "x"' });
  t.throws(() => goDuration('1'), { message: 'time: missing unit in duration "1"' });
  t.throws(() => goDuration('1x'), { message: 'time: unknown unit "x" in duration "1x"' });
});

test('nanoCpus: exact rationals', (t) => {
  t.is(nanoCpus('1.5'), 1.5e9);
  t.is(nanoCpus('1/2'), 0.5e9);
  t.is(nanoCpus('1e-3'), 1e6);
  t.is(nanoCpus('.25'), 0.25e9);
  t.throws(() => nanoCpus('x'), { message: 'failed to parse x as a rational number' });
  t.throws(() => nanoCpus('0.0000000001'), { message: 'value is too precise' });
});
