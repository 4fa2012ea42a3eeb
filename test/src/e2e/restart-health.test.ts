import { randomBytes } from 'node:crypto';
import test from 'ava';
import { api, docker, driverDaemons, registryWithBusybox, sleep, startRestartableDaemon } from '../harness/index.js';

// Restart policies and healthchecks with the docker CLI. Expected values follow moby:
// restartmanager/restartmanager.go (policies, back-off), daemon/monitor.go (RestartCount, die/start),
// daemon/kill.go (a user's stop or kill cancels the policy), container/state.go (status text
// "Restarting (N) … ago", "Up … (healthy)"), daemon/health.go (State.Health, health_status events).

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const cli = (args: string[]) => docker(args, { host });
  const name = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;
  const inspect = async (ref: string, format: string) => (await cli(['inspect', '-f', format, ref])).stdout.trim();
  return { d, reg, host, cli, name, inspect };
}

/** Polls `probe` until it returns a value for which `done` holds (generous deadline: the machine is shared). */
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string, limitMs = 120_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(200);
  }
}

async function eventsOf(host: string, since: number, filters: string[]) {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const args = ['events', '--since', String(since), '--until', String(until), '--format', '{{.Action}}'];
  for (const f of filters) args.push('--filter', f);
  const r = await docker(args, { host });
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

test('--restart on-failure:2 restarts a failing container twice, then it stays exited', async (t) => {
  const { host, reg, cli, name, inspect } = await setup();
  const n = name('onfail');
  const since = Math.floor(Date.now() / 1000) - 1;
  const r = await cli(['run', '-d', '--name', n, '--restart', 'on-failure:2', reg.image, 'sh', '-c', 'exit 3']);
  t.is(r.code, 0, r.stderr);
  const final = await until(
    () => inspect(n, '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}'),
    (v) => v === 'exited 2 3 on-failure',
    'on-failure:2 to give up',
  );
  t.is(final, 'exited 2 3 on-failure');
  t.is(await inspect(n, '{{.HostConfig.RestartPolicy.MaximumRetryCount}}'), '2');
  const actions = await eventsOf(host, since, [`container=${n}`]);
  t.deepEqual(
    actions.filter((a) => a === 'start' || a === 'die'),
    ['start', 'die', 'start', 'die', 'start', 'die'],
  );
  t.regex((await cli(['ps', '-a', '--filter', `name=${n}`, '--format', '{{.Status}}'])).stdout, /^Exited \(3\) /);
  t.is((await cli(['rm', n])).code, 0);
});

test('--restart always: restarts after the process exits, not after docker stop', async (t) => {
  const { cli, name, inspect, reg } = await setup();
  const n = name('always');
  // First run exits 1; later runs (same writable layer) keep running.
  const script = 'test -f /ran && exec sleep 600; touch /ran; exit 1';
  const r = await cli(['run', '-d', '--name', n, '--restart', 'always', reg.image, 'sh', '-c', script]);
  t.is(r.code, 0, r.stderr);
  await until(
    () => inspect(n, '{{.State.Status}} {{.RestartCount}}'),
    (v) => v === 'running 1',
    'the restart',
  );
  t.regex((await cli(['ps', '--filter', `name=${n}`, '--format', '{{.Status}}'])).stdout, /^Up /);

  const stop = await cli(['stop', '-t', '1', n]);
  t.is(stop.code, 0, stop.stderr);
  t.is(await inspect(n, '{{.State.Status}} {{.RestartCount}}'), 'exited 1');
  // Well past the back-off a restart would have waited (100-200 ms): nothing came back.
  await sleep(1500);
  t.is(await inspect(n, '{{.State.Status}} {{.RestartCount}}'), 'exited 1');

  // A user's start resets RestartCount and the policy applies again.
  t.is((await cli(['start', n])).code, 0);
  t.is(await inspect(n, '{{.State.Status}} {{.RestartCount}}'), 'running 0');
  t.is((await cli(['rm', '-f', n])).code, 0);
});

test('a container in its back-off is "restarting", shown like dockerd, and can be stopped and removed', async (t) => {
  const { d, cli, name, inspect, reg } = await setup();
  const n = name('flap');
  const r = await cli(['run', '-d', '--name', n, '--restart', 'always', reg.image, 'sh', '-c', 'exit 1']);
  t.is(r.code, 0, r.stderr);
  // The back-off doubles (0.1, 0.2, 0.4 … s): the container soon spends most of its time waiting.
  const seen = await until(
    async () => ({
      ps: (await cli(['ps', '--filter', `name=${n}`, '--format', '{{.Status}}'])).stdout.trim(),
      state: await inspect(n, '{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}'),
    }),
    (v) => v.state === 'restarting true true 1' && v.ps.startsWith('Restarting'),
    'the restarting state',
  );
  t.regex(seen.ps, /^Restarting \(1\) (Less than a second|\d+ seconds?) ago$/);
  const rmBusy = await api(d.dockerHost, 'DELETE', `/v1.41/containers/${n}`);
  t.is(rmBusy.status, 409);
  const stop = await cli(['stop', n]);
  t.is(stop.code, 0, stop.stderr);
  t.regex(await inspect(n, '{{.State.Status}} {{.State.Restarting}}'), /^exited false$/);
  await sleep(1500);
  t.is(await inspect(n, '{{.State.Status}}'), 'exited');
  t.is((await cli(['rm', n])).code, 0);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('bad restart policies and healthchecks are 400 with dockerd messages', async (t) => {
  const { d, reg } = await setup();
  const create = (body: Record<string, unknown>) =>
    api(d.dockerHost, 'POST', '/v1.41/containers/create', { Image: reg.image, Cmd: ['true'], ...body });
  const cases: Array<[Record<string, unknown>, string]> = [
    [
      { HostConfig: { RestartPolicy: { Name: 'sometimes' } } },
      "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    ],
    [
      { HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } } },
      "invalid restart policy: maximum retry count can only be used with 'on-failure'",
    ],
    [
      { HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } } },
      'invalid restart policy: maximum retry count cannot be negative',
    ],
    [{ HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }, "can't create 'AutoRemove' container"],
    [{ Healthcheck: { Test: ['CMD', 'true'], Interval: 1000 } }, 'Interval in Healthcheck cannot be less than 1ms'],
    [{ Healthcheck: { Test: ['CMD', 'true'], Retries: -1 } }, 'Retries in Healthcheck cannot be negative'],
    [{ Healthcheck: { Test: 'true' } }, 'Healthcheck.Test must be a list of strings'],
  ];
  for (const [body, message] of cases) {
    const r = await create(body);
    t.is(r.status, 400, JSON.stringify(body));
    t.true(String((r.json as { message?: string }).message).includes(message), `${r.body}`);
  }
  const cli = await docker(['create', '--restart', 'sometimes', reg.image, 'true'], { host: d.dockerHost });
  t.not(cli.code, 0);
  t.regex(cli.stderr, /invalid restart policy/);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('--health-cmd: healthy, unhealthy after retries, timeouts, status in ps and inspect, events', async (t) => {
  const { host, cli, name, inspect, reg } = await setup();
  const since = Math.floor(Date.now() / 1000) - 1;
  const good = name('healthy');
  const bad = name('unhealthy');
  const slow = name('slow');
  const idle = name('starting');
  const runs = await Promise.all([
    cli(['run', '-d', '--name', good, '--health-cmd', 'echo ok', '--health-interval', '1s', reg.image, 'sleep', '600']),
    cli([
      'run',
      '-d',
      '--name',
      bad,
      '--health-cmd',
      'echo nope; exit 1',
      '--health-interval',
      '1s',
      '--health-retries',
      '2',
      reg.image,
      'sleep',
      '600',
    ]),
    cli([
      'run',
      '-d',
      '--name',
      slow,
      '--health-cmd',
      'sleep 30',
      '--health-interval',
      '1s',
      '--health-timeout',
      '500ms',
      '--health-retries',
      '1',
      reg.image,
      'sleep',
      '600',
    ]),
    cli(['run', '-d', '--name', idle, '--health-cmd', 'true', '--health-interval', '1h', reg.image, 'sleep', '600']),
  ]);
  for (const r of runs) t.is(r.code, 0, r.stderr);

  // An hour-long interval: no probe yet.
  t.regex(
    (await cli(['ps', '--filter', `name=${idle}`, '--format', '{{.Status}}'])).stdout.trim(),
    /^Up .* \(health: starting\)$/,
  );
  t.is(
    await inspect(idle, '{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{len .State.Health.Log}}'),
    'starting 0 0',
  );

  await until(
    () => inspect(good, '{{.State.Health.Status}}'),
    (v) => v === 'healthy',
    `${good} healthy`,
  );
  await until(
    () => inspect(bad, '{{.State.Health.Status}}'),
    (v) => v === 'unhealthy',
    `${bad} unhealthy`,
  );
  await until(
    () => inspect(slow, '{{.State.Health.Status}}'),
    (v) => v === 'unhealthy',
    `${slow} unhealthy`,
  );

  t.regex(
    (await cli(['ps', '--filter', `name=${good}`, '--format', '{{.Status}}'])).stdout.trim(),
    /^Up .* \(healthy\)$/,
  );
  t.regex(
    (await cli(['ps', '--filter', `name=${bad}`, '--format', '{{.Status}}'])).stdout.trim(),
    /^Up .* \(unhealthy\)$/,
  );
  const goodHealth = JSON.parse(await inspect(good, '{{json .State.Health}}')) as {
    Status: string;
    FailingStreak: number;
    Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
  };
  t.is(goodHealth.FailingStreak, 0);
  t.true(goodHealth.Log.length >= 1 && goodHealth.Log.length <= 5);
  t.is(goodHealth.Log.at(-1)?.ExitCode, 0);
  t.is(goodHealth.Log.at(-1)?.Output, 'ok\n');
  t.true(Date.parse(goodHealth.Log[0]!.End) >= Date.parse(goodHealth.Log[0]!.Start));
  const badHealth = JSON.parse(await inspect(bad, '{{json .State.Health}}')) as typeof goodHealth;
  t.true(badHealth.FailingStreak >= 2);
  t.is(badHealth.Log.at(-1)?.ExitCode, 1);
  t.is(badHealth.Log.at(-1)?.Output, 'nope\n');
  const slowHealth = JSON.parse(await inspect(slow, '{{json .State.Health}}')) as typeof goodHealth;
  t.is(slowHealth.Log.at(-1)?.ExitCode, -1);
  t.is(slowHealth.Log.at(-1)?.Output, 'Health check exceeded timeout (500ms)');
  const healthyOnly = await cli(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}']);
  t.true(healthyOnly.stdout.split('\n').includes(good));
  t.false(healthyOnly.stdout.split('\n').includes(bad));

  t.deepEqual(await eventsOf(host, since, ['event=health_status', `container=${good}`]), ['health_status: healthy']);
  t.deepEqual(await eventsOf(host, since, ['event=health_status', `container=${bad}`]), ['health_status: unhealthy']);
  const probes = await eventsOf(host, since, [`container=${good}`]);
  t.true(probes.includes('exec_create: /bin/sh -c echo ok'), probes.join('\n'));
  t.true(probes.includes('exec_start: /bin/sh -c echo ok'), probes.join('\n'));
  t.true(probes.includes('exec_die'), probes.join('\n'));

  // Like dockerd, a stopped container's last health status reads unhealthy.
  t.is((await cli(['stop', '-t', '0', good])).code, 0);
  t.is(await inspect(good, '{{.State.Health.Status}}'), 'unhealthy');
  t.is((await cli(['rm', '-f', good, bad, slow, idle])).code, 0);
});

test('--no-healthcheck and no healthcheck leave State.Health out', async (t) => {
  const { cli, name, inspect, reg } = await setup();
  const n = name('nohealth');
  const r = await cli(['run', '-d', '--name', n, '--no-healthcheck', reg.image, 'sleep', '600']);
  t.is(r.code, 0, r.stderr);
  t.is(await inspect(n, '{{json .Config.Healthcheck}}'), '{"Test":["NONE"]}');
  t.is(await inspect(n, '{{json .State.Health}}'), 'null');
  t.regex((await cli(['ps', '--filter', `name=${n}`, '--format', '{{.Status}}'])).stdout.trim(), /^Up [^(]*$/);
  t.is((await cli(['rm', '-f', n])).code, 0);
});

test('after a skiffd restart: always comes back (own exit or user stop), unless-stopped stays stopped', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startRestartableDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(() => d.stop());
  const host = d.current.dockerHost;
  const cli = (args: string[]) => docker(args, { host });
  const inspect = async (ref: string, format: string) => (await cli(['inspect', '-f', format, ref])).stdout.trim();
  for (const [n, policy] of [
    ['own-exit', 'always'],
    ['user-stopped', 'always'],
    ['unless', 'unless-stopped'],
  ] as const) {
    const r = await cli(['run', '-d', '--name', n, '--restart', policy, reg.image, 'sleep', '600']);
    t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${d.current.output()}`);
  }
  t.is((await cli(['stop', '-t', '0', 'user-stopped', 'unless'])).code, 0);
  const pid = Number(await inspect('own-exit', '{{.State.Pid}}'));
  t.true(pid > 0);

  // Its process dies while no daemon runs: an exit of its own, not a user's stop.
  await d.restart('sigterm', async () => {
    process.kill(pid, 'SIGKILL');
    await until(
      async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      (gone) => gone,
      'the killed process to go',
    );
  });
  await until(
    () => inspect('own-exit', '{{.State.Status}}'),
    (v) => v === 'running',
    'own-exit to run again',
  );
  t.not(Number(await inspect('own-exit', '{{.State.Pid}}')), pid);
  t.is(await inspect('user-stopped', '{{.State.Status}}'), 'running');
  t.is(await inspect('unless', '{{.State.Status}}'), 'exited');
  const rm1 = await cli(['rm', '-f', 'own-exit', 'user-stopped', 'unless']);
  t.is(rm1.code, 0, rm1.stderr);
});
