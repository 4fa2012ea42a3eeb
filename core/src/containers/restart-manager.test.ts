import test from 'ava';
import { BACKOFF_MAX_MS, nextBackoff, policyWantsRestart } from './restart-manager.js';

test('policies decide like moby ShouldRestart', (t) => {
  const p = (Name: string, MaximumRetryCount = 0) => ({ Name, MaximumRetryCount });
  t.false(policyWantsRestart(p('no'), 1, false, 0));
  t.true(policyWantsRestart(p('always'), 0, true, 9));
  t.true(policyWantsRestart(p('unless-stopped'), 0, false, 0));
  t.false(policyWantsRestart(p('unless-stopped'), 1, true, 0));
  t.false(policyWantsRestart(p('on-failure'), 0, false, 0));
  t.true(policyWantsRestart(p('on-failure'), 1, false, 100));
  t.true(policyWantsRestart(p('on-failure', 2), 3, false, 1));
  t.false(policyWantsRestart(p('on-failure', 2), 3, false, 2));
});

test('the back-off starts at 100 ms, doubles, caps at a minute, resets after a 10 s run', (t) => {
  const seq: number[] = [];
  let b = 0;
  for (let i = 0; i < 12; i++) seq.push((b = nextBackoff(b, 50)));
  t.deepEqual(seq.slice(0, 4), [100, 200, 400, 800]);
  t.is(seq.at(-1), BACKOFF_MAX_MS);
  t.is(nextBackoff(BACKOFF_MAX_MS, 10_000), 100);
  t.is(nextBackoff(400, 9_999), 800);
});
