import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fixture } from './testing/fixture.js';

/** runc for everything but `start`, which it refuses: a start that works did not need it. */
async function runcWithoutStart(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-nostart-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'runc-nostart');
  await writeFile(
    path,
    `#!/bin/sh\nfor a; do [ "$a" = start ] && { echo '{"level":"error","msg":"start refused by the test"}' >&2; exit 1; }; done\nexec runc "$@"\n`,
  );
  await chmod(path, 0o755);
  return path;
}

test('start releases the created init through its exec fifo, without `runc start`', async (t) => {
  const f = await fixture(t, { binary: await runcWithoutStart(t) });
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
  const f = await fixture(t, { binary: await runcWithoutStart(t) });
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
