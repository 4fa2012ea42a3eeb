import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import test from 'ava';
import { docker, registryWithBusybox, startDaemon } from '../harness/index.js';

// Containers run under conmon, not under skiffd: they outlive the daemon, and a new daemon on the
// same root picks them up again, including exits that happened while no daemon was running.

test('containers survive a daemon restart and their exits are still reported', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const first = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(async () => {
    await first.stop();
    await rm(dirname(first.socket), { recursive: true, force: true });
  });
  const host = first.dockerHost;
  const run = async (...args: string[]) => {
    const r = await docker(['run', '-d', ...args], { host });
    t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${first.output()}`);
    return r.stdout.trim();
  };
  const sleeper = await run('--name', 'sleeper', reg.image, 'sleep', '600');
  const quitter = await run('--name', 'quitter', reg.image, 'sh', '-c', 'sleep 2; exit 7');

  t.is((await first.stop({ keepState: true })).code, 0);
  const exitedMeanwhile = new Promise((r) => setTimeout(r, 2500));
  await exitedMeanwhile;

  const second = await startDaemon({
    storageDriver: 'overlay',
    insecureRegistries: [reg.host],
    root: first.root,
    execRoot: first.execRoot,
    socket: first.socket,
  });
  t.teardown(() => second.stop());
  const ps = await docker(['ps', '--no-trunc', '--format', '{{.ID}} {{.Status}}'], { host });
  t.regex(ps.stdout, new RegExp(`^${sleeper} Up `, 'm'), `${ps.stdout}\n--- skiffd:\n${second.output()}`);
  t.false(ps.stdout.includes(quitter));
  const wait = await docker(['wait', 'quitter'], { host });
  t.is(wait.stdout.trim(), '7', wait.stderr);
  const inspect = await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'quitter'], { host });
  t.is(inspect.stdout.trim(), 'exited 7');

  const rm1 = await docker(['rm', '-f', 'sleeper', 'quitter'], { host });
  t.is(rm1.code, 0, rm1.stderr);
  t.is((await docker(['ps', '-aq'], { host })).stdout, '');
});
