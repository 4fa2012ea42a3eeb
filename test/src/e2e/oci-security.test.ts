import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname as hostHostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api, docker, driverDaemons } from '../harness/index.js';
import { imageDocuments, layerOf, MediaTypes, pushBlob, pushManifest, tarOf } from '../harness/image-builder.js';

// The security profile of a container and the create options that shape its OCI spec, probed from
// inside containers started by the real docker CLI. Expected values are dockerd's (moby defaults),
// hard-coded because CI has no dockerd.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const cli = (...args: string[]) => docker(args, { host: d.dockerHost });
  /** `docker run --rm … sh -c script`, asserting exit 0; returns stdout. */
  const probe = async (opts: string[], script: string): Promise<string> => {
    const r = await cli('run', '--rm', ...opts, reg.image, 'sh', '-c', script);
    if (r.code !== 0) throw new Error(`docker run ${opts.join(' ')} exited ${r.code}: ${r.stderr}\n${d.output()}`);
    return r.stdout;
  };
  return { d, reg, cli, probe };
}

const STATUS = 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status';

function status(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(/:\s+/) as [string, string]),
  );
}

/** moby `daemon/pkg/oci/caps/defaults.go`: the 14 default capabilities as the kernel prints them. */
const DOCKER_CAPS = '00000000a80425fb';

test('default container: capabilities, no-new-privs, seccomp filter and fds as under dockerd', async (t) => {
  const { probe, cli, reg } = await setup();
  const out = await probe([], STATUS);
  // What `docker run busybox` prints under dockerd (Inheritable and Ambient empty: CVE-2022-24769).
  t.deepEqual(status(out), {
    CapInh: '0000000000000000',
    CapPrm: DOCKER_CAPS,
    CapEff: DOCKER_CAPS,
    CapBnd: DOCKER_CAPS,
    CapAmb: '0000000000000000',
    NoNewPrivs: '0',
    Seccomp: '2',
  });
  // Only stdio: no descriptor of skiffd, conmon or runc leaks into the container's process.
  const name = `fds-${uid()}`;
  t.is((await cli('run', '-d', '--name', name, reg.image, 'sleep', '600')).code, 0);
  t.teardown(() => cli('rm', '-f', name));
  const fds = await cli('exec', name, 'ls', '/proc/1/fd');
  t.is(fds.stdout, '0\n1\n2\n', fds.stderr);
});

test('default container: mounts, masked and read-only paths as under dockerd', async (t) => {
  const { probe } = await setup();
  const out = await probe(
    [],
    'cat /proc/self/mounts; echo ---; cat /proc/kcore | wc -c; ls /sys/firmware | wc -l; ' +
      'echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-readonly',
  );
  const [mountText, checks] = out.split('---\n') as [string, string];
  const all = mountText
    .trim()
    .split('\n')
    .map((l) => l.split(' ') as [string, string, string, string]);
  // cgroup v2: one read-only cgroup2 mount. v1: runc's tmpfs with each controller read-only below it.
  for (const [, target, type, options] of all.filter(([, target]) => target.startsWith('/sys/fs/cgroup'))) {
    if (type !== 'tmpfs') t.true(options.split(',').includes('ro'), `${target} is read-only`);
  }
  const mounts = mountText
    .trim()
    .split('\n')
    .map((l) => {
      const [source, target, type, options] = l.split(' ') as [string, string, string, string];
      return { source, target, type, options: options.split(',') };
    })
    // On a cgroup v1 host runc mounts each controller under /sys/fs/cgroup, as it does for dockerd.
    .filter((m) => !m.target.startsWith('/sys/fs/cgroup/'));
  const targets = mounts.map((m) => m.target);
  // moby daemon/pkg/oci/defaults.go mounts, then the /etc files, in this order.
  t.deepEqual(targets.slice(0, 11), [
    '/',
    '/proc',
    '/dev',
    '/dev/pts',
    '/sys',
    '/sys/fs/cgroup',
    '/dev/mqueue',
    '/dev/shm',
    '/etc/resolv.conf',
    '/etc/hostname',
    '/etc/hosts',
  ]);
  const opt = (target: string) => mounts.find((m) => m.target === target)?.options ?? [];
  t.true(opt('/sys').includes('ro'));
  t.true(opt('/dev/shm').includes('size=65536k'), opt('/dev/shm').join());
  t.true(opt('/dev').includes('size=65536k'));
  for (const o of ['nosuid', 'nodev', 'noexec']) t.true(opt('/proc').includes(o), o);
  // ReadonlyPaths and MaskedPaths of moby's DefaultLinuxSpec, where the host has them.
  for (const p of ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'].filter((p) =>
    existsSync(p),
  )) {
    t.true(opt(p).includes('ro'), `${p} is read-only`);
  }
  for (const p of [
    '/proc/acpi',
    '/proc/asound',
    '/proc/interrupts',
    '/proc/kcore',
    '/proc/keys',
    '/proc/latency_stats',
    '/proc/sched_debug',
    '/proc/scsi',
    '/proc/timer_list',
    '/proc/timer_stats',
    '/sys/devices/virtual/powercap',
    '/sys/firmware',
  ].filter((p) => existsSync(p))) {
    t.true(targets.includes(p), `${p} is masked`);
  }
  t.is(checks, '0\n0\nsys-readonly\n');
});

test('--security-opt no-new-privileges, seccomp=unconfined and seccomp=<profile>; cap-add/drop; privileged', async (t) => {
  const { probe, cli, reg } = await setup();
  t.like(status(await probe(['--security-opt', 'no-new-privileges'], STATUS)), { NoNewPrivs: '1', Seccomp: '2' });
  t.like(status(await probe(['--security-opt', 'seccomp=unconfined'], STATUS)), { Seccomp: '0' });
  // CAP_SYS_ADMIN (21) added, CAP_NET_RAW (13) dropped.
  const tweaked = (0xa80425fbn | (1n << 21n)) & ~(1n << 13n);
  t.like(status(await probe(['--cap-add', 'SYS_ADMIN', '--cap-drop', 'NET_RAW'], STATUS)), {
    CapEff: tweaked.toString(16).padStart(16, '0'),
  });
  // Every capability of the kernel (dockerd), within skiffd's own bounding set where that is trimmed.
  const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const ownBounding = BigInt(`0x${/^CapBnd:\s*(\w+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
  t.like(status(await probe(['--privileged'], STATUS)), {
    CapEff: (((1n << BigInt(lastCap + 1)) - 1n) & ownBounding).toString(16).padStart(16, '0'),
    Seccomp: '0',
  });

  const dir = await mkdtemp(join(tmpdir(), 'skiff-seccomp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const profile = join(dir, 'profile.json');
  await writeFile(
    profile,
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    }),
  );
  const denied = await cli('run', '--rm', '--security-opt', `seccomp=${profile}`, reg.image, 'mkdir', '/x');
  t.not(denied.code, 0);
  t.regex(denied.stderr + denied.stdout, /Permission denied/);
  await writeFile(profile, '{"defaultAction": "SCMP_ACT_BOGUS"}');
  const bad = await cli('run', '--rm', '--security-opt', `seccomp=${profile}`, reg.image, 'true');
  t.is(bad.code, 125);
  t.regex(bad.stderr, /invalid seccomp profile/);
});

test('--init runs tini as PID 1 like dockerd; --user resolves from the image files', async (t) => {
  const { probe } = await setup();
  const init = await probe(['--init'], "tr '\\0' ' ' < /proc/1/cmdline; echo");
  t.is(init, "/sbin/docker-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline; echo \n");
  t.is(await probe(['--user', 'nobody'], 'id -u; id -g'), '65534\n65534\n');
  t.is(await probe(['--user', '1234:5678'], 'id -u; id -g'), '1234\n5678\n');
});

test('--read-only with --tmpfs, --device, --ulimit, --sysctl, --shm-size', async (t) => {
  const { probe } = await setup();
  const out = await probe(
    [
      '--read-only',
      '--tmpfs',
      '/run:size=1m',
      '--device',
      '/dev/null:/dev/mynull:rw',
      '--ulimit',
      'nofile=512:1024',
      '--sysctl',
      'net.ipv4.ip_forward=1',
      '--shm-size',
      '32m',
    ],
    'touch /x 2>/dev/null && echo root-writable || echo root-readonly; touch /run/x && echo run-writable; ' +
      'grep " /run " /proc/self/mounts; echo hi > /dev/mynull && echo dev-ok; ' +
      'echo $(ulimit -n) $(ulimit -Hn); cat /proc/sys/net/ipv4/ip_forward; grep " /dev/shm " /proc/self/mounts',
  );
  const lines = out.trim().split('\n');
  t.is(lines[0], 'root-readonly');
  t.is(lines[1], 'run-writable');
  t.regex(lines[2]!, /^tmpfs \/run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
  t.is(lines[3], 'dev-ok');
  t.is(lines[4], '512 1024');
  t.is(lines[5], '1');
  t.regex(lines[6]!, /size=32768k/);
});

test('--pid, --uts and --ipc host share the host namespaces', async (t) => {
  const { probe } = await setup();
  const out = await probe(
    ['--pid', 'host', '--uts', 'host', '--ipc', 'host'],
    'echo $$; hostname; grep " /dev/shm " /proc/self/mounts; true',
  );
  const [pid, name, shm] = out.trim().split('\n');
  t.not(pid, '1', 'the container process is not PID 1 in the host PID namespace');
  t.is(name, hostHostname());
  t.notRegex(shm ?? '', /size=65536k/, "the host's /dev/shm, not a private one");
  t.is(await probe([], 'echo $$; true'), '1\n');
});

/** Pushes an image whose config carries `overrides` (the image config is attacker input). */
async function pushHostileImage(host: string, overrides: Record<string, unknown>): Promise<string> {
  const repo = `hostile-${uid()}`;
  const layer = layerOf(
    tarOf([{ name: 'etc/' }, { name: 'etc/passwd', data: Buffer.from('root:x:0:0::/:/bin/sh\n') }]),
  );
  const docs = imageDocuments({ layers: [layer] });
  const config = JSON.parse(docs.config.bytes.toString('utf8')) as { config: Record<string, unknown> };
  Object.assign(config.config, overrides);
  const bytes = Buffer.from(JSON.stringify(config));
  const { createHash } = await import('node:crypto');
  const cfg = { bytes, size: bytes.length, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
  await pushBlob(host, repo, layer);
  await pushBlob(host, repo, cfg);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.OciManifest,
      config: { mediaType: MediaTypes.OciConfig, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    }),
  );
  await pushManifest(host, repo, 'latest', manifest, MediaTypes.OciManifest);
  return `${host}/${repo}:latest`;
}

test('hostile image config: huge or negative User, WorkingDir under /proc, Volumes with .. are refused', async (t) => {
  const { d, reg, cli } = await setup();
  for (const [overrides, message] of [
    [{ User: '4294967296' }, /uids and gids must be in range/],
    [{ User: '-1' }, /uids and gids must be in range/],
    [{ WorkingDir: '/proc/self/fd/7' }, /invalid working directory/],
    [{ WorkingDir: '/work/../proc/self/cwd' }, /'\.\.' is not allowed/],
    [{ Volumes: { '/data/../../etc': {} } }, /'\.\.' is not allowed/],
  ] as const) {
    const image = await pushHostileImage(reg.host, overrides);
    t.is((await cli('pull', image)).code, 0);
    const r = await cli('create', image);
    t.is(r.code, 1, JSON.stringify(overrides));
    t.regex(r.stderr, message, JSON.stringify(overrides));
  }
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
});

test('bad create options are clear 400s and skiffd keeps serving', async (t) => {
  const { d, reg } = await setup();
  const create = (hostConfig: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    api(d.dockerHost, 'POST', '/v1.41/containers/create', {
      Image: reg.image,
      Cmd: ['true'],
      ...extra,
      HostConfig: hostConfig,
    });
  const cases: Array<[Record<string, unknown>, RegExp, Record<string, unknown>?]> = [
    [{}, /labels are too large/, { Labels: { big: 'x'.repeat(1 << 20) } }],
    [{}, /uids and gids must be in range/, { User: '4294967296' }],
    [{}, /invalid working directory/, { WorkingDir: '/proc/self/fd/7' }],
    [{ ShmSize: -1 }, /SHM size/],
    [{ ShmSize: 1e300 }, /invalid ShmSize/],
    [{ OomScoreAdj: 5000 }, /OomScoreAdj/],
    [{ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }, /soft limit must be less than or equal/],
    [{ Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] }, /invalid ulimit type/],
    [{ Ulimits: [{ Name: 'nofile', Soft: -5, Hard: 5 }] }, /ulimit nofile soft limit/],
    [{ Sysctls: { 'kernel.panic': '1' } }, /not namespaced/],
    [{ Sysctls: { 'net.ipv4.ip_forward': '1' }, NetworkMode: 'host' }, /host network mode/],
    [{ PidMode: 'bogus' }, /invalid PidMode/],
    [{ IpcMode: 'container:x' }, /No such container: x/],
    [{ UTSMode: 42 }, /UTSMode must be a string/],
    [{ Tmpfs: { relative: '' } }, /absolute path/],
    [{ Tmpfs: { '/run': 'size=1m,bogus' } }, /invalid tmpfs option/],
    [{ Devices: [{ PathOnHost: '/dev/../etc/shadow' }] }, /'\.\.' is not allowed/],
    [{ Devices: [{ PathOnHost: '/dev/null', CgroupPermissions: 'rwx' }] }, /cgroup permissions/],
    [{ SecurityOpt: ['seccomp={bad json'] }, /invalid seccomp profile/],
    [{ SecurityOpt: ['bogus=1'] }, /invalid --security-opt/],
    [{ SecurityOpt: ['apparmor=docker-default'] }, /AppArmor/],
    [{ CapAdd: ['NOT_A_CAP'] }, /unknown capability/],
    [{ Init: 'yes' }, /Init must be a boolean/],
  ];
  for (const [hc, message, extra] of cases) {
    const r = await create(hc, extra);
    const what = JSON.stringify({ ...hc, ...extra }).slice(0, 120);
    t.is(r.status, 400, `${what}: ${r.body.slice(0, 300)}`);
    t.regex((r.json as { message?: string } | undefined)?.message ?? '', message, what);
  }
  // Unknown top-level fields are ignored, as dockerd does.
  const ok = await create({}, { SomethingNew: { Nested: 1 } });
  t.is(ok.status, 201, ok.body);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).status, 200);
  const id = (ok.json as { Id: string }).Id;
  const inspect = (await api(d.dockerHost, 'GET', `/v1.41/containers/${id}/json`)).json as {
    HostConfig: Record<string, unknown>;
  };
  // dockerd's defaults as inspect shows them.
  t.like(inspect.HostConfig, { ShmSize: 67108864, IpcMode: 'private', PidMode: '', UTSMode: '' });
  t.false('Init' in inspect.HostConfig, 'Init is omitted when not asked for (omitempty in moby)');
  await api(d.dockerHost, 'DELETE', `/v1.41/containers/${id}?force=1`);
});
