import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { entryNanos, timeParamNanos } from './log-time.js';

test('since/until keep nanoseconds', (t) => {
  t.is(timeParamNanos(undefined, 'since'), 0n);
  t.is(timeParamNanos('', 'since'), 0n);
  t.is(timeParamNanos('1700000000', 'since'), 1_700_000_000_000_000_000n);
  t.is(timeParamNanos('1700000000.000000001', 'since'), 1_700_000_000_000_000_001n);
  t.is(timeParamNanos('1700000000.5', 'since'), 1_700_000_000_500_000_000n);
  for (const bad of ['yesterday', '1.2.3', '1e9', '1.0000000001'])
    t.throws(() => timeParamNanos(bad, 'since'), { instanceOf: InvalidParameterError });
});

test('an entry at exactly since compares equal', (t) => {
  const time = '2023-11-14T22:13:20.123456789Z';
  t.is(entryNanos(time), timeParamNanos('1700000000.123456789', 'since'));
  t.is(entryNanos('2023-11-14T22:13:20Z'), 1_700_000_000_000_000_000n);
});
