import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { boolParam, parseFilters } from './query.js';

test('booleans in every spelling clients use', (t) => {
  for (const v of ['1', 'true', 'True', 'yes', 'anything']) t.true(boolParam(v), v);
  for (const v of ['', '0', 'no', 'false', 'False', 'none', ' 0 ']) t.false(boolParam(v), v);
  t.false(boolParam(undefined));
  t.true(boolParam(undefined, true));
});

test('filters in both shapes', (t) => {
  t.deepEqual([...parseFilters('{"status":{"exited":true}}')], [['status', ['exited']]]);
  t.deepEqual([...parseFilters('{"label": ["a=b", "c"]}')], [['label', ['a=b', 'c']]]);
  t.is(parseFilters(undefined).size, 0);
  t.throws(() => parseFilters('{'), { instanceOf: InvalidParameterError });
  t.throws(() => parseFilters('{"a": 1}'), { instanceOf: InvalidParameterError });
});
