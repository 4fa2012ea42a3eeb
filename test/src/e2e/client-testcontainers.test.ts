import path from 'node:path';
import test from 'ava';
import { nodeBin, repoRoot, run } from '../harness/index.js';
import { startNetnsDaemon } from '../harness/netns-daemon.js';

// testcontainers-node against skiffd. With a unix DOCKER_HOST testcontainers reaches mapped ports on
// "localhost" (or the bridge gateway when it thinks it is in a container), so the flow runs inside the
// daemon's own network namespace.

const script = path.join(repoRoot, 'test/fixtures/testcontainers_flow.mjs');

test('GenericContainer with an exposed port, log-message and listening-port waits', async (t) => {
  const d = await startNetnsDaemon(t);
  t.teardown(() => d.stop());
  const r = await run('ip', ['netns', 'exec', d.netns, nodeBin, script, d.image], {
    env: { ...process.env, DOCKER_HOST: d.host, TESTCONTAINERS_RYUK_DISABLED: 'true' },
  });
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}\n--- skiffd:\n${d.output().slice(-4000)}`);
  // "localhost", or the default bridge's gateway when testcontainers believes it runs in a container.
  t.regex(r.stdout, /^OK (localhost|\d+\.\d+\.\d+\.\d+)$/m);
  const left = await d.cli('ps', '-aq');
  t.is(left.stdout.trim(), '', 'testcontainers stop() removed its container');
});
