import test from 'ava';
import { Limiter } from './limiter.js';

const tick = () => new Promise((r) => setImmediate(r));

function gate(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('never more than `limit` holders, served in order', async (t) => {
  const l = new Limiter(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const gates = Array.from({ length: 5 }, gate);
  const jobs = gates.map((g, i) =>
    l.run(async () => {
      order.push(i);
      running++;
      peak = Math.max(peak, running);
      await g.promise;
      running--;
    }),
  );
  await tick();
  t.deepEqual(order, [0, 1]);
  t.true(l.full);
  gates[1]!.resolve();
  await tick();
  t.deepEqual(order, [0, 1, 2]);
  for (const g of gates) g.resolve();
  await Promise.all(jobs);
  t.is(peak, 2);
  t.deepEqual(order, [0, 1, 2, 3, 4]);
  t.false(l.full);
});

test('a failing job releases its slot', async (t) => {
  const l = new Limiter(1);
  await t.throwsAsync(
    l.run(async () => {
      throw new Error('boom');
    }),
    { message: 'boom' },
  );
  t.is(await l.run(async () => 7), 7);
});

test('an aborted waiter gives its place up; releasing twice is harmless', async (t) => {
  const l = new Limiter(1);
  const release = await l.acquire();
  const ac = new AbortController();
  const waiter = l.acquire(ac.signal);
  const next = l.acquire();
  ac.abort(new Error('gone'));
  await t.throwsAsync(waiter, { message: 'gone' });
  release();
  release();
  const r2 = await next;
  t.true(l.full);
  r2();
  t.false(l.full);
  await t.throwsAsync(l.acquire(ac.signal), { message: 'gone' });
  t.throws(() => new Limiter(0), { instanceOf: RangeError });
});
