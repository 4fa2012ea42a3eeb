import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { docker, driverDaemons, type RunResult, skiff } from '../harness/index.js';

// `skiff run`/`skiff create` flags next to the docker CLI's: the request body each CLI sends for
// the same flags (captured by a small recording Engine API server on a unix socket), the errors
// for bad values, and the containers a real skiffd makes from them. Also the group help texts and
// the JSON escaping of outputs that docker re-marshals.

const uid = () => randomBytes(4).toString('hex');

interface Recorder {
  host: string;
  bodies: unknown[];
  close(): Promise<void>;
}

/** An Engine API stand-in that answers /_ping as an API 1.41 Linux daemon and records create bodies. */
async function startRecorder(t: ExecutionContext): Promise<Recorder> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-rec-'));
  const socket = path.join(dir, 'api.sock');
  const bodies: unknown[] = [];
  const server = http.createServer((req, res) => {
    // The query (name, platform) is part of what is compared.
    const query = new URL(req.url ?? '/', 'http://x').search;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.41');
      res.setHeader('Ostype', 'linux');
      res.setHeader('Content-Type', 'application/json');
      const url = req.url ?? '';
      if (url.endsWith('/_ping')) {
        res.end('OK');
      } else if (req.method === 'POST' && url.includes('/containers/create')) {
        bodies.push({ query, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        res.statusCode = 201;
        res.end(JSON.stringify({ Id: 'f'.repeat(64), Warnings: [] }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ message: `not recorded: ${req.method} ${url}` }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  t.teardown(close);
  return { host: `unix://${socket}`, bodies, close };
}

/** docker sends -v binds and the environment in Go map order (random); compare them as sets. */
function normaliseBody(request: unknown): unknown {
  const { body } = request as { body: unknown };
  const b = body as { Env?: string[] | null; HostConfig?: { Binds?: string[] | null } };
  if (b?.HostConfig?.Binds) b.HostConfig.Binds = [...b.HostConfig.Binds].sort();
  if (b?.Env) b.Env = [...b.Env].sort();
  return request;
}

const forDocker = (text: string) => text.replace(/\bskiff\b/g, 'docker');

async function captured(rec: Recorder, fn: () => Promise<RunResult>): Promise<{ r: RunResult; body: unknown }> {
  rec.bodies.length = 0;
  const r = await fn();
  return { r, body: rec.bodies.length === 1 ? normaliseBody(rec.bodies[0]) : rec.bodies.length };
}

test('create --cidfile writes the ID, and refuses a file that exists, like docker', async (t) => {
  const rec = await startRecorder(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'runflags-cid-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files = { d: path.join(dir, 'd'), s: path.join(dir, 's') };
  const d = await docker(['create', '--cidfile', files.d, IMG], { host: rec.host });
  const s = await skiff(['create', '--cidfile', files.s, IMG], { host: rec.host });
  t.is(s.code, d.code, s.stderr);
  t.is(await readFile(files.s, 'utf8'), await readFile(files.d, 'utf8'));
  const d2 = await docker(['create', '--cidfile', files.d, IMG], { host: rec.host });
  const s2 = await skiff(['create', '--cidfile', files.d, IMG], { host: rec.host });
  t.not(d2.code, 0);
  t.is(s2.code, d2.code);
  t.is(forDocker(s2.stderr), d2.stderr);
});

/** `create ARGS` through both CLIs: same status, output and request body. */
async function sameCreate(t: ExecutionContext, rec: Recorder, args: string[]): Promise<void> {
  const what = args.join(' ');
  const d = await captured(rec, () => docker(['create', ...args], { host: rec.host }));
  const s = await captured(rec, () => skiff(['create', ...args], { host: rec.host }));
  t.is(s.r.code, d.r.code, `${what}: exit status\nskiff: ${s.r.stderr}\ndocker: ${d.r.stderr}`);
  t.is(s.r.stdout, d.r.stdout, `${what}: stdout`);
  t.is(forDocker(s.r.stderr), d.r.stderr, `${what}: stderr`);
  t.deepEqual(s.body, d.body, `${what}: request body`);
}

const IMG = 'busybox';

const ACCEPTED: string[][] = [
  [IMG],
  ['-p', '80', IMG],
  ['-p', '8080:80/tcp', IMG],
  ['-p', '1000-1001:2000-2001', IMG],
  ['-p', '127.0.0.1:80:80', '-p', '[::1]:81:81', IMG],
  ['-p', '1-2:3', IMG],
  ['-p', '8080:80', '-p', '8081:80', IMG],
  ['-p', '80', '-p', '81/udp', '--expose', '82', '--expose', '90-91/sctp', IMG],
  ['-P', IMG],
  ['--network', 'mynet', '--network-alias', 'a', '--network-alias', 'b', IMG],
  ['--network', 'none', IMG],
  ['--network', 'host', IMG],
  ['--network', 'bridge', IMG],
  ['--network', 'default', IMG],
  ['--network', 'container:x', IMG],
  ['--ip', '10.0.0.1', IMG],
  ['--network', 'host', '--ip', '1.2.3.4', IMG],
  ['--network', 'mynet', '--ip', '10.1.0.5', '--ip6', 'fd00::1', IMG],
  ['--mount', 'type=bind,src=/tmp,dst=/x,readonly', IMG],
  ['--mount', 'type=volume,src=v,dst=/v,volume-nocopy', IMG],
  ['--mount', 'type=volume,dst=/v2,volume-driver=local,volume-opt=a=b,volume-label=l=1', IMG],
  ['--mount', 'type=tmpfs,dst=/t,tmpfs-mode=1770,tmpfs-size=1m', IMG],
  ['--mount', 'type=bind,source=/tmp,target=/y,bind-propagation=rshared', IMG],
  ['--mount', 'type=bind,src=/tmp,dst=/x,ro=true', '--mount', 'type=bind,src=/tmp,dst=/z,readonly=0', IMG],
  ['--mount', 'type=volume,dst=/x,volume-nocopy=false,volume-subpath=a', IMG],
  ['--mount', 'type=bind,src=/tmp,dst=/x,consistency=cached,bind-nonrecursive', IMG],
  ['--mount', 'type=bind,"src=/a,b",dst=/x', IMG],
  ['--tmpfs', '/run', '--tmpfs', '/b:rw,noexec,size=1m', IMG],
  ['-v', '/x', '-v', 'ab', '-v', 'a:/x', IMG],
  ['-v', '/tmp:/x:rw,z', '-v', 'named:/n:ro', '-v', 'rel:/r', '-v', '/a:rel', IMG],
  ['-v', 'a:b:c:d', '-v', '/x', '-v', '/x', IMG],
  ['--restart', 'always', IMG],
  ['--restart', 'unless-stopped', IMG],
  ['--restart', 'on-failure', IMG],
  ['--restart', 'on-failure:3', IMG],
  ['--restart', 'no', '--rm', IMG],
  ['-m', '100k', '--memory-reservation', '1m', '--memory-swap', '-1', IMG],
  ['-m', '1.5g', '--memory-swap', '3g', '--shm-size', '1 MiB', IMG],
  ['--cpus', '0.5', '--cpu-shares', '512', '--cpuset-cpus', '0-1', '--cpuset-mems', '0', IMG],
  ['--cpus', '1/2', '--cpu-period', '100000', '--cpu-quota', '0x10', IMG],
  ['--pids-limit', '-1', '--oom-score-adj', '100', '--memory-swappiness', '10', '--oom-kill-disable', IMG],
  ['--ulimit', 'nproc=10', IMG],
  ['--ulimit', 'core=-1', IMG],
  ['--device', '/dev/fuse', IMG],
  ['--device', '/dev/null:/x', '--device', '/dev/zero:r', '--device', '/dev/null:/y/:rw', IMG],
  ['--security-opt', 'seccomp=unconfined', '--security-opt', 'label=disable', IMG],
  ['--security-opt', 'no-new-privileges:true', '--privileged', '--read-only', IMG],
  ['--cap-add', 'ALL', '--cap-add', 'cap_chown', '--cap-drop', 'net_raw', IMG],
  ['--health-cmd', 'echo hi', IMG],
  ['--no-healthcheck', IMG],
  ['--health-interval', '3s', '--health-retries', '2', IMG],
  ['--health-timeout', '0s', '--health-start-period', '1m30s', IMG],
  ['--health-cmd', '', IMG],
  ['--init', IMG],
  ['--init=false', IMG],
  ['--user', 'nobody:nogroup', '--workdir', '/w', '--hostname', 'h', '--domainname', 'd', IMG],
  ['--stop-signal', 'SIGINT', '--stop-timeout', '0', IMG],
  ['--log-driver', 'json-file', '--log-opt', 'max-file=2', '--log-opt', 'max-size=1m', IMG],
  ['--sysctl', 'kernel.msgmax=1', '--sysctl', 'net.core.somaxconn=1024', IMG],
  ['--dns', '1.1.1.1', '--dns-option', 'ndots:2', '--dns-search', 'b.c', IMG],
  ['--dns', '127.0.0.53', '--dns', '::1', IMG],
  ['--add-host', 'a:::1', '--add-host', 'b=1.2.3.4', '--add-host', 'c:[::1]', IMG],
  ['--add-host', 'host.docker.internal:host-gateway', IMG],
  ['--cgroupns', 'host', '--ipc', 'host', '--pid', 'host', '--uts', 'host', '--userns', 'host', IMG],
  ['--group-add', '10', '--cgroup-parent', '/x', '--runtime', 'runc', '--blkio-weight', '100', IMG],
  ['-l', 'a=b', '-l', 'c', '-e', 'A=1', '-e', 'B=', '-e', 'C', '--env-file', '/dev/null', IMG, 'sh', '-c', 'true'],
  ['--link', 'a', '--link', 'b:c', '--volumes-from', 'x:ro', '--volume-driver', 'local', IMG],
  ['--storage-opt', 'size=1G', '--device-cgroup-rule', 'c 1:3 rwm', '--isolation', 'default', IMG],
  ['--platform', 'linux/amd64', '--name', `plat-${uid()}`, IMG],
  ['--pull', 'never', IMG],
  ['-i', IMG],
  ['-t', IMG],
];

test('create: the same request body as docker 28 for each flag combination', async (t) => {
  const rec = await startRecorder(t);
  for (const args of ACCEPTED) await sameCreate(t, rec, args);
});

const REJECTED: string[][] = [
  ['-p', 'abc'],
  ['-p', '99999'],
  ['-p', '80/xyz'],
  ['-p', '1.2.3.4:80'],
  ['-p', '1-3:4-5'],
  ['-p', '300.1.1.1:80:80'],
  ['--expose', 'x'],
  ['--expose', '10-5'],
  ['--expose', ''],
  ['-m', '1x'],
  ['-m', '-1'],
  ['-m', '1kbb'],
  ['--memory-swap', 'x'],
  ['--shm-size', 'x'],
  ['--cpus', 'x'],
  ['--cpus', '0.0000000001'],
  ['-c', '1.5'],
  ['--pids-limit', '99999999999999999999'],
  ['--restart', 'on-failure:x'],
  ['--restart', ':3'],
  ['--rm', '--restart', 'always'],
  ['--ulimit', 'bogus'],
  ['--ulimit', 'nofile=a'],
  ['--ulimit', 'nofile=10:5'],
  ['--ulimit', 'foo=1'],
  ['--ulimit', 'nofile=1:2:3'],
  ['--mount', 'type=bind,src=/tmp'],
  ['--mount', 'type=volume,dst=/x,foo=bar'],
  ['--mount', 'garbage'],
  ['--mount', ''],
  ['--mount', 'type=bind,src=/tmp,dst=/x,readonly=maybe'],
  ['--mount', 'type=tmpfs,dst=/x,tmpfs-size=abc'],
  ['--mount', 'type=tmpfs,dst=/x,tmpfs-mode=9'],
  ['--mount', 'type=bind,dst=/x,volume-nocopy'],
  ['--mount', 'type=volume,dst=/x,bind-propagation=shared'],
  ['-v', ''],
  ['-v', '/x:/y:ro:z'],
  ['--device', ''],
  ['--device', '/dev/null:rel'],
  ['--device', '/dev/null::rw'],
  ['--device', '/dev/null:/x:bad'],
  ['--add-host', 'bad'],
  ['--add-host', 'a:notip'],
  ['--dns', 'notip'],
  ['--sysctl', 'bad'],
  ['--sysctl', 'kernel.foo=1'],
  ['--health-interval', 'x'],
  ['--health-interval', '1'],
  ['--health-retries', 'x'],
  ['--health-interval', '-1s'],
  ['--no-healthcheck', '--health-cmd', 'x'],
  ['--stop-timeout', 'x'],
  ['--security-opt', 'bad'],
  ['--security-opt', `seccomp=/nonexistent-${uid()}.json`],
  ['--network-alias', 'a'],
  ['--network', ''],
  ['--init=maybe'],
  ['--env-file', `/nonexistent-${uid()}`],
  ['--label-file', `/nonexistent-${uid()}`],
  ['-l', '=x'],
  ['-e', '=x'],
  ['--memory-swappiness', '200'],
  ['--blkio-weight', '70000'],
  ['--link', ''],
  ['--link', 'a:b:c'],
  ['--storage-opt', 'bad'],
  ['--device-cgroup-rule', 'bad'],
  ['--pull', 'bogus'],
];

test('create: bad flag values fail with docker’s message and status', async (t) => {
  const rec = await startRecorder(t);
  for (const args of REJECTED) await sameCreate(t, rec, [...args, IMG]);
  await sameCreate(t, rec, ['bad::ref']);
});

// ---------------------------------------------------------------------------------------------

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  return { host: d.dockerHost, image: reg.image };
}

test('run: the flags take effect in the container, like docker run on the same daemon', async (t) => {
  const { host, image } = await setup();
  const flags = [
    ...['-m', '64m', '--pids-limit', '50', '--cpus', '0.5', '--ulimit', 'nofile=100:200', '--read-only'],
    ...['--tmpfs', '/run:size=1m', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m', '--cap-drop', 'ALL', '--init'],
    ...['-u', '1:2', '-w', '/tmp', '-e', 'A=1', '--add-host', 'foo:1.2.3.4', '--dns', '9.9.9.9'],
    ...['--dns-search', 'ex.com', '--sysctl', 'net.core.somaxconn=1234', '--network', 'none', '--stop-timeout', '3'],
    ...['--health-cmd', 'true', '--health-interval', '5s', '--restart', 'on-failure:2', '--shm-size', '32m'],
  ];
  const script = [
    'grep "open files" /proc/self/limits',
    'id',
    'pwd',
    'echo $A',
    'cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max',
    'grep -E " /(t|run|dev/shm) " /proc/mounts',
    'grep foo /etc/hosts',
    'cat /etc/resolv.conf',
    'cat /proc/sys/net/core/somaxconn',
    'touch /x 2>&1',
    'cat /proc/1/cmdline | tr "\\0" " "; echo',
  ].join('; ');
  const names = { d: `rf-d-${uid()}`, s: `rf-s-${uid()}` };
  t.teardown(() => docker(['rm', '-f', names.d, names.s], { host }));
  const d = await docker(['run', '--name', names.d, ...flags, image, 'sh', '-c', script], { host });
  const s = await skiff(['run', '--name', names.s, ...flags, image, 'sh', '-c', script], { host });
  t.is(d.code, 0, d.stderr);
  t.is(s.code, d.code, s.stderr);
  t.is(s.stdout, d.stdout);
  t.regex(s.stdout, /Max open files\s+100\s+200/);
  t.regex(s.stdout, /uid=1 gid=2/);
  t.regex(s.stdout, /\n50\n/);
  t.regex(s.stdout, /1\.2\.3\.4\s+foo/);
  t.regex(s.stdout, /1234/);
  t.regex(s.stdout, /Read-only file system/);
  // What the daemon stored from each request.
  const inspect = async (name: string, field: string) => {
    const r = await docker(['inspect', '-f', `{{json ${field}}}`, name], { host });
    t.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  t.deepEqual(await inspect(names.s, '.HostConfig'), await inspect(names.d, '.HostConfig'));
  const config = async (name: string) => {
    const c = await inspect(name, '.Config');
    delete c.Hostname;
    return c;
  };
  t.deepEqual(await config(names.s), await config(names.d));
});

test('run: a bad value is reported like docker run (usage error or "docker: …", 125)', async (t) => {
  const { host, image } = await setup();
  for (const args of [
    ['-m', '1x'],
    ['--rm', '--restart', 'always'],
    ['-p', 'abc'],
    ['--mount', 'type=bind,src=/tmp'],
  ]) {
    const d = await docker(['run', ...args, image], { host });
    const s = await skiff(['run', ...args, image], { host });
    t.is(d.code, 125);
    t.is(s.code, d.code, args.join(' '));
    t.is(forDocker(s.stderr), d.stderr, args.join(' '));
  }
});

test('group help, unknown subcommands and JSON escaping of re-marshalled output match docker', async (t) => {
  const { host } = await setup();
  const same = async (...args: string[]) => {
    const d = await docker(args, { host });
    const s = await skiff(args, { host });
    t.is(s.code, d.code, `${args.join(' ')}: exit status`);
    // The product name is the one intended difference ("Manage skiff" for "Manage Docker").
    const named = (text: string) => text.replace('Manage Docker', 'Manage docker');
    t.is(forDocker(s.stdout), named(d.stdout), `${args.join(' ')}: stdout`);
    t.is(forDocker(s.stderr), named(d.stderr), `${args.join(' ')}: stderr`);
  };
  for (const group of ['image', 'container', 'network', 'volume', 'system']) {
    await same(group, '--help');
    await same(group);
    await same(group, 'bogus');
    await same(group, '--bogus');
    await same('help', group);
  }
  await same('image', '-h');
  await same('image', 'bogus', '--help');
  // A command's own -h: docker's deprecation line first, then its help.
  for (const argv of [
    ['image', 'ls', '-h'],
    ['ps', '-h'],
  ]) {
    const s = await skiff(argv, { host });
    t.is(s.code, 0);
    t.true(s.stdout.startsWith('Flag shorthand -h has been deprecated, use --help\nUsage:  skiff '), s.stdout);
  }

  const vol = `esc-${uid()}`;
  const net = `esc-${uid()}`;
  t.is((await docker(['volume', 'create', '--label', 'v=<&>', vol], { host })).code, 0);
  t.teardown(() => docker(['volume', 'rm', vol], { host }));
  await same('volume', 'inspect', vol);
  await same('volume', 'inspect', '--format', 'json', vol);
  await same('volume', 'ls', '--format', 'json', '--filter', `name=${vol}`);
  await same('inspect', vol);
  const created = await docker(['network', 'create', '--label', 'n=<&>', net], { host });
  t.is(created.code, 0, created.stderr);
  t.teardown(() => docker(['network', 'rm', net], { host }));
  await same('network', 'ls', '--format', 'json', '--filter', `name=${net}`);
  await same('network', 'ls', '--format', '{{.CreatedAt}} {{.IPv4}} {{.IPv6}}', '--filter', `name=${net}`);
  await same('network', 'inspect', net);
  await same('network', 'ls', '--format', 'json');
});
