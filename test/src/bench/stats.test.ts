import test from 'ava';
import { percentile, summarize } from './stats.js';

test('percentile uses the nearest rank', (t) => {
  t.is(percentile([5, 1, 3, 2, 4], 50), 3);
  t.is(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  t.is(percentile([1, 2, 3, 4], 50), 2);
  t.is(percentile([7], 90), 7);
  t.true(Number.isNaN(percentile([], 50)));
});

test('summarize reports median, p90, min and max', (t) => {
  t.deepEqual(summarize([3, 1, 2]), { runs: 3, median: 2, p90: 3, min: 1, max: 3 });
});
