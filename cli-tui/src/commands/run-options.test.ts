import test from 'ava';
import { parseArgs } from '../cli/args.js';
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
  t.deepEqual(c.NetworkingConfig, { EndpointsConfig: { default: {} } });
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
  t.deepEqual(build(['--network', 'mynet', 'img']).config.NetworkingConfig.EndpointsConfig, { mynet: {} });
});

test('bad input', (t) => {
  t.throws(() => build([]), { instanceOf: RunOptionsError });
  t.throws(() => resolveEnv(['=x'], {}), { instanceOf: RunOptionsError });
  t.throws(() => build(['-l', '=v', 'img']), { instanceOf: RunOptionsError });
});

test('start errors map to docker exit codes', (t) => {
  t.is(startErrorExitCode('exec: "nope": executable file not found in $PATH: unknown'), 127);
  t.is(startErrorExitCode('exec /x: no such file or directory'), 127);
  t.is(startErrorExitCode('exec /etc: permission denied'), 126);
  t.is(startErrorExitCode('exec /etc: is a directory'), 126);
  t.is(startErrorExitCode('cgroup setup failed'), 125);
});
