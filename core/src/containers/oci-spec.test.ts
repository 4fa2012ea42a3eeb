import { readFile } from 'node:fs/promises';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { DEFAULT_CAPABILITIES, tweakCapabilities } from './capabilities.js';
import { buildOciSpec, type HostFacts, type OciSpec, type OciSpecInput, parseProcLimits } from './oci-spec.js';
import { defaultSeccompProfile, parseSeccompProfile, type SeccompProfile } from './seccomp.js';

const ID = '3f0a6f2c9c1e5a8d7b4c2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b';
const CONTAINER_DIR = `/var/lib/docker/containers/${ID}`;

const HOST: HostFacts = {
  cgroupV2: false,
  thermalThrottlePaths: [],
  hardRlimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: Number.POSITIVE_INFINITY, RLIMIT_CORE: Number.POSITIVE_INFINITY },
  arch: 'x64',
  devices: () => [{ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }],
  kernel: '6.1.0-18-amd64',
  devicesAt: (path) => {
    if (path === '/dev/fuse') return [{ path, type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }];
    if (path === '/dev/snd')
      return [{ path: '/dev/snd/timer', type: 'c', major: 116, minor: 33, fileMode: 0o660, uid: 0, gid: 29 }];
    throw new InvalidParameterError(`no such device ${path}`);
  },
  initBinary: () => '/usr/bin/tini-static',
};

/** `docker run busybox echo hello` on a cgroup v1 host, as dockerd describes it to us. */
function dockerRunInput(over: Partial<OciSpecInput> = {}): OciSpecInput {
  return {
    id: ID,
    rootfs: '/var/lib/docker/overlay2/7d1c5e0b5f0b4d8e9a4b2c6d1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f/merged',
    args: ['echo', 'hello'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=3f0a6f2c9c1e'],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [10] },
    hostname: '3f0a6f2c9c1e',
    terminal: false,
    readonlyRootfs: false,
    network: { mode: 'path', path: '/var/run/docker/netns/5c2b4a1d9e8f' },
    cgroupsPath: `/docker/${ID}`,
    etcFiles: {
      resolvConf: `${CONTAINER_DIR}/resolv.conf`,
      hostname: `${CONTAINER_DIR}/hostname`,
      hosts: `${CONTAINER_DIR}/hosts`,
    },
    ...over,
  };
}

/**
 * dockerd's config.json for the same container (fixture reconstructed from moby's
 * daemon/pkg/oci/defaults.go and daemon/oci_linux.go, cgroupfs driver, private IPC; `linux.seccomp`
 * is moby/profiles seccomp/default.json as moby's setupSeccomp resolves it for the 14 default
 * capabilities on amd64, kernel ≥ 4.8). Differences by design: no AppArmor profile (skiff loads
 * none), its own spec version, and no SCMP_ARCH_X32 in the seccomp architectures.
 */
async function dockerFixture(): Promise<Record<string, unknown>> {
  const path = new URL('../../src/containers/testdata/docker-run-busybox.config.json', import.meta.url);
  const spec = JSON.parse(await readFile(path, 'utf8')) as { process: Record<string, unknown>; ociVersion?: string };
  delete spec.process.apparmorProfile;
  delete spec.ociVersion;
  return spec;
}

function withoutDesignedDifferences(spec: OciSpec): Record<string, unknown> {
  const copy = structuredClone(spec) as unknown as { ociVersion?: string; linux: { seccomp?: SeccompProfile } };
  delete copy.ociVersion;
  // skiff leaves out the x32 ABI (see seccomp.ts): one architecture less for runc to compile.
  if (copy.linux.seccomp?.architectures?.join() === 'SCMP_ARCH_X86_64,SCMP_ARCH_X86')
    copy.linux.seccomp.architectures.push('SCMP_ARCH_X32');
  return copy;
}

test('default spec matches what dockerd generates for docker run busybox', async (t) => {
  const spec = buildOciSpec(dockerRunInput(), HOST);
  t.deepEqual(withoutDesignedDifferences(spec), await dockerFixture());
  t.is(spec.ociVersion, '1.0.2');
  // It must survive the trip to config.json unchanged (no undefined, no BigInt, no Infinity).
  t.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
});

test("default capabilities are docker's 14 (CapEff 00000000a80425fb)", (t) => {
  const bits = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31];
  t.is(bits.reduce((m, b) => m + 2 ** b, 0).toString(16), 'a80425fb');
  t.is(DEFAULT_CAPABILITIES.length, 14);
  const spec = buildOciSpec(dockerRunInput(), HOST);
  t.deepEqual(spec.process.capabilities.effective, [...DEFAULT_CAPABILITIES]);
});

test('seccomp: deny by default, allow-list follows capabilities, arch and kernel like moby', (t) => {
  const spec = buildOciSpec(dockerRunInput(), HOST);
  const seccomp = spec.linux.seccomp;
  if (!seccomp?.syscalls) return t.fail('no seccomp profile');
  t.is(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
  t.is(seccomp.defaultErrnoRet, 1);
  const allowed = (p: SeccompProfile) =>
    new Set((p.syscalls ?? []).filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names));
  const base = allowed(seccomp);
  for (const name of ['read', 'execve', 'clone', 'ptrace', 'arch_prctl', 'chroot']) {
    t.is(base.has(name), name !== 'clone', name);
  }
  for (const name of ['mount', 'unshare', 'setns', 'reboot', 'bpf', 'init_module', 'io_uring_setup', 'kexec_load'])
    t.false(base.has(name), name);
  t.truthy(seccomp.syscalls.find((s) => s.names.includes('clone3') && s.errnoRet === 38));
  t.deepEqual(
    seccomp.syscalls.filter((s) => s.names.includes('clone')).map((s) => s.args),
    [[{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }]],
  );

  const admin = defaultSeccompProfile(tweakCapabilities(['SYS_ADMIN'], []), 'x64', '6.1.0');
  t.true(allowed(admin).has('mount'));
  t.true(allowed(admin).has('clone'));
  t.false((admin.syscalls ?? []).some((s) => s.names.includes('clone3') && s.action !== 'SCMP_ACT_ALLOW'));
  t.false(allowed(admin).has('reboot'));
  // No CAP_SYS_CHROOT: no chroot. An old kernel: no ptrace.
  t.false(allowed(defaultSeccompProfile(tweakCapabilities([], ['SYS_CHROOT']), 'x64', '6.1.0')).has('chroot'));
  t.false(allowed(defaultSeccompProfile(DEFAULT_CAPABILITIES, 'x64', '4.4.0')).has('ptrace'));

  const arm = defaultSeccompProfile(DEFAULT_CAPABILITIES, 'arm64', '6.1.0');
  t.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.true(allowed(arm).has('set_tls'));
  t.false(allowed(arm).has('arch_prctl'));
  const s390 = defaultSeccompProfile(DEFAULT_CAPABILITIES, 's390x', '6.1.0');
  t.deepEqual(
    s390.syscalls?.filter((s) => s.names.includes('clone')).map((s) => s.args?.[0]?.index),
    [1],
  );
});

test('custom seccomp profiles in docker format; unconfined; privileged runs unconfined', (t) => {
  const profile = parseSeccompProfile(
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }],
      syscalls: [
        { name: 'mkdir', action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_FOWNER'] } },
      ],
    }),
  );
  const spec = buildOciSpec(dockerRunInput({ seccomp: profile }), HOST);
  t.deepEqual(spec.linux.seccomp, {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
  });
  t.is(buildOciSpec(dockerRunInput({ seccomp: 'unconfined' }), HOST).linux.seccomp, undefined);
  t.is(buildOciSpec(dockerRunInput({ privileged: true, seccomp: profile }), HOST).linux.seccomp, undefined);
  for (const [text, message] of [
    ['{', /invalid seccomp profile/],
    ['[]', /not a JSON object/],
    ['{"defaultAction":"SCMP_ACT_NOPE"}', /unknown action/],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","errnoRet":-1}]}',
      /errno/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}',
      /index/,
    ],
    ['{"defaultAction":"SCMP_ACT_ALLOW","architectures":["A"],"archMap":[{"architecture":"B"}]}', /archMap/],
  ] as const) {
    t.throws(() => parseSeccompProfile(text), { instanceOf: InvalidParameterError, message }, text);
  }
});

test('--init, --tmpfs, --device, no-new-privileges, systempaths=unconfined', (t) => {
  const spec = buildOciSpec(
    dockerRunInput({
      init: true,
      tmpfs: { '/run': '', '/tmp': 'exec,size=1m,mode=1777' },
      devices: [
        { host: '/dev/fuse', container: '/dev/fuse', access: 'rwm' },
        { host: '/dev/snd', container: '/dev/audio', access: 'r' },
      ],
      noNewPrivileges: true,
      unmaskSystemPaths: true,
    }),
    HOST,
  );
  t.deepEqual(spec.process.args, ['/sbin/docker-init', '--', 'echo', 'hello']);
  t.deepEqual(
    spec.mounts.find((m) => m.destination === '/sbin/docker-init'),
    { destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] },
  );
  t.deepEqual(spec.mounts.find((m) => m.destination === '/run')?.options, ['noexec', 'nosuid', 'nodev', 'rprivate']);
  t.deepEqual(spec.mounts.find((m) => m.destination === '/tmp')?.options, [
    'nosuid',
    'nodev',
    'rprivate',
    'exec',
    'size=1m',
    'mode=1777',
  ]);
  t.deepEqual(
    spec.linux.devices?.map((d) => d.path),
    ['/dev/fuse', '/dev/audio/timer'],
  );
  // The allow for fuse comes after the default deny of 10:229, so it wins.
  t.deepEqual(spec.linux.resources.devices.slice(-2), [
    { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
    { allow: true, type: 'c', major: 116, minor: 33, access: 'r' },
  ]);
  t.true(spec.process.noNewPrivileges);
  t.is(spec.linux.maskedPaths, undefined);
  t.is(spec.linux.readonlyPaths, undefined);
  t.truthy(spec.linux.seccomp);
  t.throws(() => buildOciSpec(dockerRunInput({ init: true }), { ...HOST, initBinary: () => undefined }), {
    message: /no init binary/,
  });
  t.throws(() => buildOciSpec(dockerRunInput({ tmpfs: { '/etc/hosts': '' } }), HOST), {
    message: /Duplicate mount point/,
  });
  t.throws(
    () => buildOciSpec(dockerRunInput({ devices: [{ host: '/dev/nope', container: '/x', access: 'r' }] }), HOST),
    {
      instanceOf: InvalidParameterError,
    },
  );
});

test('--pid/--ipc/--uts host share the host namespaces; --ipc none has no /dev/shm', (t) => {
  const spec = buildOciSpec(dockerRunInput({ pidMode: 'host', ipcMode: 'host', utsMode: 'host' }), HOST);
  t.deepEqual(
    spec.linux.namespaces.map((n) => n.type),
    ['mount', 'network'],
  );
  t.is(spec.hostname, '');
  t.deepEqual(
    spec.mounts.find((m) => m.destination === '/dev/shm'),
    {
      destination: '/dev/shm',
      type: 'bind',
      source: '/dev/shm',
      options: ['rbind', 'rprivate'],
    },
  );
  const none = buildOciSpec(dockerRunInput({ ipcMode: 'none' }), HOST);
  t.false(none.mounts.some((m) => m.destination === '/dev/shm'));
  t.true(none.linux.namespaces.some((n) => n.type === 'ipc'));
});

test('--pid/--ipc container:<name> join the donor task namespaces by path', (t) => {
  const spec = buildOciSpec(
    dockerRunInput({ pidNamespacePath: '/proc/42/ns/pid', ipcNamespacePath: '/proc/42/ns/ipc' }),
    HOST,
  );
  t.deepEqual(
    spec.linux.namespaces.filter((n) => n.type === 'pid' || n.type === 'ipc'),
    [
      { type: 'pid', path: '/proc/42/ns/pid' },
      { type: 'ipc', path: '/proc/42/ns/ipc' },
    ],
  );
  t.throws(() => buildOciSpec(dockerRunInput({ pidNamespacePath: 'proc/42/ns/pid' }), HOST), {
    instanceOf: InvalidParameterError,
  });
});

test("host network drops the network namespace and docker's sysctls; new creates one", (t) => {
  const host = buildOciSpec(dockerRunInput({ network: { mode: 'host' } }), HOST);
  t.deepEqual(
    host.linux.namespaces.map((n) => n.type),
    ['mount', 'uts', 'pid', 'ipc'],
  );
  t.is(host.linux.sysctl, undefined);
  const fresh = buildOciSpec(dockerRunInput({ network: { mode: 'new' } }), HOST);
  t.deepEqual(fresh.linux.namespaces[1], { type: 'network' });
});

test('cgroup namespace only on a pure cgroup v2 host', (t) => {
  const v2 = buildOciSpec(dockerRunInput(), { ...HOST, cgroupV2: true });
  t.deepEqual(v2.linux.namespaces.at(-1), { type: 'cgroup' });
  t.false(buildOciSpec(dockerRunInput(), HOST).linux.namespaces.some((n) => n.type === 'cgroup'));
});

test('cap-add / cap-drop follow moby TweakCapabilities', (t) => {
  t.deepEqual(tweakCapabilities(['net_admin'], ['CAP_MKNOD', 'setuid']), [
    ...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_MKNOD' && c !== 'CAP_SETUID'),
    'CAP_NET_ADMIN',
  ]);
  t.deepEqual(tweakCapabilities(['CHOWN'], ['ALL']), ['CAP_CHOWN']);
  t.true(tweakCapabilities(['ALL'], ['NET_ADMIN']).includes('CAP_SYS_ADMIN'));
  t.false(tweakCapabilities(['ALL'], ['NET_ADMIN']).includes('CAP_NET_ADMIN'));
  t.throws(() => buildOciSpec(dockerRunInput({ capAdd: ['CAP_FOO'] }), HOST), {
    instanceOf: InvalidParameterError,
    message: 'invalid CapAdd: unknown capability: "CAP_FOO"',
  });
  const spec = buildOciSpec(dockerRunInput({ capAdd: null, capDrop: null }), HOST);
  t.is(spec.process.capabilities.bounding.length, 14);
});

test('privileged lifts masks, read-only sysfs and the device cgroup, adds host devices, no seccomp', (t) => {
  const spec = buildOciSpec(dockerRunInput({ privileged: true }), HOST);
  t.is(spec.linux.maskedPaths, undefined);
  t.is(spec.linux.readonlyPaths, undefined);
  t.is(spec.linux.seccomp, undefined);
  t.deepEqual(spec.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  t.deepEqual(spec.linux.devices?.[0]?.path, '/dev/null');
  t.false(spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
  t.false(spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options?.includes('ro'));
  t.true(spec.process.capabilities.effective.includes('CAP_SYS_ADMIN'));
});

test('read-only rootfs: root and non-special mounts read-only, /etc files too', (t) => {
  const spec = buildOciSpec(dockerRunInput({ readonlyRootfs: true }), HOST);
  t.true(spec.root.readonly);
  t.deepEqual(spec.mounts.find((m) => m.destination === '/etc/hosts')?.options, ['rbind', 'ro', 'rprivate']);
  t.false(spec.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('ro'));
  t.true(spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
});

test('binds: parents before children, override default mounts, validated', (t) => {
  const spec = buildOciSpec(
    dockerRunInput({
      binds: [
        { source: '/srv/data/sub', destination: '/data/sub', readonly: true },
        { source: '/srv/data', destination: '/data/', readonly: false },
        { source: '/srv/shm', destination: '/dev/shm', readonly: false },
      ],
      shmSize: 1 << 20,
    }),
    HOST,
  );
  const dests = spec.mounts.map((m) => m.destination);
  t.true(dests.indexOf('/data') < dests.indexOf('/data/sub'));
  t.is(dests.filter((d) => d === '/dev/shm').length, 1);
  t.deepEqual(
    spec.mounts.find((m) => m.destination === '/dev/shm'),
    {
      destination: '/dev/shm',
      type: 'bind',
      source: '/srv/shm',
      options: ['rbind', 'rprivate'],
    },
  );
  t.deepEqual(spec.mounts.find((m) => m.destination === '/data/sub')?.options, ['rbind', 'ro', 'rprivate']);

  const small = buildOciSpec(dockerRunInput({ shmSize: 1 << 20 }), HOST);
  t.true(small.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=1048576'));

  for (const binds of [
    [{ source: 'relative', destination: '/x', readonly: false }],
    [{ source: '/x', destination: 'relative', readonly: false }],
    [{ source: '/x', destination: '/', readonly: false }],
    [
      { source: '/x', destination: '/y', readonly: false },
      { source: '/z', destination: '/y', readonly: false },
    ],
  ]) {
    t.throws(() => buildOciSpec(dockerRunInput({ binds }), HOST), { instanceOf: InvalidParameterError });
  }
});

test("ulimits are clamped to the daemon's own hard limits", (t) => {
  const spec = buildOciSpec(
    dockerRunInput({
      ulimits: [
        { name: 'nofile', soft: 1024, hard: 1048576 },
        { name: 'nproc', soft: -1, hard: -1 },
        { name: 'core', soft: 0, hard: 0 },
      ],
    }),
    HOST,
  );
  t.deepEqual(spec.process.rlimits, [
    { type: 'RLIMIT_NOFILE', hard: 20000, soft: 1024 },
    { type: 'RLIMIT_NPROC', hard: Number.MAX_SAFE_INTEGER, soft: Number.MAX_SAFE_INTEGER },
    { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
  ]);
  const big = buildOciSpec(dockerRunInput({ ulimits: [{ name: 'nofile', soft: 65536, hard: 65536 }] }), HOST);
  t.deepEqual(big.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  t.throws(() => buildOciSpec(dockerRunInput({ ulimits: [{ name: 'bogus', soft: 1, hard: 1 }] }), HOST), {
    instanceOf: InvalidParameterError,
    message: 'invalid ulimit type: bogus',
  });
  t.throws(() => buildOciSpec(dockerRunInput({ ulimits: [{ name: 'nofile', soft: 2, hard: 1 }] }), HOST), {
    instanceOf: InvalidParameterError,
  });
});

test('parseProcLimits reads hard limits', (t) => {
  const text = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max open files            20000                20000                files     ',
    'Max processes             95853                95853                processes ',
  ].join('\n');
  t.deepEqual(parseProcLimits(text), {
    RLIMIT_CPU: Number.POSITIVE_INFINITY,
    RLIMIT_NOFILE: 20000,
    RLIMIT_NPROC: 95853,
  });
});

test('bad input gets a clear error', (t) => {
  const bad: Array<[Partial<OciSpecInput>, RegExp]> = [
    [{ args: [] }, /No command specified/],
    [{ cwd: 'work' }, /working directory 'work' is invalid/],
    [{ rootfs: 'rel' }, /rootfs must be an absolute path/],
    [{ network: { mode: 'path', path: 'netns' } }, /network namespace path/],
    [{ oomScoreAdj: 5000 }, /range for oom score adj/],
    [{ shmSize: -1 }, /SHM size/],
    [{ etcFiles: { hosts: 'hosts' } }, /source of \/etc\/hosts/],
  ];
  for (const [over, message] of bad) {
    t.throws(
      () => buildOciSpec(dockerRunInput(over), HOST),
      { instanceOf: InvalidParameterError, message },
      String(message),
    );
  }
});

test('terminal and thermal-throttle masks are set when asked for / present', (t) => {
  const spec = buildOciSpec(dockerRunInput({ terminal: true }), {
    ...HOST,
    thermalThrottlePaths: ['/sys/devices/system/cpu/cpu0/thermal_throttle'],
  });
  t.true(spec.process.terminal);
  t.is(spec.linux.maskedPaths?.at(-1), '/sys/devices/system/cpu/cpu0/thermal_throttle');
});
