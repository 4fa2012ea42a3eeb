import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import test from 'ava';
import { api, docker, driverDaemons } from '../harness/index.js';

// --pid/--ipc container:<name>, --ipc shareable|private|none and --uts host, as dockerd does them
// (moby daemon/container_operations_unix.go, oci_linux.go), with the docker CLI.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const cli = (...args: string[]) => docker(args, { host });
  const name = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;
  return { d, reg, host, cli, name };
}

test('--pid and --ipc container:<name> join the donor namespaces; inspect shows the donor ID', async (t) => {
  const { reg, cli, name } = await setup();
  const donor = name('donor');
  t.teardown(() => cli('rm', '-f', donor).then(() => undefined));
  const r = await cli(
    'run',
    '-d',
    '--network',
    'none',
    '--ipc',
    'shareable',
    '--name',
    donor,
    reg.image,
    'sleep',
    '600',
  );
  t.is(r.code, 0, r.stderr);
  const donorId = r.stdout.trim();
  const ns = async (what: string) => (await cli('exec', donor, 'readlink', `/proc/self/ns/${what}`)).stdout.trim();
  const [donorPid, donorIpc] = [await ns('pid'), await ns('ipc')];
  t.regex(donorPid, /^pid:\[\d+\]$/);

  const joiner = name('joiner');
  t.teardown(() => cli('rm', '-f', joiner).then(() => undefined));
  const j = await cli(
    'run',
    '--name',
    joiner,
    '--network',
    'none',
    '--pid',
    `container:${donor}`,
    '--ipc',
    `container:${donor}`,
    reg.image,
    'sh',
    '-c',
    'readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; ps -o pid,args',
  );
  t.is(j.code, 0, j.stderr);
  const [pidNs, ipcNs, ...ps] = j.stdout.trim().split('\n');
  t.is(pidNs, donorPid);
  t.is(ipcNs, donorIpc);
  // The donor's process is pid 1 of the shared namespace.
  t.true(
    ps.some((l) => /^\s*1\s+sleep 600$/.test(l)),
    ps.join('\n'),
  );
  const modes = await cli('inspect', '-f', '{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}}', joiner);
  t.is(modes.stdout.trim(), `container:${donorId} container:${donorId}`);
  // A private container has namespaces of its own.
  const own = await cli('run', '--rm', '--network', 'none', reg.image, 'readlink', '/proc/self/ns/pid');
  t.not(own.stdout.trim(), donorPid);
});

test('--ipc container:<shareable> shares /dev/shm too; the host tmpfs goes with the donor', async (t) => {
  const { d, reg, cli, name } = await setup();
  const donor = name('shm-donor');
  t.teardown(() => cli('rm', '-f', donor).then(() => undefined));
  const r = await cli(
    'run',
    '-d',
    '--network',
    'none',
    '--ipc',
    'shareable',
    '--shm-size',
    '8m',
    '--name',
    donor,
    reg.image,
    'sleep',
    '600',
  );
  t.is(r.code, 0, r.stderr);
  const donorId = r.stdout.trim();
  t.is((await cli('exec', donor, 'sh', '-c', 'echo from-donor > /dev/shm/seg')).code, 0);
  const j = await cli(
    'run',
    '--rm',
    '--network',
    'none',
    '--ipc',
    `container:${donor}`,
    reg.image,
    'sh',
    '-c',
    'cat /dev/shm/seg; echo from-joiner > /dev/shm/back; df -k /dev/shm | tail -1',
  );
  t.is(j.code, 0, j.stderr);
  const [seg, df] = j.stdout.trim().split('\n');
  t.is(seg, 'from-donor');
  t.regex(df ?? '', /\s8192\s/, 'the donor --shm-size');
  t.is((await cli('exec', donor, 'cat', '/dev/shm/back')).stdout.trim(), 'from-joiner');
  // A private container still has a /dev/shm of its own.
  t.not((await cli('run', '--rm', '--network', 'none', reg.image, 'cat', '/dev/shm/seg')).code, 0);

  const shmMounted = async () => (await readFile('/proc/self/mountinfo', 'utf8')).includes(`${donorId}/shm `);
  t.true(await shmMounted());
  t.is((await cli('rm', '-f', donor)).code, 0);
  t.false(await shmMounted(), `no tmpfs left on the host:\n${d.output()}`);
});

test('joining a stopped, missing or non-shareable container fails with dockerd messages', async (t) => {
  const { d, reg, cli, name, host } = await setup();
  const stopped = name('stopped');
  t.teardown(() => cli('rm', '-f', stopped).then(() => undefined));
  const c = await cli(
    'create',
    '--network',
    'none',
    '--ipc',
    'shareable',
    '--name',
    stopped,
    reg.image,
    'sleep',
    '600',
  );
  t.is(c.code, 0, c.stderr);
  const stoppedId = c.stdout.trim();
  const pid = await cli('run', '--rm', '--network', 'none', '--pid', `container:${stopped}`, reg.image, 'true');
  t.not(pid.code, 0);
  t.regex(pid.stderr, new RegExp(`container ${stoppedId} is not running`));
  const ipc = await cli('run', '--rm', '--network', 'none', '--ipc', `container:${stopped}`, reg.image, 'true');
  t.not(ipc.code, 0);
  t.regex(ipc.stderr, new RegExp(`can't join IPC of container ${stoppedId}: container ${stoppedId} is not running`));

  const missing = await api(host, 'POST', '/v1.41/containers/create', {
    Image: reg.image,
    Cmd: ['true'],
    HostConfig: { NetworkMode: 'none', PidMode: 'container:no-such-container' },
  });
  t.is(missing.status, 400, missing.body);
  t.is((missing.json as { message: string }).message, 'No such container: no-such-container');

  const priv = name('private');
  t.teardown(() => cli('rm', '-f', priv).then(() => undefined));
  const p = await cli('run', '-d', '--network', 'none', '--name', priv, reg.image, 'sleep', '600');
  t.is(p.code, 0, p.stderr);
  const join = await cli('run', '--rm', '--network', 'none', '--ipc', `container:${priv}`, reg.image, 'true');
  t.not(join.code, 0);
  t.regex(join.stderr, /non-shareable IPC \(hint: use IpcMode:shareable for the donor container\)/);
  // The --pid of a private container can be joined (dockerd has no such rule for PID).
  const pidJoin = await cli('run', '--rm', '--network', 'none', '--pid', `container:${priv}`, reg.image, 'true');
  t.is(pidJoin.code, 0, pidJoin.stderr);

  const bad = await api(host, 'POST', '/v1.41/containers/create', {
    Image: reg.image,
    Cmd: ['true'],
    HostConfig: { NetworkMode: 'none', IpcMode: 'container:' },
  });
  t.is(bad.status, 400);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('--ipc shareable|private|none|host are accepted as dockerd; none has no /dev/shm', async (t) => {
  const { reg, cli } = await setup();
  const hostIpc = (await import('node:fs/promises')).readlink('/proc/self/ns/ipc');
  for (const mode of ['shareable', 'private', 'none', 'host']) {
    const r = await cli(
      'run',
      '--rm',
      '--network',
      'none',
      '--ipc',
      mode,
      reg.image,
      'sh',
      '-c',
      'readlink /proc/self/ns/ipc; grep -c " /dev/shm " /proc/mounts || true',
    );
    t.is(r.code, 0, `${mode}: ${r.stderr}`);
    const [ns, shm] = r.stdout.trim().split('\n');
    t.is(ns === (await hostIpc), mode === 'host', mode);
    t.is(shm, mode === 'none' ? '0' : '1', mode);
  }
  const bad = await cli('run', '--rm', '--network', 'none', '--ipc', 'bogus', reg.image, 'true');
  t.not(bad.code, 0);
  t.regex(bad.stderr, /invalid IpcMode: "bogus"/);
});

test('--uts host: Config.Hostname and the hostname inside are the host name', async (t) => {
  const { reg, cli, name } = await setup();
  const n = name('uts');
  t.teardown(() => cli('rm', '-f', n).then(() => undefined));
  const r = await cli(
    'run',
    '--name',
    n,
    '--network',
    'none',
    '--uts',
    'host',
    reg.image,
    'sh',
    '-c',
    'hostname; cat /etc/hostname',
  );
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), [hostname(), hostname()]);
  t.is(
    (await cli('inspect', '-f', '{{.Config.Hostname}} {{.HostConfig.UTSMode}}', n)).stdout.trim(),
    `${hostname()} host`,
  );
  const conflict = await cli('run', '--rm', '--network', 'none', '--uts', 'host', '--hostname', 'x', reg.image, 'true');
  t.not(conflict.code, 0);
  t.regex(conflict.stderr, /Conflicting options: hostname and the UTS mode/);
});
