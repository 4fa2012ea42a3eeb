import { readdir } from 'node:fs/promises';
import test from 'ava';
import { collect, fixture, text } from './testing/fixture.js';

// Ten bursts of ten ~50-byte lines, a pause between bursts so that rotations fall between them.
const BURSTS =
  'for b in 0 1 2 3 4 5; do for i in 1 2 3 4 5 6 7 8 9 10; do echo "line-$((b*10+i))-xxxxxxxxxxxxxxxxxxxxxxxxxxxx"; done; sleep 0.3; done';

function numbers(out: string): number[] {
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(/^line-(\d+)-/.exec(l)?.[1]));
}

function consecutiveTo(ns: number[], last: number): boolean {
  return ns.at(-1) === last && ns.every((n, i) => i === 0 || n === ns[i - 1]! + 1);
}

test('rotation keeps max-file files; logs read across them, follow survives rotations', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', BURSTS]);
  await f.runtime.create({
    id: f.id,
    bundle: f.bundle,
    terminal: false,
    stdin: false,
    logPath: f.logPath,
    logRotation: { maxSize: 1000, maxFiles: 2 },
  });
  const followed = collect(f.runtime.logs(f.id, f.logPath, { follow: true }));
  await f.runtime.start(f.id);
  t.is((await f.runtime.wait(f.id)).exitCode, 0);
  t.deepEqual(
    numbers(text(await followed)),
    Array.from({ length: 60 }, (_, i) => i + 1),
  );
  const files = (await readdir(f.base)).filter((n) => n.startsWith('container.log')).sort();
  t.deepEqual(files, ['container.log', 'container.log.1']);
  const all = numbers(text(await collect(f.runtime.logs(f.id, f.logPath, { follow: false }))));
  t.true(consecutiveTo(all, 60), all.join(','));
  t.true(all[0]! > 1);
  const current = numbers(text(await collect(f.runtime.logs(f.id, f.logPath, { follow: false, tail: 1000 }))));
  t.deepEqual(current, all);
  const n = all.length - 2;
  const tail = numbers(text(await collect(f.runtime.logs(f.id, f.logPath, { follow: false, tail: n }))));
  t.deepEqual(tail, all.slice(-n));
});

test('max-file 1 keeps the current file, and the previous one until the next rotation', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sh', '-c', BURSTS]);
  await f.runtime.create({
    id: f.id,
    bundle: f.bundle,
    terminal: false,
    stdin: false,
    logPath: f.logPath,
    logRotation: { maxSize: 1000, maxFiles: 1 },
  });
  await f.runtime.start(f.id);
  await f.runtime.wait(f.id);
  const files = (await readdir(f.base)).filter((n) => n.startsWith('container.log')).sort();
  t.deepEqual(files, ['container.log', 'container.log.1']);
  const all = numbers(text(await collect(f.runtime.logs(f.id, f.logPath, { follow: false }))));
  t.true(consecutiveTo(all, 60), `${all.join(',')} ${await readdir(f.base)}`);
});
