import test from 'ava';
import { docker, expectStartFailure, registryWithBusybox, startDaemon } from '../harness/index.js';

// Driver swaps by config. The storage driver, on a data root whose images belong to another driver:
// refused with what to do, unless allowed; allowed, the other driver's images stay aside and are
// back when it is used again (what dockerd does without asking).

test('a storage-driver change while the previous driver holds images is refused, saying how to go on', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d1 = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  let last = d1;
  t.teardown(() => last.stop());
  const pulled = await docker(['pull', '-q', reg.image], { host: d1.dockerHost });
  t.is(pulled.code, 0, pulled.stderr);
  await d1.stop({ keepState: true });
  const same = { root: d1.root, execRoot: d1.execRoot, socket: d1.socket, insecureRegistries: [reg.host] };

  const refused = await expectStartFailure({ storageDriver: 'vfs', ...same });
  t.not(refused.code, 0);
  t.regex(
    refused.output,
    /storage driver "vfs" cannot take over: this data root holds 1 image of storage driver "overlay"\. Start with "storage-driver": "overlay"/,
  );
  t.notRegex(refused.output, /^\s+at /m, 'one line, no stack trace');

  const d2 = await startDaemon({ storageDriver: 'vfs', ...same, config: { 'allow-storage-driver-switch': true } });
  last = d2;
  t.is((await docker(['info', '--format', '{{.Driver}}'], { host: d2.dockerHost })).stdout.trim(), 'vfs');
  t.is((await docker(['images', '-q'], { host: d2.dockerHost })).stdout, '', "overlay's image is kept aside");
  await d2.stop({ keepState: true });

  const d3 = await startDaemon({ storageDriver: 'overlay', ...same });
  last = d3;
  const images = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'], { host: d3.dockerHost });
  t.is(images.stdout.trim(), reg.image, 'back with its driver');
  const run = await docker(['run', '--rm', '--network', 'none', reg.image, 'true'], { host: d3.dockerHost });
  t.is(run.code, 0, run.stderr);
});

test('other driver kinds swap on restart for new objects: a new default runtime runs new containers, old ones keep theirs', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d1 = await startDaemon({ storageDriver: 'vfs', insecureRegistries: [reg.host] });
  let last = d1;
  t.teardown(() => last.stop());
  const host1 = d1.dockerHost;
  const old = await docker(['create', '--network', 'none', reg.image, 'sleep', '60'], { host: host1 });
  t.is(old.code, 0, old.stderr);
  const oldId = old.stdout.trim();
  await d1.stop({ keepState: true });
  const d2 = await startDaemon({
    storageDriver: 'vfs',
    root: d1.root,
    execRoot: d1.execRoot,
    socket: d1.socket,
    insecureRegistries: [reg.host],
    config: { runtimes: { 'runc-b': { path: 'runc' } }, 'default-runtime': 'runc-b' },
  });
  last = d2;
  const host = d2.dockerHost;
  t.is((await docker(['info', '--format', '{{.DefaultRuntime}}'], { host })).stdout.trim(), 'runc-b');
  const fresh = await docker(['run', '-d', '--network', 'none', reg.image, 'sleep', '60'], { host });
  t.is(fresh.code, 0, fresh.stderr);
  t.is((await docker(['start', oldId], { host })).code, 0);
  const runtimes = await docker(
    ['inspect', '-f', '{{.HostConfig.Runtime}} {{.State.Running}}', oldId, fresh.stdout.trim()],
    {
      host,
    },
  );
  t.is(runtimes.stdout, 'runc true\nrunc-b true\n');
  await docker(['rm', '-f', oldId, fresh.stdout.trim()], { host });
});
