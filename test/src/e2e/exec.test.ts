import { randomBytes } from 'node:crypto';
import test from 'ava';
import { api, docker, driverDaemons, run } from '../harness/index.js';

// docker exec against skiffd: output, exit codes, env/cwd/user, stdin, TTY, failures, inspect.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

async function runningContainer() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const cli = (args: string[], stdin?: string) => docker(args, { host, stdin });
  const name = `exec-${randomBytes(4).toString('hex')}`;
  const r = await cli(['run', '-d', '--name', name, reg.image, 'sleep', '600']);
  if (r.code !== 0) throw new Error(r.stderr);
  return { d, host, cli, name };
}

test('non-TTY exec: separated streams, exit code, env, working dir and user', async (t) => {
  const { cli, name } = await runningContainer();
  const r = await cli(['exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 4']);
  t.is(r.code, 4);
  t.is(r.stdout, 'out\n');
  t.is(r.stderr, 'err\n');
  const env = await cli([
    'exec',
    '-e',
    'X=1',
    '-w',
    '/tmp',
    '-u',
    'nobody',
    name,
    'sh',
    '-c',
    'echo $X $(pwd) $(id -u)',
  ]);
  t.is(env.stdout, '1 /tmp 65534\n', env.stderr);
  await cli(['rm', '-f', name]);
});

test("the process environment is dockerd's: PATH, HOSTNAME, TERM with a terminal, the container's Env over them", async (t) => {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const cli = (args: string[]) => docker(args, { host: d.dockerHost });
  const name = `env-${randomBytes(4).toString('hex')}`;
  // What dockerd 20.10 printed for the same commands (the image sets PATH).
  const first = await cli(['run', '--rm', '--hostname', 'hh', '-e', 'FOO=1', '-e', 'HOME', reg.image, 'env']);
  const lines = first.stdout.trim().split('\n');
  t.true(lines.includes('HOSTNAME=hh'), first.stdout);
  t.true(lines.includes('FOO=1'), first.stdout);
  t.false(
    lines.some((l) => l.startsWith('TERM=')),
    first.stdout,
  );
  const tty = await cli(['run', '--rm', '-t', '-e', 'PATH=/x:/bin', reg.image, '/bin/env']);
  t.regex(tty.stdout, /^TERM=xterm\r?$/m);
  t.regex(tty.stdout, /^PATH=\/x:\/bin\r?$/m);
  // An exec gets TERM only with its own terminal, whatever the container's.
  t.is((await cli(['run', '-d', '-t', '--name', name, '--hostname', 'eh', reg.image, 'sleep', '600'])).code, 0);
  const plain = await cli(['exec', name, 'env']);
  t.regex(plain.stdout, /^HOSTNAME=eh$/m);
  t.notRegex(plain.stdout, /^TERM=/m);
  t.regex((await cli(['exec', '-t', name, 'env'])).stdout, /^TERM=xterm\r?$/m);
  await cli(['rm', '-f', name]);
});

test('exec -i pipes stdin and closes it; exec -d returns at once', async (t) => {
  const { cli, name } = await runningContainer();
  const r = await cli(['exec', '-i', name, 'sh', '-c', 'cat; echo eof'], 'one\ntwo\n');
  t.is(r.stdout, 'one\ntwo\neof\n', r.stderr);
  const d = await cli(['exec', '-d', name, 'sh', '-c', 'sleep 1; touch /detached']);
  t.is(d.code, 0, d.stderr);
  t.is((await cli(['exec', name, 'sh', '-c', 'sleep 2; ls /detached'])).stdout, '/detached\n');
  await cli(['rm', '-f', name]);
});

test('exec failures: 127 not found, 126 bad cwd, 409 stopped container, 404 unknown exec', async (t) => {
  const { d, cli, name } = await runningContainer();
  const nf = await cli(['exec', name, 'no-such-cmd']);
  t.is(nf.code, 127);
  t.regex(nf.stdout + nf.stderr, /OCI runtime exec failed: .*executable file not found/);
  const cwd = await cli(['exec', '-w', '/does/not/exist', name, 'true']);
  t.is(cwd.code, 126);
  t.regex(cwd.stdout + cwd.stderr, /chdir to cwd/);
  t.is((await api(d.dockerHost, 'GET', '/v1.41/exec/nope/json')).status, 404);
  t.is((await cli(['stop', '-t', '0', name])).code, 0);
  const stopped = await cli(['exec', name, 'true']);
  t.not(stopped.code, 0);
  t.regex(stopped.stderr, /is not running/);
  const created = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/exec`, { Cmd: ['true'] });
  t.is(created.status, 409);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
  await cli(['rm', name]);
});

test('exec inspect reports the exit code once the stream has ended', async (t) => {
  const { d, name, cli } = await runningContainer();
  const created = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/exec`, {
    Cmd: ['sh', '-c', 'exit 9'],
    AttachStdout: true,
  });
  t.is(created.status, 201);
  const id = (created.json as { Id: string }).Id;
  const before = (await api(d.dockerHost, 'GET', `/v1.41/exec/${id}/json`)).json as {
    Running: boolean;
    ExitCode: null;
  };
  t.false(before.Running);
  t.is(before.ExitCode, null);
  const started = await api(d.dockerHost, 'POST', `/v1.41/exec/${id}/start`, { Detach: false, Tty: false });
  t.is(started.status, 200);
  const after = (await api(d.dockerHost, 'GET', `/v1.41/exec/${id}/json`)).json as {
    Running: boolean;
    ExitCode: number;
  };
  t.is(after.ExitCode, 9);
  t.false(after.Running);
  await cli(['rm', '-f', name]);
});

test("a resize sent before the exec's process is up waits for it, as dockerd's does", async (t) => {
  const { d, name, cli } = await runningContainer();
  const created = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/exec`, {
    // busybox's stty prints no size for a 0x0 terminal: the loop ends once the resize has reached it.
    Cmd: ['sh', '-c', 'until [ "$(stty size 2>/dev/null)" ]; do sleep 0.05; done; stty size'],
    AttachStdout: true,
    Tty: true,
  });
  const id = (created.json as { Id: string }).Id;
  const resized = api(d.dockerHost, 'POST', `/v1.41/exec/${id}/resize?h=30&w=100`);
  const started = await api(
    d.dockerHost,
    'POST',
    `/v1.41/exec/${id}/start`,
    { Detach: false, Tty: true },
    { timeoutMs: 30_000 },
  );
  t.is((await resized).status, 200, (await resized).body);
  t.is(started.body, '30 100\r\n');
  await cli(['rm', '-f', name]);
});

test('exec -it runs a shell on a pseudo-terminal', async (t) => {
  const { host, name, cli } = await runningContainer();
  // script(1) gives the docker CLI a real pty; the shell's exit code comes back through exec inspect.
  const r = await run(
    'script',
    ['-qec', `docker exec -it ${name} sh -c 'test -t 0 && echo tty-ok; exit 5'`, '/dev/null'],
    {
      env: { ...process.env, DOCKER_HOST: host },
      timeoutMs: 30_000,
    },
  );
  t.regex(r.stdout, /tty-ok\r\n/);
  t.is(r.code, 5);
  await cli(['rm', '-f', name]);
});
