import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { runCli } from '../main.js';
import { containerContext, goTimeString } from './container-context.js';
import { naturalLess } from './container-info.js';
import { splitCpArg } from './cp.js';
import { EnvFileError, parseEnvFileText } from './env-file.js';
import { DetachMatcher, parseDetachKeys } from './session.js';
import { statsContext, statsEntry } from './stats.js';
import { getTimestamp, parseGoDuration } from './time-arg.js';
import { parseRestartPolicy, ramInBytes } from './update.js';
import { renderTemplate } from '../format/template.js';

test('detach keys parse like docker and match across chunks', (t) => {
  t.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  t.deepEqual(parseDetachKeys('a,ctrl-@,ctrl-['), [97, 0, 27]);
  t.throws(() => parseDetachKeys('ctrl-'), { message: 'Invalid detach keys (ctrl-) provided' });
  t.throws(() => parseDetachKeys('ctrl-1'));
  t.throws(() => parseDetachKeys('abc'));
  const m = new DetachMatcher([16, 17]);
  t.deepEqual(m.push(Buffer.from('ab\x10')), { data: Buffer.from('ab'), detach: false });
  // A broken sequence releases the held byte.
  t.deepEqual(m.push(Buffer.from('c\x10')), { data: Buffer.from('\x10c'), detach: false });
  t.deepEqual(m.push(Buffer.from('\x11rest')), { data: Buffer.from(''), detach: true });
});

test('since/until: durations, unix times, RFC 3339; garbage is an error', (t) => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5, 500);
  t.is(parseGoDuration('1h30m'), 5_400_000);
  t.is(parseGoDuration('1.5s'), 1500);
  t.is(parseGoDuration('10'), undefined);
  t.is(getTimestamp('10m', now), `${Math.floor((now - 600_000) / 1000)}.500000000`);
  t.is(getTimestamp('1700000000', now), '1700000000');
  t.is(getTimestamp('1700000000.5', now), '1700000000.5');
  t.is(getTimestamp('2026-01-02T03:04:05Z', now), '1767323045.000000000');
  t.throws(() => getTimestamp('yesterday', now), { message: 'failed to parse value as time or duration: "yesterday"' });
});

test('cp argument split: container:path, local paths with colons', (t) => {
  t.deepEqual(splitCpArg('c1:/etc'), { container: 'c1', path: '/etc' });
  t.deepEqual(splitCpArg('/tmp/a:b'), { path: '/tmp/a:b' });
  t.deepEqual(splitCpArg('./a:b'), { path: './a:b' });
  t.deepEqual(splitCpArg('file'), { path: 'file' });
  t.deepEqual(splitCpArg(':x'), { path: ':x' });
});

test('update: sizes and restart policies like go-units / opts', (t) => {
  t.is(ramInBytes('64m'), 64 * 1024 * 1024);
  t.is(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
  t.is(ramInBytes('100'), 100);
  t.is(ramInBytes('2KiB'), 2048);
  t.throws(() => ramInBytes('1x'), { message: "invalid suffix: 'x'" });
  t.throws(() => ramInBytes('abc'), { message: "invalid size: 'abc'" });
  t.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  t.deepEqual(parseRestartPolicy('always'), { Name: 'always', MaximumRetryCount: 0 });
  t.throws(() => parseRestartPolicy('on-failure:x'));
});

test('port lines sort naturally', (t) => {
  t.deepEqual(['9000/tcp', '80/tcp', '443/tcp', '80/udp'].sort(naturalLess), [
    '80/tcp',
    '80/udp',
    '443/tcp',
    '9000/tcp',
  ]);
});

test('stats: CPU, memory without cache, I/O sums, as docker prints them', (t) => {
  const e = statsEntry('c', {
    id: 'a'.repeat(64),
    name: '/web',
    cpu_stats: { cpu_usage: { total_usage: 3_000 }, system_cpu_usage: 20_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 1_000 }, system_cpu_usage: 10_000 },
    memory_stats: {
      usage: 10 * 1024 * 1024,
      limit: 100 * 1024 * 1024,
      stats: { total_inactive_file: 2 * 1024 * 1024 },
    },
    networks: { eth0: { rx_bytes: 1500, tx_bytes: 648 }, eth1: { rx_bytes: 500, tx_bytes: 0 } },
    blkio_stats: {
      io_service_bytes_recursive: [
        { op: 'Read', value: 4096 },
        { op: 'Write', value: 8192 },
        { op: 'Total', value: 1 },
      ],
    },
    pids_stats: { current: 3 },
  });
  const row = '{{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}';
  t.is(
    renderTemplate(row, statsContext(e, true)),
    'aaaaaaaaaaaa web 40.00% 8MiB / 100MiB 8.00% 2kB / 648B 4.1kB / 8.19kB 3',
  );
  t.is(
    renderTemplate(row, statsContext({ ...e, isInvalid: true, name: '' }, true)),
    'aaaaaaaaaaaa -- -- -- / -- -- -- -- --',
  );
});

test('container context: docker ps fields', (t) => {
  const c = containerContext(
    {
      Id: 'b'.repeat(64),
      Names: ['/web', '/other/alias'],
      Image: 'docker.io/library/busybox:latest',
      Command: 'sh -c "sleep 1000; echo done"',
      Created: 0,
      Labels: { z: '1', a: '2' },
      SizeRw: 1000,
      SizeRootFs: 2_000_000,
      Mounts: [{ Name: 'averyveryverylongvolumename', Driver: 'local' }, { Source: '/host' }],
      NetworkSettings: { Networks: { bridge: {}, alpha: {} } },
      State: 'running',
      Status: 'Up 1 second',
    },
    { trunc: true, now: 0 },
  );
  t.is(
    renderTemplate(
      '{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.Labels}}|{{.Label "a"}}|{{.Size}}|{{.Mounts}}|{{.LocalVolumes}}|{{.Networks}}',
      c,
    ),
    `bbbbbbbbbbbb|web|busybox:latest|"sh -c \\"sleep 1000; …"|a=2,z=1|2|1kB (virtual 2MB)|averyveryveryl…,/host|1|alpha,bridge`,
  );
  // Go's time.Time.String() layout, in the local zone.
  t.regex(goTimeString(1_700_000_000), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [-+]\d{4} \S+$/);
});

function memoryStreams() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { streams: { stdin: new PassThrough(), stdout, stderr }, out: () => out, err: () => err };
}

test('usage errors of the container commands: exit codes and docker wording (no daemon needed)', async (t) => {
  const cases: [string[], number, RegExp][] = [
    [['rename', 'a'], 1, /'skiff rename' requires 2 arguments[\s\S]*Run 'skiff rename --help'/],
    [['port', 'a', 'b', 'c'], 1, /requires at least 1 and at most 2 arguments/],
    [['stop'], 1, /requires at least 1 argument[\s\S]*See 'skiff stop --help'/],
    [['stop', '-t', 'x', 'c'], 125, /invalid argument "x" for "-t, --timeout" flag: strconv.ParseInt/],
    [['update', '--memory', '1x', 'c'], 125, /invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'/],
    [['update', 'c'], 1, /you must provide one or more flags when using this command/],
    [['ps', '-f', 'novalue'], 125, /bad format of filter \(expected name=value\)/],
    [['ps', '--format', '{{.Names'], 1, /failed to parse template: template: :1: unclosed action/],
    [['ps', '--format', '{{.Nope}}'], 1, /failed to execute template: .*can't evaluate field Nope/],
    [['cp', 'a', 'b'], 1, /must specify at least one container source/],
    [['cp', 'a:/x', 'b:/y'], 1, /copying between containers is not supported/],
    [['inspect', '--type', 'foo', 'x'], 1, /unknown type: "foo"/],
    [['exec', '--detach-keys', 'ctrl-', 'c', 'true'], 1, /Invalid detach keys/],
    [['logs', '--since', 'yesterday', 'c'], 1, /invalid value for "since"/],
  ];
  for (const [argv, code, pattern] of cases) {
    const io = memoryStreams();
    // An endpoint nobody listens on: these must fail before any request.
    const rc = await runCli(['-H', 'unix:///nonexistent/skiff-test.sock', ...argv], {
      streams: io.streams,
      env: {},
      hooks: new EventEmitter(),
    });
    t.is(rc, code, `${argv.join(' ')}: ${io.err()}`);
    t.regex(io.err(), pattern, argv.join(' '));
  }
});

test('env files: KEY=VALUE, bare KEY from the environment, comments; bad names', (t) => {
  t.deepEqual(parseEnvFileText('\uFEFFA=1\n  # note\n\nB\nC\nD= spaced \r\n', 'f', { B: '2' }), [
    'A=1',
    'B=2',
    'D= spaced ',
  ]);
  t.throws(() => parseEnvFileText('bad name=x\n', 'f', {}), {
    message: "invalid env file (f): variable 'bad name' contains whitespaces",
  });
  t.throws(() => parseEnvFileText('=x\n', 'f', {}), { instanceOf: EnvFileError });
});
