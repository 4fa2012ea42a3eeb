import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import test from 'ava';
import { docker, registryWithBusybox, startRestartableDaemon } from '../harness/index.js';

// Containers run under conmon, not under skiffd: they outlive the daemon, and a new daemon on the
// same root picks them up again, including exits that happened while no daemon was running.

test('containers survive a daemon restart and their exits are still reported', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startRestartableDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(() => d.stop());
  const host = d.current.dockerHost;
  const run = async (...args: string[]) => {
    const r = await docker(['run', '-d', ...args], { host });
    t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${d.current.output()}`);
    return r.stdout.trim();
  };
  const sleeper = await run('--name', 'sleeper', reg.image, 'sleep', '600');
  const quitter = await run('--name', 'quitter', reg.image, 'sh', '-c', 'sleep 2; exit 7');

  // The quitter exits while no daemon runs.
  const second = await d.restart('sigterm', () => new Promise((r) => setTimeout(r, 2500)));
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

/** Paths under `dir` whose name, or (for small files, such as snapshot metadata) content, mentions `needle`. */
async function pathsMentioning(dir: string, needle: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    if (e.name.includes(needle)) out.push(path);
    else if (e.isFile() && e.name.endsWith('.json') && (await stat(path)).size < 65536) {
      if ((await readFile(path, 'utf8')).includes(needle)) out.push(path);
    }
  }
  return out;
}

test('storage left by a crash between removing a record and its snapshot is collected at start-up', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startRestartableDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(() => d.stop());
  const root = d.current.root;
  const created = await docker(['create', reg.image, 'true'], { host: d.current.dockerHost });
  t.is(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  const second = await d.restart('sigterm', async () => {
    const before = await pathsMentioning(root, id);
    t.true(
      before.some((p) => p.includes('/plugins/')),
      `the graph driver records the snapshot: ${before.join(', ')}`,
    );
    // What a crash right after deleting the record would leave behind.
    const db = new DatabaseSync(join(root, 'skiff.db'));
    db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    db.close();
  });
  t.deepEqual(await pathsMentioning(root, id), []);
  const run = await docker(['run', '--rm', reg.image, 'echo', 'still fine'], { host: second.dockerHost });
  t.is(run.stdout, 'still fine\n', run.stderr);
});

test('after kill -9 of skiffd, running containers can be attached to and exec’d into, and their logs go on', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startRestartableDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(() => d.stop());
  const host = d.current.dockerHost;
  // Ticks until told to stop (a file appears), so a slow machine cannot make it end too early.
  const ticker = 'i=0; while [ ! -e /tmp/stop ]; do echo tick$i; i=$((i+1)); sleep 0.1; done; echo done; exit 6';
  const started = await docker(['run', '-d', '--name', 'ticker', reg.image, 'sh', '-c', ticker], { host });
  t.is(started.code, 0, started.stderr);
  await new Promise((r) => setTimeout(r, 500));

  await d.restart('sigkill');
  const exec = await docker(['exec', 'ticker', 'echo', 'exec-after-crash'], { host });
  t.is(exec.stdout, 'exec-after-crash\n', exec.stderr);
  const attach = docker(['attach', 'ticker'], { host, timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, 1500));
  t.is((await docker(['exec', 'ticker', 'touch', '/tmp/stop'], { host })).code, 0);
  const attached = await attach;
  t.is(attached.code, 6, attached.stderr);
  t.regex(attached.stdout, /tick\d+\ndone\n$/);
  const logs = (await docker(['logs', 'ticker'], { host })).stdout.split('\n').filter(Boolean);
  t.is(logs[0], 'tick0');
  t.is(logs.at(-1), 'done');
  t.true(logs.length > 10, 'output written while no daemon ran is in the log');
  t.deepEqual(
    logs.slice(0, -1),
    logs.slice(0, -1).map((_, k) => `tick${k}`),
    'no line lost or repeated across the crash',
  );
  const state = await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'ticker'], { host });
  t.is(state.stdout.trim(), 'exited 6');
});
