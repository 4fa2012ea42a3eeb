import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { api, crunOnThisHost, docker, driverDaemons, expectStartFailure } from '../harness/index.js';

// docker logs options, size rotation (--log-opt max-size/max-file), --log-driver none, and runtime
// selection (--runtime, daemon.json runtimes with crun).

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const cli = (...args: string[]) => docker(args, { host: d.dockerHost });
  return { d, reg, cli };
}

const lines = (s: string) => s.split('\n').filter(Boolean);

/** The numbers of `line-<n>-…` lines, checked to be consecutive. */
function consecutive(out: string): number[] {
  const ns = lines(out).map((l) => Number(/^line-(\d+)-/.exec(l)?.[1] ?? Number.NaN));
  ns.forEach((n, i) => {
    if (i > 0 && n !== ns[i - 1]! + 1) throw new Error(`gap or disorder at ${ns[i - 1]} -> ${n}:\n${out}`);
  });
  return ns;
}

test('docker logs --since/--until/--tail/-t pick entries by their own timestamps', async (t) => {
  const { cli, reg } = await setup();
  const name = `since-${uid()}`;
  // Sleeps keep the entries' timestamps apart (whole milliseconds at least).
  const script = 'echo a; sleep 1.2; echo b; echo c >&2; sleep 1.2; echo d';
  const r = await cli('run', '--name', name, reg.image, 'sh', '-c', script);
  t.is(r.code, 0, r.stderr);
  const stamped = await cli('logs', '-t', name);
  const out = lines(stamped.stdout);
  t.is(out.length, 3, stamped.stdout);
  const stamp = (l: string) => l.split(' ', 1)[0]!;
  for (const l of out) t.regex(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z [abd]$/);
  const [ta, tb, td] = out.map(stamp) as [string, string, string];
  // Entries at exactly --since or --until are included (dockerd skips only Before(since) / After(until)).
  t.is((await cli('logs', '--since', tb, name)).stdout, 'b\nd\n');
  t.is((await cli('logs', '--since', tb, name)).stderr, 'c\n');
  t.is((await cli('logs', '--until', tb, name)).stdout, 'a\nb\n');
  t.is((await cli('logs', '--since', tb, '--until', tb, name)).stdout, 'b\n');
  t.is((await cli('logs', '--since', td, name)).stdout, 'd\n');
  t.is((await cli('logs', '--until', ta, name)).stdout, 'a\n');
  t.is((await cli('logs', '--tail', '1', name)).stdout, 'd\n');
  t.is((await cli('logs', '--tail', '0', name)).stdout, '');
  t.is((await cli('logs', '--tail', 'all', '-t', name)).stdout, stamped.stdout);
  // Relative times are the CLI's business; the daemon gets Unix seconds with nanoseconds.
  t.is((await cli('logs', '--since', '10m', name)).stdout, 'a\nb\nd\n');
  await cli('rm', '-f', name);
});

test('docker logs: a bad since is a 400; skiffd answers afterwards', async (t) => {
  const { d, cli, reg } = await setup();
  const name = `badsince-${uid()}`;
  t.is((await cli('run', '--name', name, reg.image, 'echo', 'x')).code, 0);
  const r = await api(d.dockerHost, 'GET', `/v1.41/containers/${name}/logs?stdout=1&since=yesterday`);
  t.is(r.status, 400, r.body);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
  await cli('rm', '-f', name);
});

// 60 lines of ~70 bytes in k8s-file records: with max-size 1k the log is rotated several times.
const BURSTS =
  'for b in 1 2 3 4 5 6; do for i in 0 1 2 3 4 5 6 7 8 9; do echo "line-$(( (b-1)*10+i+1 ))-xxxxxxxxxxxxxxxxxxxxxxxx"; done; sleep 0.4; done';

test('rotation: --log-opt max-size=1k --log-opt max-file=2 keeps the newest lines, read across files', async (t) => {
  const { d, cli, reg } = await setup();
  const name = `rot-${uid()}`;
  const run = await cli(
    'run',
    '-d',
    '--name',
    name,
    '--log-opt',
    'max-size=1k',
    '--log-opt',
    'max-file=2',
    reg.image,
    'sh',
    '-c',
    BURSTS,
  );
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  // A follower from the start sees every line once, across the rotations, and ends with the container.
  const followed = await cli('logs', '-f', name);
  t.is(followed.code, 0, followed.stderr);
  const fl = consecutive(followed.stdout);
  t.is(fl.at(-1), 60);
  t.is((await cli('wait', name)).stdout.trim(), '0');

  const all = await cli('logs', name);
  const ns = consecutive(all.stdout);
  t.is(ns.at(-1), 60, 'the newest line is kept');
  t.true(ns[0]! > 1, `the oldest lines are gone (first kept: ${ns[0]})`);
  const files = (await readdir(join(d.root, 'containers', id))).filter((f) => f.startsWith(`${id}-json.log`));
  t.deepEqual(files.sort(), [`${id}-json.log`, `${id}-json.log.1`]);
  // --tail reaches into the rotated file when the current one has fewer lines.
  const current = lines(await readFile(join(d.root, 'containers', id, `${id}-json.log`), 'utf8')).length;
  const n = current + 3;
  const tail = await cli('logs', '--tail', String(n), name);
  t.deepEqual(lines(tail.stdout), lines(all.stdout).slice(-n));

  const inspect = await cli('inspect', '-f', '{{json .HostConfig.LogConfig}}', name);
  t.deepEqual(JSON.parse(inspect.stdout), { Type: 'json-file', Config: { 'max-file': '2', 'max-size': '1k' } });
  await cli('rm', '-f', name);
});

test('--log-driver none: attach still shows the output, docker logs says it cannot read', async (t) => {
  const { cli, reg } = await setup();
  const name = `nolog-${uid()}`;
  const run = await cli('run', '--name', name, '--log-driver', 'none', reg.image, 'sh', '-c', 'echo hi; echo err >&2');
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, 'hi\n');
  t.is(run.stderr, 'err\n');
  const logs = await cli('logs', name);
  t.not(logs.code, 0);
  // dockerd: logger.ErrReadLogsNotSupported (501), same words.
  t.regex(logs.stderr, /configured logging driver does not support reading/);
  t.is((await cli('inspect', '-f', '{{.HostConfig.LogConfig.Type}}', name)).stdout.trim(), 'none');
  await cli('rm', '-f', name);
});

test('bad LogConfig at create: unknown driver or option, bad sizes are 400s like dockerd', async (t) => {
  const { d, cli, reg } = await setup();
  const cases: Array<[string[], RegExp]> = [
    // moby daemon/logger/factory.go ValidateLogOpts.
    [['--log-driver', 'nope'], /logger: no log driver named 'nope' is registered/],
    // moby jsonfilelog.ValidateLogOpt.
    [['--log-opt', 'bogus=1'], /unknown log opt 'bogus' for json-file log driver/],
    // go-units FromHumanSize.
    [['--log-opt', 'max-size=abc'], /invalid size: 'abc'/],
    [['--log-opt', 'max-size=1k', '--log-opt', 'max-file=0'], /max-file cannot be less than 1/],
    [['--log-opt', 'mode=sometimes'], /logging mode not supported: sometimes/],
  ];
  for (const [flags, re] of cases) {
    const r = await cli('create', ...flags, reg.image, 'true');
    t.not(r.code, 0, flags.join(' '));
    t.regex(r.stderr, re);
  }
  const viaApi = await api(d.dockerHost, 'POST', '/v1.41/containers/create', {
    json: { Image: reg.image, Cmd: ['true'], HostConfig: { LogConfig: { Type: 'nope', Config: {} } } },
  });
  t.is(viaApi.status, 400, viaApi.body);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('--runtime: unknown names are a 400; crun says clearly why it cannot run here', async (t) => {
  const { d, cli, reg } = await setup();
  const nope = await cli('run', '--runtime', 'nope', reg.image, 'true');
  t.is(nope.code, 125);
  // moby daemon/runtime_unix.go: "Unknown runtime specified %s".
  t.regex(nope.stderr, /Unknown runtime specified nope/);
  const viaApi = await api(d.dockerHost, 'POST', '/v1.41/containers/create', {
    json: { Image: reg.image, Cmd: ['true'], HostConfig: { Runtime: 'nope' } },
  });
  t.is(viaApi.status, 400, viaApi.body);

  const crun = crunOnThisHost();
  const r = await cli('run', '--rm', '--runtime', 'crun', reg.image, 'echo', 'from-crun');
  t.log(r.stderr.trim());
  if (crun.state === 'ok') {
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, 'from-crun\n');
  } else if (crun.state === 'refused') {
    t.not(r.code, 0);
    t.regex(
      r.stderr,
      new RegExp(
        `crun ${crun.version.replace(/\./g, '\\.')} cannot run containers on this host: cgroup v1 hybrid layout \\(pure cgroup v2 required\\)`,
      ),
    );
  } else {
    t.not(r.code, 0);
    t.regex(r.stderr, /OCI runtime crun not found in PATH/);
  }
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('daemon.json runtimes with crun as the default: skiffd refuses to start with one clear line', async (t) => {
  const crun = crunOnThisHost();
  if (crun.state === 'ok') {
    t.pass('crun works on this host: nothing to refuse');
    return;
  }
  const f = await expectStartFailure({
    storageDriver: 'vfs',
    config: { runtimes: { crun: { path: 'crun' } }, 'default-runtime': 'crun' },
  });
  t.not(f.code, 0);
  t.regex(
    f.output,
    crun.state === 'refused'
      ? /runtime "crun" failed to start: .*crun \S+ cannot run containers on this host: cgroup v1 hybrid layout \(pure cgroup v2 required\)/
      : /runtime "crun" failed to start: .*OCI runtime crun not found in PATH/,
  );
  t.false(/\n\s+at /.test(f.output), `no stack trace:\n${f.output}`);
});
