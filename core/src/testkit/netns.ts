import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { run } from '../host/exec.js';

/**
 * A network namespace for one test: `<prefix>-<random>`, loopback up, and in teardown whatever
 * still runs in it killed and the namespace deleted. Networking tests work only in these.
 */
export async function testNetns(
  t: Pick<ExecutionContext, 'teardown'>,
  prefix: string,
): Promise<{ name: string; path: string }> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', name]);
  t.teardown(async () => {
    const pids = await run('ip', ['netns', 'pids', name]).catch(() => '');
    for (const p of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await run('ip', ['netns', 'del', name]).catch(() => {});
  });
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}` };
}
