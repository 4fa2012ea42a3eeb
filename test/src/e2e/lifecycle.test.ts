import { randomBytes } from 'node:crypto';
import test from 'ava';
import { api, docker, driverDaemons } from '../harness/index.js';

// Container lifecycle through the docker CLI: logs, stop/start/restart, kill, rename, wait, prune.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');

/** `prune` removes every stopped container of its daemon, so that test gets a daemon of its own (vfs). */
async function setup(driver: 'overlay' | 'vfs' = 'overlay') {
  const [d, reg] = await Promise.all([daemonFor(driver), registry()]);
  const host = d.dockerHost;
  const cli = (...args: string[]) => docker(args, { host });
  return { d, reg, host, cli };
}

test('docker logs: all, --tail, -t, stdout/stderr kept apart, -f ends with the container', async (t) => {
  const { reg, cli } = await setup();
  const name = `logs-${uid()}`;
  const run = await cli(
    'run',
    '--name',
    name,
    reg.image,
    'sh',
    '-c',
    'for i in 1 2 3; do echo out$i; echo err$i >&2; done',
  );
  t.is(run.code, 0, run.stderr);
  const all = await cli('logs', name);
  t.is(all.stdout, 'out1\nout2\nout3\n');
  t.is(all.stderr, 'err1\nerr2\nerr3\n');
  const counter = `count-${uid()}`;
  t.is((await cli('run', '--name', counter, reg.image, 'sh', '-c', 'for i in 1 2 3 4; do echo line$i; done')).code, 0);
  t.is((await cli('logs', '--tail', '2', counter)).stdout, 'line3\nline4\n');
  const stamped = await cli('logs', '-t', name);
  t.regex(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out1$/m);

  const follower = `follow-${uid()}`;
  t.is((await cli('run', '-d', '--name', follower, reg.image, 'sh', '-c', 'echo a; sleep 1; echo b')).code, 0);
  const f = await cli('logs', '-f', follower);
  t.is(f.stdout, 'a\nb\n');
  await cli('rm', '-f', name, follower, counter);
});

test('stop, start, restart, kill and wait report what dockerd reports', async (t) => {
  const { d, reg, cli } = await setup();
  const name = `life-${uid()}`;
  // As pid 1, a process without a TERM handler ignores SIGTERM: give it one.
  const looper = 'trap "exit 143" TERM; while true; do sleep 0.2; done';
  t.is((await cli('run', '-d', '--name', name, reg.image, 'sh', '-c', looper)).code, 0);
  const stop = await cli('stop', '-t', '1', name);
  t.is(stop.code, 0, stop.stderr);
  const state = await cli('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name);
  t.regex(state.stdout.trim(), /^exited (137|143)$/);
  t.is((await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/stop`)).status, 304);
  t.is((await cli('start', name)).code, 0);
  t.is((await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/start`)).status, 304);
  const pid1 = (await cli('inspect', '-f', '{{.State.Pid}}', name)).stdout.trim();
  t.is((await cli('restart', '-t', '0', name)).code, 0);
  const pid2 = (await cli('inspect', '-f', '{{.State.Pid}} {{.State.Running}}', name)).stdout.trim();
  t.not(pid2.split(' ')[0], pid1);
  t.regex(pid2, / true$/);
  const waiter = cli('wait', name);
  t.is((await cli('kill', '-s', 'TERM', name)).code, 0);
  t.is((await waiter).stdout.trim(), '143');
  const kill = await cli('kill', name);
  t.not(kill.code, 0);
  t.regex(kill.stderr, /is not running/);
  await cli('rm', name);
});

test('rename, name conflicts and prune', async (t) => {
  const { reg, cli } = await setup('vfs');
  const [a, b, c] = [`ren-a-${uid()}`, `ren-b-${uid()}`, `ren-c-${uid()}`];
  t.is((await cli('create', '--name', a, reg.image, 'true')).code, 0);
  t.is((await cli('create', '--name', b, reg.image, 'true')).code, 0);
  const clash = await cli('rename', a, b);
  t.not(clash.code, 0);
  t.regex(clash.stderr, /is already in use/);
  const dup = await cli('create', '--name', b, reg.image, 'true');
  t.not(dup.code, 0);
  t.regex(dup.stderr, /Conflict\. The container name "\/[^"]+" is already in use/);
  t.is((await cli('rename', a, c)).code, 0);
  t.is((await cli('inspect', '-f', '{{.Name}}', c)).stdout.trim(), `/${c}`);

  // Filters choose what goes (until, label, label! as dockerd's); a running container never goes.
  const label = `p${uid()}`;
  const id = async (n: string) => (await cli('inspect', '-f', '{{.Id}}', n)).stdout.trim();
  const [old, one, two, running] = ['old', 'one', 'two', 'run'].map((n) => `prune-${n}-${uid()}`) as [
    string,
    string,
    string,
    string,
  ];
  const made = await cli(
    'run',
    '--name',
    old,
    '--label',
    `${label}=old`,
    reg.image,
    'sh',
    '-c',
    'head -c 300000 /dev/zero > /f',
  );
  t.is(made.code, 0, made.stderr);
  await new Promise((r) => setTimeout(r, 1100));
  const cutoff = String(Math.floor(Date.now() / 1000));
  for (const [n, v] of [
    [one, 'one'],
    [two, 'two'],
  ] as const)
    t.is((await cli('create', '--name', n, '--label', `${label}=${v}`, reg.image, 'true')).code, 0);
  t.is((await cli('run', '-d', '--name', running, '--label', `${label}=one`, reg.image, 'sleep', '60')).code, 0);
  t.teardown(() => cli('rm', '-f', running));
  const byAge = await cli('container', 'prune', '-f', '--filter', `label=${label}`, '--filter', `until=${cutoff}`);
  t.is(byAge.code, 0, byAge.stderr);
  t.regex(byAge.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: 3\d\d(\.\d+)?kB\n$/);
  t.not((await cli('inspect', old)).code, 0, 'the old container was pruned');
  const oneId = await id(one);
  const byLabel = await cli('container', 'prune', '-f', '--filter', `label=${label}=one`);
  t.is(byLabel.stdout, `Deleted Containers:\n${oneId}\n\nTotal reclaimed space: 0B\n`);
  const notTwo = await cli('container', 'prune', '-f', '--filter', `label=${label}`, '--filter', `label!=${label}=two`);
  t.is(notTwo.stdout, 'Total reclaimed space: 0B\n');
  t.is((await cli('inspect', '-f', '{{.State.Running}}', running)).stdout.trim(), 'true');
  const bad = await cli('container', 'prune', '-f', '--filter', 'bogus=1');
  t.not(bad.code, 0);
  t.regex(bad.stderr, /invalid filter 'bogus'/);

  const prune = await cli('container', 'prune', '-f');
  t.is(prune.code, 0, prune.stderr);
  for (const n of [b, c, two]) t.not((await cli('inspect', n)).code, 0, `${n} was pruned`);
});
