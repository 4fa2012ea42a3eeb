import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { fixture } from './testing/fixture.js';
import { runcRefusing } from './testing/runc-refusing.js';

test('start releases the created init through its exec fifo, without `runc start`', async (t) => {
  const f = await fixture(t, { binary: await runcRefusing(t, 'start') });
  await f.writeConfig(['sh', '-c', 'exit 7']);
  const { pid } = await f.runtime.create({
    id: f.id,
    bundle: f.bundle,
    terminal: false,
    stdin: false,
    logPath: f.logPath,
  });
  t.true(pid > 0);
  await f.runtime.start(f.id);
  t.is((await f.runtime.wait(f.id)).exitCode, 7);
  const root = join(f.stateDir, 'roots', 'runc-nostart', f.id);
  t.false((await readdir(root).catch(() => [] as string[])).includes('exec.fifo'));
});

test('a created task whose init is gone is left to the runtime, and its error', async (t) => {
  const f = await fixture(t, { binary: await runcRefusing(t, 'start') });
  await f.writeConfig(['true']);
  const { pid } = await f.runtime.create({
    id: f.id,
    bundle: f.bundle,
    terminal: false,
    stdin: false,
    logPath: f.logPath,
  });
  process.kill(pid, 'SIGKILL');
  // Gone, or a zombie its monitor has not reaped yet.
  const state = () =>
    readFile(`/proc/${pid}/stat`, 'utf8').then(
      (s) => s.split(') ')[1]?.[0],
      () => 'gone',
    );
  while (!['gone', 'Z', 'X'].includes((await state()) ?? 'gone')) await new Promise((r) => setTimeout(r, 20));
  await t.throwsAsync(f.runtime.start(f.id), { message: /start refused by the test|stopped|not created/ });
});
