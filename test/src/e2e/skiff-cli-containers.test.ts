import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  type DockerdPeer,
  docker,
  dockerdPeerBinary,
  driverDaemons,
  pullIntoPeer,
  type RunResult,
  run,
  skiff,
  skiffBin,
  sleep,
  startDockerdPeer,
} from '../harness/index.js';

// The skiff CLI's container commands, each run next to the docker CLI against the same daemon
// (skiffd, and a dockerd 20.10 peer where one is unpacked): what skiff prints, on stdout and
// stderr, and its exit status must be what docker prints, once times and ids are normalised.

const uid = () => randomBytes(4).toString('hex');
const { registry, daemonFor, stopAll } = driverDaemons();
const peers: DockerdPeer[] = [];
test.after.always(async () => {
  await Promise.all(peers.map((p) => p.stop()));
  await stopAll();
});

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  return {
    host,
    image: reg.image,
    d: (...args: string[]) => docker(args, { host }),
    s: (...args: string[]) => skiff(args, { host }),
    skiffd: d,
  };
}

/**
 * Relative times ("3 seconds ago", "Up Less than a second"), column padding and the C (recent CPU
 * percentage) column of `top`'s ps -ef rows vary between two runs.
 */
function normalise(text: string): string {
  return text
    .replace(/^time="[^"]*" level=\w+ msg=.*\n/gm, '') // the docker CLI's own racy log lines (cp)
    .replace(
      /\b(Less than a second|About a minute|About an hour|\d+ (second|minute|hour|day|week|month|year)s?)\b/g,
      'T',
    )
    .replace(/ {2,}/g, '  ')
    .replace(/^(\S+ {2}\d+ {2}\d+ {2})\d+( {2})/gm, '$1C$2')
    .replace(/\bskiff\b/g, 'docker');
}

function same(t: ExecutionContext, skiffRun: RunResult, dockerRun: RunResult, what: string): void {
  t.is(skiffRun.code, dockerRun.code, `${what}: exit status\nskiff: ${skiffRun.stderr}\ndocker: ${dockerRun.stderr}`);
  t.is(normalise(skiffRun.stdout), normalise(dockerRun.stdout), `${what}: stdout`);
  t.is(normalise(skiffRun.stderr), normalise(dockerRun.stderr), `${what}: stderr`);
}

/** Runs the same arguments through both CLIs (skiff first) and compares everything they print. */
async function compare(t: ExecutionContext, host: string, ...args: string[]): Promise<RunResult> {
  const s = await skiff(args, { host });
  const d = await docker(args, { host });
  same(t, s, d, args.join(' '));
  return s;
}

async function runOk(host: string, ...args: string[]): Promise<string> {
  const r = await docker(args, { host });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

test('ps: default table, -q, --no-trunc, -s, -n, -l, --filter and --format as docker prints them', async (t) => {
  const { host, image } = await setup();
  const label = `t=ps-${uid()}`;
  const a = `ps-a-${uid()}`;
  const b = `ps-b-${uid()}`;
  await runOk(host, 'run', '-d', '--name', a, '-l', label, '-l', 'zz=1', image, 'sleep', '600');
  t.is((await docker(['run', '--name', b, '-l', label, image, 'sh', '-c', 'echo "<a&b>"; exit 3'], { host })).code, 3);
  t.teardown(() => docker(['rm', '-f', a, b], { host }));
  const f = ['--filter', `label=${label}`];
  await compare(t, host, 'ps', ...f);
  await compare(t, host, 'ps', '-a', ...f);
  await compare(t, host, 'ps', '-aq', ...f);
  await compare(t, host, 'ps', '-a', '--no-trunc', ...f);
  await compare(t, host, 'ps', '-a', '-s', ...f);
  await compare(t, host, 'ps', '-a', '--format', 'json', ...f);
  await compare(t, host, 'ps', '-a', '--format', '{{json .}}', ...f);
  await compare(t, host, 'ps', '-a', '--format', 'table {{.Names}}\t{{.Labels}}\t{{.State}}', ...f);
  await compare(t, host, 'ps', '-a', '--format', '{{.Names}}|{{.Label "zz"}}|{{.Status}}|{{upper .State}}', ...f);
  await compare(t, host, 'ps', '-a', '--format', 'raw', ...f);
  await compare(t, host, 'ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}', ...f);
  const latest = await compare(t, host, 'ps', '-a', '-n', '1', '--format', '{{.Names}}', ...f);
  t.is(latest.stdout.trim(), b);
  // Bad input: the same messages and statuses.
  await compare(t, host, 'ps', '--format', '{{.Names');
  await compare(t, host, 'ps', '--format', '{{.Nope}}');
  await compare(t, host, 'ps', '-q', '--format', '{{.Names}}', ...f);
  await compare(t, host, 'ps', '-f', 'novalue');
  await compare(t, host, 'ps', '-n', 'x');
  await compare(t, host, 'ps', 'extra-arg');
});

test('inspect: JSON array, -f templates, --type, -s and the not-found paths', async (t) => {
  const { host, image } = await setup();
  const name = `insp-${uid()}`;
  await runOk(host, 'run', '-d', '--name', name, '-l', 'k=v', image, 'sleep', '600');
  t.teardown(() => docker(['rm', '-f', name], { host }));
  await compare(t, host, 'inspect', name);
  await compare(t, host, 'inspect', '-f', '{{.Name}} {{.State.Status}} {{.Config.Labels}} {{json .Config.Cmd}}', name);
  await compare(t, host, 'inspect', '-f', '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}', name);
  await compare(t, host, 'inspect', '-f', '{{.Config.Labels.nolabel}}', name);
  await compare(t, host, 'inspect', '--format', 'json', name);
  await compare(
    t,
    host,
    'inspect',
    '-f',
    '{{.Config.ExposedPorts}} {{.State.Health}} {{.Config.Volumes}} {{.HostConfig.Binds}}',
    name,
  );
  await compare(t, host, 'inspect', '-s', '-f', '{{.SizeRw}}', name);
  await compare(t, host, 'inspect', '--type', 'container', '-f', '{{.Name}}', name);
  await compare(t, host, 'inspect', '-f', '{{.Id}}', image);
  await compare(t, host, 'inspect', '-f', '{{.Nope}}', name);
  await compare(t, host, 'inspect', '-f', '{{.Nope', name);
  await compare(t, host, 'inspect', `nosuch-${uid()}`);
  await compare(t, host, 'inspect', '--type', 'container', `nosuch-${uid()}`);
  await compare(t, host, 'inspect', '--type', 'bogus', name);
  const both = await skiff(['inspect', '-f', '{{.Name}}', name, `nosuch-${uid()}`], { host });
  t.is(both.code, 1);
  t.is(both.stdout, `/${name}\n`);
});

test('logs keeps stdout and stderr apart; -t, --tail, --since, --until, -f; errors', async (t) => {
  const { host, image, s } = await setup();
  const name = `logs-${uid()}`;
  await runOk(host, 'run', '--name', name, image, 'sh', '-c', 'echo out1; echo err1 >&2; echo out2');
  t.teardown(() => docker(['rm', '-f', name], { host }));
  const plain = await compare(t, host, 'logs', name);
  t.is(plain.stdout, 'out1\nout2\n');
  t.is(plain.stderr, 'err1\n');
  await compare(t, host, 'logs', '-t', name);
  await compare(t, host, 'logs', '--tail', '1', name);
  await compare(t, host, 'logs', '-n', '0', name);
  await compare(t, host, 'logs', '--since', '1h', name);
  await compare(t, host, 'logs', '--until', '2000-01-01T00:00:00Z', name);
  await compare(t, host, 'logs', '--since', 'yesterday', name);
  await compare(t, host, 'logs', `nosuch-${uid()}`);
  await compare(t, host, 'logs', 'a', 'b');

  // -f follows a running container until it exits.
  const live = `logs-f-${uid()}`;
  await runOk(host, 'run', '-d', '--name', live, image, 'sh', '-c', 'echo first; sleep 2; echo second');
  t.teardown(() => docker(['rm', '-f', live], { host }));
  const followed = await s('logs', '-f', live);
  t.is(followed.code, 0, followed.stderr);
  t.is(followed.stdout, 'first\nsecond\n');
});

test('exec: exit codes, -e -w -u, -d, stdin, and the errors of a missing command or container', async (t) => {
  const { host, image, s } = await setup();
  const name = `exec-${uid()}`;
  await runOk(host, 'run', '-d', '--name', name, image, 'sleep', '600');
  t.teardown(() => docker(['rm', '-f', name], { host }));
  const r = await compare(t, host, 'exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 7');
  t.is(r.code, 7);
  t.is(r.stdout, 'out\n');
  t.is(r.stderr, 'err\n');
  const env = await compare(
    t,
    host,
    'exec',
    '-e',
    'A=1',
    '-w',
    '/tmp',
    '-u',
    '1:2',
    name,
    'sh',
    '-c',
    'echo $A $(pwd) $(id -u):$(id -g)',
  );
  t.is(env.stdout, '1 /tmp 1:2\n');
  const envDir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-envfile-'));
  t.teardown(() => rm(envDir, { recursive: true, force: true }));
  await writeFile(path.join(envDir, 'ok'), 'A=from-file\n# comment\nB=b\n');
  await writeFile(path.join(envDir, 'bad'), 'bad name=x\n');
  const fromFile = await compare(
    t,
    host,
    'exec',
    '--env-file',
    path.join(envDir, 'ok'),
    '-e',
    'B=flag',
    name,
    'sh',
    '-c',
    'echo $A $B',
  );
  t.is(fromFile.stdout, 'from-file flag\n');
  await compare(t, host, 'exec', '--env-file', path.join(envDir, 'bad'), name, 'true');
  await compare(t, host, 'exec', '--env-file', path.join(envDir, 'missing'), name, 'true');
  await compare(t, host, 'exec', name, 'nosuchcmd');
  await compare(t, host, 'exec', `nosuch-${uid()}`, 'true');
  await compare(t, host, 'exec', '-it', name, 'true'); // not a terminal
  await compare(t, host, 'exec', name);
  const d = await s('exec', '-d', name, 'sh', '-c', 'echo detached > /tmp/d');
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout, '');
  let seen = '';
  for (let i = 0; i < 100 && seen !== 'detached\n'; i++) {
    seen = (await s('exec', name, 'cat', '/tmp/d')).stdout;
    if (seen !== 'detached\n') await sleep(100);
  }
  t.is(seen, 'detached\n');
  const piped = await skiff(['exec', '-i', name, 'sh', '-c', 'tr a-z A-Z'], { host, stdin: 'piped input\n' });
  t.is(piped.code, 0, piped.stderr);
  t.is(piped.stdout, 'PIPED INPUT\n');
  await runOk(host, 'stop', '-t', '0', name);
  await compare(t, host, 'exec', name, 'true');
});

test('create, start, stop, restart, kill, pause, unpause, wait, rename: output and errors like docker', async (t) => {
  const { host, image } = await setup();
  const id = uid();
  // One container per CLI: these commands change state.
  const names = { skiff: `lc-s-${id}`, docker: `lc-d-${id}` };
  t.teardown(() => docker(['rm', '-f', names.skiff, names.docker, `${names.skiff}-2`, `${names.docker}-2`], { host }));
  const each = async (...args: string[]) => {
    const sub = (n: string) => args.map((a) => a.replace('NAME', n));
    const s = await skiff(sub(names.skiff), { host });
    const d = await docker(sub(names.docker), { host });
    const un = (r: RunResult, n: string) => ({
      ...r,
      stdout: r.stdout.replaceAll(n, 'NAME').replace(/[0-9a-f]{64}/g, 'ID'),
      stderr: r.stderr.replaceAll(n, 'NAME').replace(/[0-9a-f]{64}/g, 'ID'),
    });
    same(t, un(s, names.skiff), un(d, names.docker), args.join(' '));
    return s;
  };
  const created = await each('create', '--name', 'NAME', '-l', 'x=y', image, 'sleep', '600');
  t.regex(created.stdout, /^[0-9a-f]{64}\n$/);
  await each('create', '--name', 'NAME', image); // name conflict
  await each('start', 'NAME');
  await each('pause', 'NAME');
  await each('pause', 'NAME');
  await each('unpause', 'NAME');
  await each('unpause', 'NAME');
  await each('kill', '-s', 'NOSIG', 'NAME');
  await each('restart', '-t', '1', 'NAME');
  await each('stop', '-t', '0', 'NAME', `nosuch-${id}`);
  await each('wait', 'NAME');
  await each('start', `nosuch-${id}`, 'NAME');
  await each('kill', 'NAME');
  await each('rename', 'NAME', 'NAME-2');
  await each('rename', 'NAME', 'NAME-3');
  await each('rename', 'NAME-2');
  await each('rename', 'NAME-2', 'NAME');
  await each('stop', '-t', 'x', 'NAME');
  await each('stop');
  await each('wait', `nosuch-${id}`);

  // start -a streams the output and exits with the container's status.
  const w = `lc-w-${id}`;
  await runOk(host, 'create', '--name', w, image, 'sh', '-c', 'echo attached; exit 4');
  t.teardown(() => docker(['rm', '-f', w], { host }));
  const attached = await skiff(['start', '-a', w], { host });
  t.is(attached.code, 4, attached.stderr);
  t.is(attached.stdout, 'attached\n');
  const waited = await skiff(['wait', w], { host });
  t.is(waited.stdout, '4\n');
});

test('top, port, diff, stats --no-stream, update, export and commit', async (t) => {
  const { host, image, s } = await setup();
  const name = `misc-${uid()}`;
  await runOk(
    host,
    'run',
    '-d',
    '--name',
    name,
    image,
    'sh',
    '-c',
    'echo x > /tmp/new; rm /etc/hostname 2>/dev/null; sleep 600',
  );
  t.teardown(() => docker(['rm', '-f', name], { host }));
  // The two CLIs ask one after the other: the shell must have become `sleep` before either does.
  for (let i = 0; i < 100 && !(await docker(['top', name, '-o', 'args'], { host })).stdout.includes('sleep 600'); i++)
    await sleep(50);
  await compare(t, host, 'top', name);
  await compare(t, host, 'top', name, '-o', 'pid,comm');
  await compare(t, host, 'top', `nosuch-${uid()}`);
  await compare(t, host, 'port', name);
  await compare(t, host, 'port', name, '80');
  await compare(t, host, 'port', name, 'x');
  let diff: RunResult | undefined;
  for (let i = 0; i < 50; i++) {
    diff = await compare(t, host, 'diff', name);
    if (diff.stdout.includes('/tmp/new')) break;
    await sleep(100);
  }
  t.regex(diff?.stdout ?? '', /^A \/tmp\/new$/m);
  await compare(t, host, 'stats', '--no-stream', '--format', '{{.Name}} {{.Container}} {{.PIDs}}', name);
  await compare(t, host, 'stats', '--no-stream', `nosuch-${uid()}`);
  const table = await s('stats', '--no-stream', name);
  t.regex(table.stdout, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS\n/);
  t.regex(table.stdout, new RegExp(`\\n[0-9a-f]{12}\\s+${name}\\s+\\d+\\.\\d\\d%\\s+\\S+ / \\S+\\s+\\d+\\.\\d\\d%`));
  const json = await s('stats', '--no-stream', '--format', 'json', name);
  t.is((JSON.parse(json.stdout) as { Name: string }).Name, name);

  await compare(t, host, 'update', name);
  await compare(t, host, 'update', '--memory', '1x', name);
  await compare(t, host, 'update', '--cpus', 'x', name);
  const upd = await compare(t, host, 'update', '--memory', '64m', '--memory-swap', '128m', '--pids-limit', '99', name);
  t.is(upd.stdout, `${name}\n`);
  t.is(await runOk(host, 'inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', name), '67108864 99');

  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-export-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exported = await s('export', '-o', path.join(dir, 'fs.tar'), name);
  t.is(exported.code, 0, exported.stderr);
  const listing = await run('tar', ['-tf', path.join(dir, 'fs.tar')]);
  t.regex(listing.stdout, /^tmp\/new$/m);
  t.regex(listing.stdout, /^bin\/busybox$/m);
  await compare(t, host, 'export', `nosuch-${uid()}`);

  const repo = `skiff-commit-${uid()}`;
  const committed = await s('commit', '-c', 'ENV COMMITTED=yes', '-m', 'a message', '-a', 'me', name, `${repo}:v1`);
  t.is(committed.code, 0, committed.stderr);
  t.regex(committed.stdout, /^sha256:[0-9a-f]{64}\n$/);
  t.teardown(() => docker(['rmi', '-f', `${repo}:v1`], { host }));
  t.is(await runOk(host, 'run', '--rm', `${repo}:v1`, 'sh', '-c', 'echo $COMMITTED; cat /tmp/new'), 'yes\nx');
  t.is(await runOk(host, 'inspect', '-f', '{{.Comment}} {{.Author}}', `${repo}:v1`), 'a message me');
  await compare(t, host, 'commit', name, 'BAD:tag');
  await compare(t, host, 'commit', `nosuch-${uid()}`);
});

async function tree(dir: string): Promise<string> {
  const r = await run('find', ['.', '-printf', '%p %M %s %l\n'], { cwd: dir });
  return r.stdout.split('\n').filter(Boolean).sort().join('\n');
}

test('cp both ways makes the same files as docker cp', async (t) => {
  const { host, image } = await setup();
  const name = `cp-${uid()}`;
  await runOk(host, 'run', '-d', '--name', name, image, 'sleep', '600');
  t.teardown(() => docker(['rm', '-f', name], { host }));
  const base = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-cp-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const src = path.join(base, 'src');
  await mkdir(path.join(src, 'sub'), { recursive: true, mode: 0o750 });
  await writeFile(path.join(src, 'a'), 'a\n');
  await writeFile(path.join(src, 'sub', 'b'), 'bee\n', { mode: 0o600 });
  await symlink('a', path.join(src, 'link'));
  for (const cli of ['docker', 'skiff'] as const) {
    const c = (...args: string[]) => (cli === 'docker' ? docker : skiff)(args, { host });
    const out = path.join(base, cli);
    await mkdir(path.join(out, 'into'), { recursive: true });
    const inC = `/tmp/${cli}`;
    const steps: string[][] = [
      ['exec', name, 'mkdir', inC],
      ['cp', src, `${name}:${inC}/`],
      ['cp', src, `${name}:${inC}/renamed`],
      ['cp', `${src}/.`, `${name}:${inC}/contents`],
      ['cp', path.join(src, 'a'), `${name}:${inC}/file`],
      ['cp', `${name}:${inC}`, path.join(out, 'back')],
      ['cp', `${name}:${inC}/file`, path.join(out, 'into')],
      ['cp', `${name}:/etc/.`, path.join(out, 'etc')],
      ['cp', `${name}:/bin/sh`, path.join(out, 'shlink')],
    ];
    for (const step of steps) {
      const r = await c(...step);
      t.is(r.code, 0, `${cli} ${step.join(' ')}: ${r.stderr}`);
    }
  }
  t.is(await tree(path.join(base, 'skiff')), await tree(path.join(base, 'docker')));
  t.is(await readFile(path.join(base, 'skiff', 'back', 'src', 'sub', 'b'), 'utf8'), 'bee\n');
  // A tar on stdin into a directory, a tar of a file to stdout.
  const tarIn = await run('sh', ['-c', `tar -C ${src} -cf - . | ${skiffBin} cp - ${name}:/tmp/skiff/contents`], {
    env: { ...process.env, SKIFF_HOST: host },
  });
  t.is(tarIn.code, 0, tarIn.stderr);
  const toStdout = await run('sh', ['-c', `${skiffBin} cp ${name}:/etc/hostname - | tar -tf -`], {
    env: { ...process.env, SKIFF_HOST: host },
  });
  t.is(toStdout.stdout, 'hostname\n');
  // Errors, as docker words them.
  await compare(t, host, 'cp', `${name}:/nosuch`, path.join(base, 'x'));
  await compare(t, host, 'cp', `nosuch-${uid()}:/etc`, path.join(base, 'x'));
  await compare(t, host, 'cp', path.join(src, 'a'), `${name}:/nonexistent/x`);
  await compare(t, host, 'cp', src, `${name}:/tmp/skiff/file`);
  await compare(t, host, 'cp', path.join(src, 'nope'), `${name}:/tmp/`);
  await compare(t, host, 'cp', `${name}:/etc/hostname`, `${path.join(src, 'a')}/`);
  await compare(t, host, 'cp', 'a', 'b');
  await compare(t, host, 'cp', `${name}:/a`, `${name}:/b`);
});

test('run exit codes: 125 for a bad flag or daemon error, 126 not executable, 127 not found', async (t) => {
  const { host, image } = await setup();
  for (const args of [
    ['run', '--rm', image, 'nosuchcommand'],
    ['run', '--rm', image, '/etc'],
    ['run', '--rm', '--nosuchflag', image],
    ['run', '--rm', image, 'sh', '-c', 'exit 42'],
    ['run', '--rm', `${image.replace(/:latest$/, '')}:nosuchtag-${uid()}`],
  ]) {
    const s = await skiff(args, { host });
    const d = await docker(args, { host });
    t.is(s.code, d.code, `${args.join(' ')}: skiff ${s.stderr} / docker ${d.stderr}`);
  }
  t.is((await skiff(['run', '--rm', image, 'nosuchcommand'], { host })).code, 127);
  t.is((await skiff(['run', '--rm', image, '/etc'], { host })).code, 126);
  t.is((await skiff(['run', '--rm', '--nosuchflag', image], { host })).code, 125);
});

interface Pty {
  write(data: string): void;
  output(): string;
  waitFor(pattern: RegExp | ((output: string) => boolean)): Promise<void>;
  exited: Promise<number | null>;
}

/** A command line on a real pseudo-terminal (util-linux script), as a user at a terminal. */
function onPty(t: ExecutionContext, command: string, env: NodeJS.ProcessEnv): Pty {
  const child = spawn('script', ['-qfec', `stty rows 30 cols 100; exec ${command}`, '/dev/null'], {
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('latin1')));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return {
    write: (data) => child.stdin.write(data),
    output: () => out,
    exited,
    async waitFor(pattern) {
      const deadline = Date.now() + 60_000;
      const matches = typeof pattern === 'function' ? pattern : (s: string) => pattern.test(s);
      while (!matches(out)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; output:\n${out}`);
        await sleep(50);
      }
    },
  };
}

test('pty: skiff exec -it and run -it get a terminal of the right size; typed input, exit status, detach keys', async (t) => {
  const { host, image } = await setup();
  const env = { SKIFF_HOST: host };
  const name = `pty-${uid()}`;
  await runOk(host, 'run', '-d', '--name', name, image, 'sleep', '600');
  t.teardown(() => docker(['rm', '-f', name], { host }));

  const exec = onPty(t, `${skiffBin} exec -it ${name} sh`, env);
  await exec.waitFor(/\/ # /);
  exec.write('test -t 0 && echo "tty=yes"; stty size; exit 5\r');
  t.is(await exec.exited, 5, exec.output());
  t.regex(exec.output(), /tty=yes\r\n/);
  t.regex(exec.output(), /30 100\r\n/);

  // run -it, then ctrl-p ctrl-q: detached, the container keeps running; attach again and exit.
  const r = `pty-run-${uid()}`;
  t.teardown(() => docker(['rm', '-f', r], { host }));
  const runIt = onPty(t, `${skiffBin} run -it --name ${r} ${image} sh`, env);
  await runIt.waitFor(/\/ # /);
  runIt.write('echo $((6*7))\r');
  await runIt.waitFor(/42\r\n/);
  runIt.write('\x10\x11');
  t.is(await runIt.exited, 0, runIt.output());
  t.is(await runOk(host, 'inspect', '-f', '{{.State.Running}}', r), 'true');
  const attach = onPty(t, `${skiffBin} attach ${r}`, env);
  await sleep(500);
  attach.write('echo again\r');
  await attach.waitFor(/again\r\n/);
  attach.write('exit 3\r');
  t.is(await attach.exited, 3, attach.output());
  t.is(await runOk(host, 'inspect', '-f', '{{.State.ExitCode}}', r), '3');

  // exec with custom detach keys
  const custom = onPty(t, `${skiffBin} exec -it --detach-keys ctrl-x ${name} sh`, env);
  await custom.waitFor(/\/ # /);
  custom.write('\x18');
  t.is(await custom.exited, 0, custom.output());
});

const CI = process.env.CI === 'true';
const peerMissing = await dockerdPeerBinary().then(
  () => undefined,
  (e: Error) => e,
);
if (peerMissing && !CI) console.log(`skiff CLI against dockerd skipped: ${peerMissing.message}`);
const withPeer = peerMissing && !CI ? test.skip : test;

withPeer('against a dockerd: ps, inspect, logs, exec, stats, cp, lifecycle print what docker prints', async (t) => {
  const reg = await registry();
  const peer = await startDockerdPeer({ insecureRegistries: [reg.host] });
  peers.push(peer);
  await pullIntoPeer(peer, reg.image);
  const host = peer.dockerHost;
  const name = `peer-${uid()}`;
  const label = `t=peer-${uid()}`;
  await runOk(
    host,
    'run',
    '-d',
    '--name',
    name,
    '-l',
    label,
    '--network',
    'none',
    reg.image,
    'sh',
    '-c',
    'echo out; echo err >&2; sleep 600',
  );
  await compare(t, host, 'ps', '--filter', `label=${label}`);
  await compare(t, host, 'ps', '-a', '--format', 'json', '--filter', `label=${label}`);
  await compare(t, host, 'inspect', name);
  await compare(t, host, 'inspect', '-f', '{{.Name}} {{.State.Running}} {{json .Config.Labels}}', name);
  await compare(t, host, 'logs', name);
  await compare(t, host, 'exec', name, 'sh', '-c', 'echo hi; exit 2');
  const envDir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-envfile-'));
  t.teardown(() => rm(envDir, { recursive: true, force: true }));
  await writeFile(path.join(envDir, 'ok'), 'A=from-file\n# comment\nB=b\n');
  await writeFile(path.join(envDir, 'bad'), 'bad name=x\n');
  const fromFile = await compare(
    t,
    host,
    'exec',
    '--env-file',
    path.join(envDir, 'ok'),
    '-e',
    'B=flag',
    name,
    'sh',
    '-c',
    'echo $A $B',
  );
  t.is(fromFile.stdout, 'from-file flag\n');
  await compare(t, host, 'exec', '--env-file', path.join(envDir, 'bad'), name, 'true');
  await compare(t, host, 'exec', '--env-file', path.join(envDir, 'missing'), name, 'true');
  await compare(t, host, 'exec', name, 'nosuchcmd');
  await compare(t, host, 'top', name);
  await compare(t, host, 'stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', name);
  await compare(t, host, 'diff', name);
  await compare(t, host, 'port', name);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-peer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const back = await skiff(['cp', `${name}:/etc/hostname`, path.join(dir, 'h')], { host });
  t.is(back.code, 0, back.stderr);
  t.is((await readFile(path.join(dir, 'h'), 'utf8')).trim(), await runOk(host, 'exec', name, 'cat', '/etc/hostname'));
  const stop = await skiff(['stop', '-t', '0', name], { host });
  t.is(stop.stdout, `${name}\n`);
  await compare(t, host, 'wait', name);
  await compare(t, host, 'start', `nosuch-${uid()}`);
  // container prune with a label filter: only the labelled container goes.
  const keep = `keep-${uid()}`;
  await runOk(host, 'create', '--name', keep, '--network', 'none', reg.image, 'true');
  const pruned = await skiff(['container', 'prune', '-f', '--filter', `label=${label}`], { host });
  t.is(pruned.code, 0, pruned.stderr);
  t.regex(pruned.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n\nTotal reclaimed space: /);
  t.is(await runOk(host, 'ps', '-a', '--format', '{{.Names}}'), keep);
});

test('stats streams: redrawn each tick (cleared on a terminal), follows containers that start and die', async (t) => {
  const { host, image } = await setup();
  const name = `stats-${uid()}`;
  await runOk(host, 'run', '-d', '--name', name, image, 'sleep', '600');
  t.teardown(() => docker(['rm', '-f', name], { host }));
  // Not a terminal: one full table per tick, one after the other.
  const child = spawn(skiffBin, ['stats', '--format', 'table {{.Name}}\t{{.PIDs}}', name], {
    env: { ...process.env, SKIFF_HOST: host },
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  while ((out.match(new RegExp(`^${name}\\s+1$`, 'gm')) ?? []).length < 3) {
    if (Date.now() > deadline) t.fail(`no three refreshes; output:\n${out}`);
    await sleep(100);
  }
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.regex(out, /^NAME +PIDS\n/);
  t.false(out.includes('\x1b['));
  // Without names: containers join when they start and leave when they die (the daemon's events).
  const all = spawn(skiffBin, ['stats', '--format', 'table {{.Name}}'], { env: { ...process.env, SKIFF_HOST: host } });
  t.teardown(() => {
    if (all.exitCode === null) all.kill('SIGKILL');
  });
  let allOut = '';
  all.stdout.on('data', (c: Buffer) => (allOut += c.toString()));
  const frames = () => allOut.split('NAME\n').slice(1, -1);
  const waitFrames = async (ok: (frame: string) => boolean, what: string) => {
    const from = frames().length;
    const end = Date.now() + 60_000;
    while (!frames().slice(from).some(ok)) {
      if (Date.now() > end) throw new Error(`stats never showed ${what}; output:\n${allOut}`);
      await sleep(100);
    }
  };
  await waitFrames(() => true, 'a first table');
  const late = `stats-late-${uid()}`;
  await runOk(host, 'run', '-d', '--name', late, image, 'sleep', '600');
  t.teardown(() => docker(['rm', '-f', late], { host }));
  await waitFrames((f) => f.split('\n').includes(late), `${late} after it started`);
  await runOk(host, 'kill', late);
  await waitFrames((f) => !f.split('\n').includes(late), `${late} gone after it died`);
  all.kill('SIGINT');
  // On a terminal each refresh clears the screen first.
  const pty = onPty(t, `${skiffBin} stats ${name}`, { SKIFF_HOST: host });
  const row = new RegExp(`[0-9a-f]{12}\\s+${name}\\s+\\d+\\.\\d\\d%`);
  const clear = '\x1b[2J\x1b[H';
  await pty.waitFor((o) => o.split(clear).length >= 3 && row.test(o.split(clear).at(-1) ?? ''));
  t.regex(pty.output(), /MEM USAGE \/ LIMIT/);
});

test('container group: ls, ps, inspect (containers only)', async (t) => {
  const { host, image } = await setup();
  const label = `t=grp-${uid()}`;
  const name = `grp-${uid()}`;
  await runOk(host, 'create', '--name', name, '-l', label, image, 'true');
  t.teardown(() => docker(['rm', '-f', name], { host }));
  await compare(t, host, 'container', 'ls', '-a', '--filter', `label=${label}`, '--format', '{{.Names}} {{.State}}');
  await compare(t, host, 'container', 'ps', '-aq', '--filter', `label=${label}`);
  await compare(t, host, 'container', 'inspect', '-f', '{{.Name}}', name);
  await compare(t, host, 'container', 'inspect', `nosuch-${uid()}`);
});
