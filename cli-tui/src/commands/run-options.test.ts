import test from 'ava';
import { parseArgs } from '../cli/args.js';
import { UsageError } from '../cli/errors.js';
import { buildRunOptions, RUN_FLAGS, RunOptionsError, resolveEnv, startErrorExitCode } from './run-options.js';

function build(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const { flags, args } = parseArgs(argv, RUN_FLAGS, { interspersed: false });
  return buildRunOptions(flags, args, env, [40, 100]);
}

test('run --rm like the captured docker create body', (t) => {
  const opts = build(['--rm', 'busybox', 'sh', '-c', 'exit 3']);
  t.true(opts.autoRemove);
  t.false(opts.detach);
  const c = opts.config;
  t.like(c, {
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: ['sh', '-c', 'exit 3'],
    Image: 'busybox',
    Entrypoint: null,
  });
  t.like(c.HostConfig, { AutoRemove: true, NetworkMode: 'default', ConsoleSize: [0, 0] });
  t.deepEqual(Object.keys(c.NetworkingConfig.EndpointsConfig), ['default']);
  t.like(c.NetworkingConfig.EndpointsConfig.default, { IPAMConfig: null, Aliases: null, IPAddress: '' });
});

test('-d, -i, -t, --name, -e, -w, -u, --entrypoint, --network', (t) => {
  const opts = build(
    [
      '-d',
      '-i',
      '-t',
      '--name',
      'web',
      '-e',
      'A=B',
      '-e',
      'FROM_ENV',
      '-e',
      'UNSET',
      '-w',
      '/tmp',
      '-u',
      '1:2',
      '--entrypoint',
      '/bin/sh',
      '--network',
      'none',
      'img',
    ],
    { FROM_ENV: 'v' },
  );
  t.is(opts.name, 'web');
  t.like(opts.config, {
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: true,
    OpenStdin: true,
    StdinOnce: false,
    Env: ['A=B', 'FROM_ENV=v', 'UNSET'],
    Cmd: null,
    WorkingDir: '/tmp',
    User: '1:2',
    Entrypoint: ['/bin/sh'],
  });
  t.deepEqual(opts.config.HostConfig.ConsoleSize, [40, 100]);
  t.deepEqual(opts.config.NetworkingConfig.EndpointsConfig, {});
  const it = build(['-it', 'img']);
  t.like(it.config, { AttachStdin: true, OpenStdin: true, StdinOnce: true, Tty: true });
  t.deepEqual(build(['--entrypoint=', 'img']).config.Entrypoint, ['']);
  // docker 28 sends an endpoint for a named network only when it has settings.
  t.deepEqual(build(['--network', 'mynet', 'img']).config.NetworkingConfig.EndpointsConfig, {});
  t.deepEqual(build(['--network', 'default', 'img']).config.NetworkingConfig.EndpointsConfig, {});
});

test('bad input', (t) => {
  t.throws(() => build([]), { instanceOf: RunOptionsError });
  t.throws(() => resolveEnv(['=x'], {}), { instanceOf: RunOptionsError });
  t.throws(() => build(['-l', '=v', 'img']), {
    instanceOf: UsageError,
    message: `invalid argument "=v" for "-l, --label" flag: invalid label '=v': empty name`,
  });
});

test('resources, ports, mounts and security flags fill HostConfig like docker 28', (t) => {
  const c = build(
    [
      ...['-p', '8080:80', '-p', '127.0.0.1::53/udp', '-P', '--expose', '9000-9001'],
      ...[
        '-v',
        '/tmp:/data:ro',
        '-v',
        '/anon',
        '--mount',
        'type=tmpfs,dst=/t,tmpfs-size=1m',
        '--tmpfs',
        '/run:size=1m',
      ],
      ...['-m', '64m', '--memory-swap', '128m', '--cpus', '1.5', '--cpu-shares', '512', '--cpuset-cpus', '0'],
      ...['--pids-limit', '50', '--restart', 'on-failure:3', '--network', 'mynet', '--network-alias', 'foo'],
      ...['--ip', '10.1.0.5', '--dns', '1.1.1.1', '--add-host', 'h=1.2.3.4', '--cap-add', 'net_admin'],
      ...['--cap-drop', 'ALL', '--privileged', '--read-only', '--security-opt', 'no-new-privileges'],
      ...['--ulimit', 'nofile=100:200', '--device', '/dev/null:/dev/xnull:rw', '--init', '--health-cmd', 'true'],
      ...['--health-interval', '5s', '--stop-signal', 'SIGINT', '--stop-timeout', '7', '--log-opt', 'max-size=1m'],
      ...['--shm-size', '32m', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox'],
    ],
    {},
  ).config;
  t.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '9000/tcp': {}, '9001/tcp': {} });
  t.deepEqual(c.Volumes, { '/anon': {} });
  t.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9 });
  t.like(c, { StopSignal: 'SIGINT', StopTimeout: 7 });
  const h = c.HostConfig;
  t.deepEqual(h.PortBindings, {
    '80/tcp': [{ HostIp: '', HostPort: '8080' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }],
  });
  t.like(h, {
    Binds: ['/tmp:/data:ro'],
    Tmpfs: { '/run': 'size=1m' },
    Memory: 64 * 1024 * 1024,
    MemorySwap: 128 * 1024 * 1024,
    NanoCpus: 1.5e9,
    CpuShares: 512,
    CpusetCpus: '0',
    PidsLimit: 50,
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
    Dns: ['1.1.1.1'],
    ExtraHosts: ['h:1.2.3.4'],
    CapAdd: ['CAP_NET_ADMIN'],
    CapDrop: ['ALL'],
    Privileged: true,
    ReadonlyRootfs: true,
    SecurityOpt: ['no-new-privileges'],
    PublishAllPorts: true,
    Init: true,
    ShmSize: 32 * 1024 * 1024,
    Sysctls: { 'net.ipv4.ip_forward': '1' },
    LogConfig: { Type: '', Config: { 'max-size': '1m' } },
  });
  t.deepEqual(h.Mounts, [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024 * 1024 } }]);
  t.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 100, Hard: 200 }]);
  t.deepEqual(h.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'rw' }]);
  t.like(c.NetworkingConfig.EndpointsConfig.mynet, { Aliases: ['foo'], IPAMConfig: { IPv4Address: '10.1.0.5' } });
  // Fields docker sends as zero values even when no flag sets them.
  const plain = build(['busybox']).config;
  t.like(plain.HostConfig, { MemorySwappiness: -1, Dns: [], Devices: [], Ulimits: [], CapAdd: null, Binds: null });
  t.false('Init' in plain.HostConfig || 'Mounts' in plain.HostConfig || 'Healthcheck' in plain);
  t.is(build(['--init=false', 'busybox']).config.HostConfig.Init, false);
});

test('flag values docker rejects while parsing are usage errors naming the flag', (t) => {
  const usage = (argv: string[], message: string) =>
    t.throws(() => build([...argv, 'img']), { instanceOf: UsageError, message }, argv.join(' '));
  usage(['-m', '1x'], `invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'`);
  usage(['--cpus', 'x'], `invalid argument "x" for "--cpus" flag: failed to parse x as a rational number`);
  usage(['--cpus', '1e-10'], `invalid argument "1e-10" for "--cpus" flag: value is too precise`);
  usage(
    ['--pids-limit', 'x'],
    `invalid argument "x" for "--pids-limit" flag: strconv.ParseInt: parsing "x": invalid syntax`,
  );
  usage(
    ['--ulimit', 'nofile=10:5'],
    `invalid argument "nofile=10:5" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 10 > 5`,
  );
  usage(
    ['--mount', 'type=bind,src=/tmp'],
    `invalid argument "type=bind,src=/tmp" for "--mount" flag: target is required`,
  );
  usage(
    ['--add-host', 'a:notip'],
    `invalid argument "a:notip" for "--add-host" flag: invalid IP address in add-host: "notip"`,
  );
  usage(['--dns', 'x'], `invalid argument "x" for "--dns" flag: IP address is not correctly formatted: x`);
  usage(['--sysctl', 'bad'], `invalid argument "bad" for "--sysctl" flag: sysctl 'bad' is not allowed`);
  usage(
    ['--health-interval', '1'],
    `invalid argument "1" for "--health-interval" flag: time: missing unit in duration "1"`,
  );
  usage(['-e', '=x'], `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`);
});

test('later checks fail like docker run ("docker: …", 125)', (t) => {
  const later = (argv: string[], message: string) =>
    t.throws(() => build([...argv, 'img']), { instanceOf: RunOptionsError, message }, argv.join(' '));
  later(['-p', 'abc'], 'invalid containerPort: abc');
  later(['-p', '1.2.3.4:80'], 'invalid hostPort: 1.2.3.4');
  later(['-p', '80/xyz'], 'invalid proto: xyz');
  later(
    ['--expose', 'x'],
    'invalid range format for --expose: x, error: strconv.ParseUint: parsing "x": invalid syntax',
  );
  later(['-v', ''], 'invalid empty volume spec');
  later(['-v', '/x:/y:ro:z'], 'invalid spec: /x:/y:ro:z: too many colons');
  later(['--device', '/dev/null:rel'], 'rel is not an absolute path');
  later(['--restart', 'on-failure:x'], 'invalid restart policy format: maximum retry count must be an integer');
  later(['--rm', '--restart', 'always'], 'conflicting options: cannot specify both --restart and --rm');
  later(['--security-opt', 'bad'], 'Invalid --security-opt: "bad"');
  later(['--network-alias', 'a'], 'network-scoped aliases are only supported for user-defined networks');
  later(['--no-healthcheck', '--health-cmd', 'x'], '--no-healthcheck conflicts with --health-* options');
  later(['--health-interval', '-1s'], '--health-interval cannot be negative');
  later(['--memory-swappiness', '200'], 'invalid value: 200. Valid memory swappiness range is 0-100');
  later(['--env-file', '/nonexistent-skiff'], 'open /nonexistent-skiff: no such file or directory');
});

test('-v: binds, anonymous volumes, ./relative sources made absolute, one-letter drive quirk', (t) => {
  const c = buildRunOptions(
    parseArgs(['-v', './rel:/x', '-v', 'named:/n', '-v', '/anon', '-v', 'a:/x', 'img'], RUN_FLAGS, {
      interspersed: false,
    }).flags,
    ['img'],
    {},
    [0, 0],
    '/work/dir',
  ).config;
  t.deepEqual(c.HostConfig.Binds, ['/work/dir/rel:/x', 'named:/n']);
  t.deepEqual(c.Volumes, { '/anon': {}, 'a:/x': {} });
});

test('warns once about a localhost DNS server', (t) => {
  t.deepEqual(build(['--dns', '127.0.0.53', '--dns', '::1', 'img']).warnings, [
    'WARNING: Localhost DNS (127.0.0.53) may fail in containers.',
  ]);
  t.deepEqual(build(['--dns', '1.1.1.1', 'img']).warnings, []);
});

test('start errors map to docker exit codes', (t) => {
  t.is(startErrorExitCode('exec: "nope": executable file not found in $PATH: unknown'), 127);
  t.is(startErrorExitCode('exec /x: no such file or directory'), 127);
  t.is(startErrorExitCode('exec /etc: permission denied'), 126);
  t.is(startErrorExitCode('exec /etc: is a directory'), 126);
  t.is(startErrorExitCode('cgroup setup failed'), 125);
});
