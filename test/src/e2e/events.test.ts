import test from 'ava';
import { api, docker, registryWithBusybox, startDaemon } from '../harness/index.js';

test('docker events replays a run between since and until, filtered like dockerd', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startDaemon({ storageDriver: 'vfs', insecureRegistries: [reg.host] });
  t.teardown(() => d.stop());
  const host = d.dockerHost;
  const since = Math.floor(Date.now() / 1000) - 1;
  const run = await docker(['run', '--rm', '--name', 'evented', reg.image, 'sh', '-c', 'exit 4'], { host });
  t.is(run.code, 4, run.stderr);
  const until = Math.ceil(Date.now() / 1000) + 1;
  const r = await docker(
    [
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--filter',
      'type=container',
      '--format',
      '{{json .}}',
    ],
    { host },
  );
  t.is(r.code, 0, r.stderr);
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Action: string; Type: string; Actor: { Attributes: Record<string, string> } })
    .filter((e) => e.Actor.Attributes.name === 'evented');
  t.deepEqual(
    events.map((e) => e.Action),
    ['create', 'attach', 'start', 'die', 'destroy'],
  );
  t.is(events.find((e) => e.Action === 'die')?.Actor.Attributes.exitCode, '4');
  t.true(events.every((e) => e.Type === 'container'));

  const dies = await docker(['events', '--since', String(since), '--until', String(until), '--filter', 'event=die'], {
    host,
  });
  t.is(dies.stdout.trim().split('\n').length, 1, dies.stdout);
  const bad = await docker(['events', '--since', String(since), '--until', String(until), '--filter', 'bogus=1'], {
    host,
  });
  t.not(bad.code, 0);
  t.regex(bad.stderr, /invalid filter 'bogus'/);

  // timeNano is exact: every digit of an int64, consistent with time. A double would round these
  // 19-digit values to multiples of 256, which five events in a row are not by chance.
  const raw = await api(
    host,
    'GET',
    `/events?since=${since}&until=${until}&filters=${encodeURIComponent('{"container":["evented"]}')}`,
  );
  const stamps = [...raw.body.matchAll(/"time":(\d+),"timeNano":(\d+)/g)].map(
    (m) => [BigInt(m[1]!), BigInt(m[2]!)] as const,
  );
  t.is(stamps.length, 5, raw.body);
  for (const [secs, ns] of stamps) t.is(ns / 1_000_000_000n, secs);
  t.true(
    stamps.some(([, ns]) => ns % 256n !== 0n),
    raw.body,
  );
});
