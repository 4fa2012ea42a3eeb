import { randomBytes } from 'node:crypto';
import path from 'node:path';
import test from 'ava';
import {
  type BusyboxRegistry,
  type Daemon,
  registryWithBusybox,
  repoRoot,
  run,
  startDaemon,
} from '../harness/index.js';

// docker-py (Debian python3-docker) driving a real skiffd: the flow is test/fixtures/docker_py_flow.py.

let daemon: Daemon | undefined;
let registry: BusyboxRegistry | undefined;
test.before(async () => {
  registry = await registryWithBusybox();
  daemon = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [registry.host] });
});
test.after.always(async () => {
  await daemon?.stop();
  await registry?.stop();
});

const script = path.join(repoRoot, 'test/fixtures/docker_py_flow.py');

test('docker-py: images, containers, volumes and networks', async (t) => {
  const suffix = randomBytes(4).toString('hex');
  const r = await run('python3', [script, registry!.image, suffix], {
    env: { ...process.env, DOCKER_HOST: daemon!.dockerHost },
  });
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}\n--- skiffd:\n${daemon!.output().slice(-4000)}`);
  t.is(r.stdout, 'OK\n');
});

test('docker-py: a failing check makes the script fail (bad image reference)', async (t) => {
  const r = await run('python3', [script, 'no such image', 'x'], {
    env: { ...process.env, DOCKER_HOST: daemon!.dockerHost },
  });
  t.not(r.code, 0);
  t.regex(r.stderr, /docker\.errors\.\w+|invalid reference/i);
});
