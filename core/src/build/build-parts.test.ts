import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openDatabase } from '../store/database.js';
import { BuildArgs } from './build-args.js';
import { BuildCache } from './build-cache.js';
import { BuildStream } from './build-stream.js';
import type { ProgressMessage } from '../images/image-types.js';
import { exposedPorts, validateStopSignal } from './step-values.js';

test('build args: client values, proxies, and the unused-arg warning', (t) => {
  const args = new BuildArgs(
    new Map<string, string | null>([
      ['USED', '1'],
      ['B_UNUSED', 'x'],
      ['A_UNUSED', 'y'],
      ['HTTP_PROXY', 'http://p'],
      ['NULLED', null],
    ]),
  );
  t.is(args.value('USED'), '1');
  t.false(args.has('NULLED'));
  t.deepEqual(args.proxyEnv(), ['HTTP_PROXY=http://p']);
  args.reference('USED');
  t.is(args.unusedWarning(), '[Warning] One or more build-args [A_UNUSED B_UNUSED NULLED] were not consumed\n');
  for (const k of ['A_UNUSED', 'B_UNUSED', 'NULLED']) args.reference(k);
  t.is(args.unusedWarning(), undefined);
});

test('EXPOSE ports and STOPSIGNAL values', (t) => {
  t.deepEqual(exposedPorts(['80', '53/udp', '1000-1002/TCP']), {
    '80/tcp': {},
    '53/udp': {},
    '1000/tcp': {},
    '1001/tcp': {},
    '1002/tcp': {},
  });
  t.throws(() => exposedPorts(['abc']), { message: 'Invalid containerPort: abc' });
  t.throws(() => exposedPorts(['80/xyz']), { message: 'Invalid proto: xyz' });
  t.throws(() => exposedPorts(['9-1']), { message: /Invalid range/ });
  for (const s of ['SIGTERM', 'term', '9', 'SIGRTMIN+3']) t.notThrows(() => validateStopSignal(s));
  t.throws(() => validateStopSignal('FOO'), { message: 'Invalid signal: FOO' });
  t.throws(() => validateStopSignal('0'));
});

test('the build cache persists in SQLite, drops entries whose image is gone, and prunes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-build-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'skiff.db');
  const key = BuildCache.key('sha256:parent', 'RUN\n["/bin/sh","-c","true"]');
  t.not(key, BuildCache.key('sha256:other', 'RUN\n["/bin/sh","-c","true"]'));
  let db = openDatabase(file);
  new BuildCache(db, 'overlay').store(key, 'sha256:img');
  db.close();
  db = openDatabase(file);
  const cache = new BuildCache(db, 'overlay');
  const load = (id: string) => id;
  t.is(cache.lookup(key, load), 'sha256:img');
  t.is(new BuildCache(db, 'vfs').lookup(key, load), undefined, 'per storage driver');
  t.is(
    cache.lookup(key, () => undefined),
    undefined,
    'the image is gone',
  );
  t.is(cache.lookup(key, load), undefined, 'a stale entry is dropped');
  cache.store(key, 'sha256:img2');
  t.deepEqual(cache.prune(), ['sha256:img2']);
  t.is(cache.lookup(key, load), undefined);
  db.close();
});

test('the build stream: quiet output is held back until an error', (t) => {
  const sent: ProgressMessage[] = [];
  const quiet = new BuildStream((m) => sent.push(m), true);
  quiet.text('Step 1/1 : FROM x');
  quiet.aux('sha256:abc');
  t.deepEqual(sent, [{ aux: { ID: 'sha256:abc' } }]);
  quiet.error("The command 'false' returned a non-zero code: 1", 1);
  t.deepEqual(sent.slice(1), [
    { stream: 'Step 1/1 : FROM x' },
    {
      errorDetail: { code: 1, message: "The command 'false' returned a non-zero code: 1" },
      error: "The command 'false' returned a non-zero code: 1",
    },
  ]);
  const loud: ProgressMessage[] = [];
  const s = new BuildStream((m) => loud.push(m));
  s.text('a');
  s.text('');
  s.quietResult('sha256:x');
  t.deepEqual(loud, [{ stream: 'a' }]);
});
