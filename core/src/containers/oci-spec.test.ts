import { readFile } from 'node:fs/promises';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { DEFAULT_CAPABILITIES, tweakCapabilities } from './capabilities.js';
import { buildOciSpec, type HostFacts, type OciSpec, type OciSpecInput, parseProcLimits } from './oci-spec.js';
import { defaultSeccompProfile } from './seccomp.js';

const ID = '3f0a6f2c9c1e5a8d7b4c2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b';
const CONTAINER_DIR = `/var/lib/docker/containers/${ID}`;

const HOST: HostFacts = {
  cgroupV2: false,
  thermalThrottlePaths: [],
  hardRlimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: Number.POSITIVE_INFINITY, RLIMIT_CORE: Number.POSITIVE_INFINITY },
  arch: 'x64',
  devices: () => [{ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }],
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
 * daemon/pkg/oci/defaults.go and daemon/oci_linux.go, cgroupfs driver, private IPC). Differences
 * by design: no AppArmor profile (skiff loads none), its own spec version, and a seccomp
 * profile that is a denylist (checked separately below).
 */
async function dockerFixture(): Promise<Record<string, unknown>> {
  const path = new URL('../../src/containers/testdata/docker-run-busybox.config.json', import.meta.url);
  const spec = JSON.parse(await readFile(path, 'utf8')) as { process: Record<string, unknown>; ociVersion?: string };
  delete spec.process.apparmorProfile;
  delete spec.ociVersion;
  return spec;
}

function withoutDesignedDifferences(spec: OciSpec): Record<string, unknown> {
  const copy = structuredClone(spec) as unknown as { linux: Record<string, unknown>; ociVersion?: string };
  delete copy.linux.seccomp;
  delete copy.ociVersion;
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

test('seccomp denylist blocks what docker blocks and follows granted capabilities', (t) => {
  const spec = buildOciSpec(dockerRunInput(), HOST);
  const seccomp = spec.linux.seccomp;
  if (!seccomp) return t.fail('no seccomp profile');
  t.is(seccomp.defaultAction, 'SCMP_ACT_ALLOW');
  t.deepEqual(seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const denied = seccomp.syscalls.filter((s) => !s.args && s.errnoRet === 1).flatMap((s) => s.names);
  for (const name of [
    'keyctl',
    'add_key',
    'request_key',
    'mount',
    'umount2',
    'unshare',
    'setns',
    'reboot',
    'swapon',
    'swapoff',
    'kexec_load',
    'init_module',
    'finit_module',
    'delete_module',
    'bpf',
    'perf_event_open',
    'userfaultfd',
    'open_by_handle_at',
    'pivot_root',
    'io_uring_setup',
  ]) {
    t.true(denied.includes(name), name);
  }
  t.false(denied.includes('read'));
  t.false(denied.includes('ptrace'), 'ptrace is allowed on kernels >= 4.8, as in docker');
  t.truthy(seccomp.syscalls.find((s) => s.names.includes('clone3') && s.errnoRet === 38));
  const cloneRules = seccomp.syscalls.filter((s) => s.names.includes('clone') && s.args);
  t.true(
    cloneRules.some((r) => r.args?.[0]?.value === 0x10000000),
    'clone(CLONE_NEWUSER) is denied',
  );

  const admin = defaultSeccompProfile(tweakCapabilities(['SYS_ADMIN'], []), 'x64');
  const adminDenied = admin.syscalls.flatMap((s) => s.names);
  t.false(adminDenied.includes('mount'));
  t.false(adminDenied.includes('clone3'));
  t.true(adminDenied.includes('keyctl'));
  t.true(adminDenied.includes('reboot'));
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
