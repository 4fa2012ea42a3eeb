import test from 'ava';
import { type StatsSample, statsFrames } from './stats.js';

function sampler(samples: StatsSample[]) {
  let i = 0;
  return async () => samples[Math.min(i++, samples.length - 1)]!;
}

const running = (n: number): StatsSample => ({
  kind: 'running',
  stats: { read: `2026-01-01T00:00:0${n}Z`, cpu_stats: { cpu_usage: { total_usage: n } }, memory_stats: { usage: n } },
});

async function collect(gen: AsyncGenerator<Record<string, unknown>>) {
  const out: Array<Record<string, unknown>> = [];
  for await (const f of gen) out.push(f);
  return out;
}

const base = { name: '/c', id: 'abc', signal: new AbortController().signal, intervalMs: 1 };

test('stream=false samples twice: precpu and preread are the first sample', async (t) => {
  const frames = await collect(
    statsFrames(sampler([running(1), running(2)]), { ...base, stream: false, oneShot: false }),
  );
  t.is(frames.length, 1);
  t.like(frames[0], { read: '2026-01-01T00:00:02Z', preread: '2026-01-01T00:00:01Z', name: '/c', id: 'abc' });
  t.deepEqual(frames[0]!.precpu_stats, { cpu_usage: { total_usage: 1 } });
});

test('one-shot answers with the first sample and an empty precpu', async (t) => {
  const frames = await collect(
    statsFrames(sampler([running(1), running(2)]), { ...base, stream: false, oneShot: true }),
  );
  t.is(frames.length, 1);
  t.like(frames[0], { read: '2026-01-01T00:00:01Z', preread: '0001-01-01T00:00:00Z' });
  t.is((frames[0]!.precpu_stats as { cpu_usage: { total_usage: number } }).cpu_usage.total_usage, 0);
});

test('a stream goes on until the container is gone; a stopped one gives zero stats', async (t) => {
  const frames = await collect(
    statsFrames(sampler([running(1), running(2), { kind: 'stopped' }, { kind: 'gone' }]), {
      ...base,
      stream: true,
      oneShot: false,
    }),
  );
  t.is(frames.length, 3);
  t.is(frames[1]!.preread, frames[0]!.read);
  t.like(frames[2], { read: '0001-01-01T00:00:00Z', memory_stats: {}, pids_stats: {}, name: '/c' });
});

test('an aborted stream ends', async (t) => {
  const ac = new AbortController();
  const gen = statsFrames(sampler([running(1)]), {
    ...base,
    intervalMs: 60_000,
    stream: true,
    oneShot: false,
    signal: ac.signal,
  });
  t.truthy((await gen.next()).value);
  const next = gen.next();
  ac.abort();
  t.true((await next).done);
});
