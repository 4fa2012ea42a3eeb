import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { docker, driverDaemons } from '../harness/index.js';

// A build's intermediate images, as dockerd keeps them: hidden from `docker images` (shown with
// -a), never dangling for prune while the image above them exists, removed with it by rmi.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

test('intermediate images: images -a shows them, prune keeps them, rmi of the built image removes them', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const cli = (...args: string[]) => docker(args, { host, env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 240_000 });
  const dir = await mkdtemp(join(tmpdir(), 'skiff-build-ims-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tag = `ims-${randomBytes(4).toString('hex')}`;
  await writeFile(
    join(dir, 'Dockerfile'),
    `FROM ${reg.image}\nRUN echo one > /one\nENV STEP=two\nRUN echo three > /three\n`,
  );
  const built = await cli('build', '-t', tag, dir);
  t.is(built.code, 0, built.stderr);
  const ids = [...built.stdout.matchAll(/ ---> ([0-9a-f]{12})$/gm)].map((m) => m[1]!);
  t.true(ids.length >= 4, built.stdout);
  const [, ...steps] = ids; // the first is the base image
  const intermediate = steps.slice(0, -1);

  const listed = (await cli('images', '-q')).stdout;
  const listedAll = (await cli('images', '-a', '-q')).stdout;
  for (const id of intermediate) {
    t.false(listed.includes(id), `${id} is hidden without -a`);
    t.true(listedAll.includes(id), `${id} is listed with -a`);
  }
  t.is((await cli('images', '-q', '--filter', 'dangling=true')).stdout.trim(), '', 'nothing dangling');
  t.is((await cli('image', 'prune', '-f')).code, 0);
  t.true((await cli('images', '-a', '-q')).stdout.includes(intermediate[0]!), 'prune kept the intermediate images');

  const byId = await cli('rmi', intermediate[0]!);
  t.not(byId.code, 0);
  t.regex(byId.stderr, /image has dependent child images/);

  const rmi = await cli('rmi', tag);
  t.is(rmi.code, 0, rmi.stderr);
  t.regex(rmi.stdout, new RegExp(`^Untagged: ${tag}:latest$`, 'm'));
  t.true(
    steps.every((id) => rmi.stdout.includes(`Deleted: sha256:${id}`)),
    rmi.stdout,
  );
  const after = (await cli('images', '-a', '-q')).stdout;
  t.true(
    steps.every((id) => !after.includes(id)),
    after,
  );
  t.true(after.includes(ids[0]!), 'the base image stays');
});
