import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { fixture } from './testing/fixture.js';

// A daemon killed between starting an exec's conmon and recording its pid leaves an exec
// directory that nothing will ever write an exit into: a restarted daemon must not wait for it.
test('an exec whose starter died before recording its conmon does not hold up delete after a restart', async (t) => {
  const f = await fixture(t);
  await f.writeConfig(['sleep', '300']);
  await f.runtime.create({ id: f.id, bundle: f.bundle, terminal: false, stdin: false, logPath: f.logPath });
  await f.runtime.start(f.id);
  const execDir = join(f.stateDir, 'tasks', f.id, 'execs', randomBytes(32).toString('hex'));
  await mkdir(execDir, { recursive: true, mode: 0o700 });
  await writeFile(join(execDir, 'exec.json'), JSON.stringify({ stdin: false, terminal: false, logPath: f.logPath }));

  const restarted = f.reopen();
  await restarted.kill(f.id, 'KILL');
  await restarted.wait(f.id);
  const deleted = restarted.delete(f.id).then(() => 'deleted');
  const stuck = new Promise((r) => setTimeout(() => r('stuck'), 20_000).unref());
  t.is(await Promise.race([deleted, stuck]), 'deleted');
});
