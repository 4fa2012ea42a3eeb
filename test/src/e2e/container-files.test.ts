import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { api, docker, driverDaemons, runOk } from '../harness/index.js';

// docker diff, docker export and docker commit through the docker CLI, on both graph drivers.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');

async function setup(t: ExecutionContext, driver: 'overlay' | 'vfs') {
  const [d, reg] = await Promise.all([daemonFor(driver), registry()]);
  const host = d.dockerHost;
  const cli = (...args: string[]) => docker(args, { host });
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    t.is(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return { d, reg, host, cli, ok };
}

/** Adds a tree, appends to a file, deletes a file and a directory of the image. */
const CHANGES = 'mkdir -p /data/sub && echo hi > /data/sub/f && echo x >> /etc/passwd && rm /etc/group && rm -rf /home';

for (const driver of ['overlay', 'vfs'] as const) {
  test(`${driver}: docker diff lists dockerd's kinds, parents first, without the engine's mount points`, async (t) => {
    const { reg, ok, cli } = await setup(t, driver);
    const name = `diff-${uid()}`;
    t.teardown(() => cli('rm', '-f', name).then(() => {}));
    await ok('run', '--network', 'none', '--name', name, reg.image, 'sh', '-c', CHANGES);
    const diff = await ok('diff', name);
    t.is(
      diff,
      ['A /data', 'A /data/sub', 'A /data/sub/f', 'C /etc', 'D /etc/group', 'C /etc/passwd', 'D /home', ''].join('\n'),
    );
    // As dockerd (checked against 20.10): any change below a directory lists it as modified first,
    // and a working directory or volume mount point the engine made shows as added.
    const other = `diff2-${uid()}`;
    t.teardown(() => cli('rm', '-f', '-v', other).then(() => {}));
    const script = 'echo x >> /etc/passwd; touch /tmp/q /usr/bin/x; mkdir /data2; rm /bin/ls';
    await ok('run', '--network', 'none', '--name', other, '-w', '/wd', '-v', '/vol', reg.image, 'sh', '-c', script);
    t.deepEqual((await ok('diff', other)).trim().split('\n'), [
      'C /bin',
      'D /bin/ls',
      'A /data2',
      'C /etc',
      'C /etc/passwd',
      'C /tmp',
      'A /tmp/q',
      'C /usr',
      'C /usr/bin',
      'A /usr/bin/x',
      'A /vol',
      'A /wd',
    ]);
  });

  test(`${driver}: docker export streams the merged filesystem, symlinks kept as links`, async (t) => {
    const { reg, ok, cli } = await setup(t, driver);
    const name = `export-${uid()}`;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-export-'));
    t.teardown(async () => {
      await cli('rm', '-f', name);
      await rm(dir, { recursive: true, force: true });
    });
    await ok('run', '--network', 'none', '--name', name, reg.image, 'sh', '-c', CHANGES);
    const file = path.join(dir, 'out.tar');
    await ok('export', '-o', file, name);
    const listing = (await runOk('tar', ['tvf', file])).stdout;
    const names = (await runOk('tar', ['tf', file])).stdout.split('\n');
    t.true(names.includes('data/sub/f'));
    t.true(names.includes('bin/busybox'));
    t.true(names.includes('etc/passwd'));
    t.false(names.includes('etc/group'));
    t.false(names.some((n) => n.startsWith('home')));
    t.regex(listing, /bin\/sh -> busybox/);
    await runOk('tar', ['xf', file, '-C', dir, 'data/sub/f', 'etc/passwd']);
    t.is((await runOk('cat', [path.join(dir, 'data/sub/f')])).stdout, 'hi\n');
    t.regex((await runOk('cat', [path.join(dir, 'etc/passwd')])).stdout, /\nx\n$/);
  });

  test(`${driver}: docker commit with --change, -m and -a makes an image that has the changes`, async (t) => {
    const { reg, ok, cli } = await setup(t, driver);
    const name = `commit-${uid()}`;
    const repo = `committed-${uid()}`;
    t.teardown(async () => {
      await cli('rm', '-f', name);
      await cli('rmi', '-f', `${repo}:v1`);
    });
    await ok('run', '--network', 'none', '--name', name, '-e', 'KEEP=1', reg.image, 'sh', '-c', CHANGES);
    const id = (
      await ok(
        'commit',
        '-c',
        'CMD ["cat", "/data/sub/f"]',
        '-c',
        'ENV FOO=bar',
        '-m',
        'a message',
        '-a',
        'Someone <someone@example.com>',
        name,
        `${repo}:v1`,
      )
    ).trim();
    t.regex(id, /^sha256:[0-9a-f]{64}$/);
    t.is((await ok('run', '--rm', '--network', 'none', `${repo}:v1`)).trim(), 'hi');
    const probe = await ok(
      'run',
      '--rm',
      '--network',
      'none',
      `${repo}:v1`,
      'sh',
      '-c',
      'echo $FOO $KEEP; test -e /etc/group && echo has-group || echo no-group; test -e /home || echo no-home; tail -n1 /etc/passwd',
    );
    t.is(probe, 'bar 1\nno-group\nno-home\nx\n');
    const info = await ok(
      'image',
      'inspect',
      '-f',
      '{{.Comment}}|{{.Author}}|{{json .Config.Cmd}}|{{.Container}}|{{len .RootFS.Layers}}',
      `${repo}:v1`,
    );
    const [comment, author, cmd, container, layers] = info.trim().split('|');
    t.is(comment, 'a message');
    t.is(author, 'Someone <someone@example.com>');
    t.is(cmd, '["cat","/data/sub/f"]');
    t.is(container, (await ok('inspect', '-f', '{{.Id}}', name)).trim());
    const base = await ok('image', 'inspect', '-f', '{{len .RootFS.Layers}}', reg.image);
    t.is(Number(layers), Number(base) + 1);
    // The layer holds only the changes: no engine mount points.
    const history = await ok('history', '--no-trunc', '--format', '{{.Comment}}', `${repo}:v1`);
    t.is(history.split('\n')[0], 'a message');
  });

  test(`${driver}: diff and commit of a running container (paused meanwhile), unchanged commit adds no layer`, async (t) => {
    const { d, reg, ok, cli } = await setup(t, driver);
    const name = `running-${uid()}`;
    const since = Math.floor(Date.now() / 1000) - 1;
    const repo = `running-img-${uid()}`;
    t.teardown(async () => {
      await cli('rm', '-f', name);
      await cli('rmi', '-f', `${repo}:a`, `${repo}:b`);
    });
    await ok('run', '-d', '--network', 'none', '--name', name, reg.image, 'sleep', '600');
    t.is(await ok('diff', name), '');
    await ok('commit', name, `${repo}:a`);
    const base = await ok('image', 'inspect', '-f', '{{len .RootFS.Layers}}', reg.image);
    t.is((await ok('image', 'inspect', '-f', '{{len .RootFS.Layers}}', `${repo}:a`)).trim(), base.trim());
    await ok('exec', name, 'sh', '-c', 'echo new > /root/new');
    t.is(await ok('diff', name), 'C /root\nA /root/new\n');
    await ok('commit', name, `${repo}:b`);
    t.is((await ok('inspect', '-f', '{{.State.Status}} {{.State.Paused}}', name)).trim(), 'running false');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-export-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await ok('export', '-o', path.join(dir, 'running.tar'), name);
    t.true((await runOk('tar', ['tf', path.join(dir, 'running.tar')])).stdout.split('\n').includes('root/new'));
    t.is((await ok('run', '--rm', '--network', 'none', `${repo}:b`, 'cat', '/root/new')).trim(), 'new');
    // The committed image runs the container's command unless told otherwise.
    t.is((await ok('image', 'inspect', '-f', '{{json .Config.Cmd}}', `${repo}:b`)).trim(), '["sleep","600"]');
    const events = await api(
      d.dockerHost,
      'GET',
      `/v1.41/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: [name] }))}`,
    );
    const actions = events.body
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { Action: string }).Action);
    t.deepEqual(
      actions.filter((a) => ['pause', 'unpause', 'commit'].includes(a)),
      ['pause', 'unpause', 'commit', 'pause', 'unpause', 'commit'],
    );
  });
}

test('bad input: unknown containers are 404, a bad --change is 400, and skiffd keeps serving', async (t) => {
  const { d, reg, ok, cli } = await setup(t, 'overlay');
  const name = `bad-${uid()}`;
  t.teardown(() => cli('rm', '-f', name).then(() => {}));
  const out = path.join(os.tmpdir(), `skiff-export-${uid()}.tar`);
  t.teardown(() => rm(out, { force: true }));
  for (const args of [
    ['diff', 'nosuch-container'],
    ['export', '-o', out, 'nosuch-container'],
    ['commit', 'nosuch-container'],
  ]) {
    const r = await cli(...args);
    t.not(r.code, 0);
    t.regex(r.stderr, /No such container: nosuch-container/);
  }
  t.is((await api(d.dockerHost, 'GET', '/v1.41/containers/nosuch/changes')).status, 404);
  t.is((await api(d.dockerHost, 'GET', '/v1.41/containers/nosuch/export')).status, 404);
  t.is((await api(d.dockerHost, 'POST', '/v1.41/commit?container=nosuch')).status, 404);
  await ok('create', '--network', 'none', '--name', name, reg.image, 'true');
  const bad = await cli('commit', '-c', 'FROM busybox', name);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /FROM is not a valid change command/);
  const res = await api(d.dockerHost, 'POST', `/v1.41/commit?container=${name}&changes=${encodeURIComponent('ENV')}`);
  t.is(res.status, 400);
  const badRepo = await api(d.dockerHost, 'POST', `/v1.41/commit?container=${name}&repo=UPPER`);
  t.is(badRepo.status, 400);
  const badBody = await api(d.dockerHost, 'POST', `/v1.41/commit?container=${name}`, { Cmd: 'not-a-list' });
  t.is(badBody.status, 400);
  // A config body: its set fields win, the rest comes from the container.
  const repo = `body-${uid()}`;
  t.teardown(() => cli('rmi', '-f', `${repo}:latest`).then(() => {}));
  const good = await api(d.dockerHost, 'POST', `/v1.41/commit?container=${name}&repo=${repo}&comment=c1`, {
    Cmd: ['echo', 'from-body'],
    Labels: { a: 'b' },
  });
  t.is(good.status, 201, good.body);
  t.regex((good.json as { Id: string }).Id, /^sha256:[0-9a-f]{64}$/);
  const cfg = await ok('image', 'inspect', '-f', '{{json .Config.Cmd}} {{json .Config.Labels}} {{.Comment}}', repo);
  t.is(cfg.trim(), '["echo","from-body"] {"a":"b"} c1');
  t.is((await ok('run', '--rm', '--network', 'none', repo)).trim(), 'from-body');
  // A created container has no changes: an empty list.
  t.is(await ok('diff', name), '');
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
  t.is((await cli('ps', '-a', '--filter', `name=${name}`, '--format', '{{.Names}}')).stdout.trim(), name);
});
