import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { runtimeHostProblem } from './host-support.js';
import { fixture } from './testing/fixture.js';
import { runtimeRefusing } from './testing/runtime-refusing.js';
import { findExecutable } from './which.js';

// runc's init waits to write to its exec fifo, crun's to read from it: both are released here.
const crun = findExecutable('crun');
const runtimes = ['runc', ...(crun && !runtimeHostProblem(crun) ? ['crun'] : [])];

for (const runtime of runtimes) {
  test(`${runtime}: start releases the created init through its exec fifo, without \`${runtime} start\``, async (t) => {
    const f = await fixture(t, { binary: await runtimeRefusing(t, 'start', runtime) });
    await f.writeConfig(['sh', '-c', 'exit 7']);
    const { pid } = await f.create();
    t.true(pid > 0);
    await f.runtime.start(f.id);
    t.is((await f.runtime.wait(f.id)).exitCode, 7);
    const root = join(f.stateDir, 'roots', `${runtime}-nostart`, f.id);
    t.false((await readdir(root).catch(() => [] as string[])).includes('exec.fifo'));
  });

  test(`${runtime}: a created task whose init is gone is left to the runtime, and its error`, async (t) => {
    const f = await fixture(t, { binary: await runtimeRefusing(t, 'start', runtime) });
    await f.writeConfig(['true']);
    const { pid } = await f.create();
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
}
