import test from 'ava';
import { goMap, inGoOrder } from './go-json.js';

test('inGoOrder: the listed fields first in their order, the rest after in theirs; nothing added', (t) => {
  const o = inGoOrder({ c: 3, extra: 0, a: 1, b: undefined }, ['a', 'b', 'c', 'missing']);
  t.deepEqual(Object.keys(o), ['a', 'b', 'c', 'extra']);
  t.is(JSON.stringify(o), '{"a":1,"c":3,"extra":0}');
});

test('goMap: keys sorted as Go sorts map keys (byte order, not locale); null and undefined kept', (t) => {
  t.deepEqual(Object.keys(goMap({ zeta: 1, Zed: 2, '9000/tcp': {}, '80/tcp': {}, alpha: 3 })), [
    '80/tcp',
    '9000/tcp',
    'Zed',
    'alpha',
    'zeta',
  ]);
  t.is(goMap(null), null);
  t.is(goMap(undefined), undefined);
});
