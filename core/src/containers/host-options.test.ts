import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import {
  MAX_LABELS_BYTES,
  mergeTmpfsOptions,
  ociInputFromHostConfig,
  parseHostOptions,
  parseSecurityOpt,
  validateProcessConfig,
} from './host-options.js';

test('what the docker CLI sends by default gives dockerd defaults', (t) => {
  const o = parseHostOptions(
    { IpcMode: '', PidMode: '', UTSMode: '', ShmSize: 0, Init: null, SecurityOpt: null, Ulimits: null },
    'default',
  );
  t.deepEqual(o, {
    Tmpfs: {},
    Devices: [],
    Init: null,
    SecurityOpt: [],
    PidMode: '',
    IpcMode: 'private',
    UTSMode: '',
    Sysctls: {},
    Ulimits: [],
    ShmSize: 67108864,
    OomScoreAdj: 0,
  });
});

test('options become buildOciSpec input', (t) => {
  const input = ociInputFromHostConfig(
    {
      Tmpfs: { '/run/': 'size=1m' },
      Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '', CgroupPermissions: '' }],
      Init: true,
      SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined', 'systempaths=unconfined', 'label=disable'],
      PidMode: 'host',
      IpcMode: 'none',
      UTSMode: 'host',
      Sysctls: { 'net/ipv4/ip_forward': '1', 'kernel.shmmax': '1024', 'fs.mqueue.msg_max': '10' },
      Ulimits: [{ Name: 'NOFILE', Soft: 10, Hard: -1 }],
      ShmSize: 1 << 20,
      OomScoreAdj: -500,
    },
    'default',
  );
  t.like(input, {
    tmpfs: { '/run': 'size=1m' },
    devices: [{ host: '/dev/fuse', container: '/dev/fuse', access: 'rwm' }],
    init: true,
    noNewPrivileges: true,
    seccomp: 'unconfined',
    unmaskSystemPaths: true,
    pidMode: 'host',
    ipcMode: 'none',
    utsMode: 'host',
    sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1024', 'fs.mqueue.msg_max': '10' },
    ulimits: [{ name: 'nofile', soft: 10, hard: -1 }],
    shmSize: 1 << 20,
    oomScoreAdj: -500,
  });
});

test('bad options are InvalidParameterErrors with a clear message', (t) => {
  const cases: Array<[Record<string, unknown>, RegExp, string?]> = [
    [{ Tmpfs: { '/': '' } }, /root cannot be a tmpfs/],
    [{ Tmpfs: { '/a/../b': '' } }, /'\.\.' is not allowed/],
    [{ Tmpfs: ['x'] }, /Tmpfs must be an object/],
    [{ Devices: {} }, /Devices must be a list/],
    [{ Devices: [{ PathOnHost: 'dev/null' }] }, /absolute path/],
    [{ SecurityOpt: ['no-new-privileges=maybe'] }, /invalid --security-opt/],
    [{ SecurityOpt: ['systempaths=confined'] }, /invalid --security-opt/],
    [{ SecurityOpt: 'no-new-privileges' }, /SecurityOpt must be a list/],
    [{ SecurityOpt: ['seccomp=' + 'x'.repeat(2 << 20)] }, /larger than/],
    [{ PidMode: 'container:' }, /invalid PidMode: "container:"/],
    [{ IpcMode: 'container:a b' }, /invalid IpcMode/],
    [{ UTSMode: 'container:abc' }, /invalid UTSMode/],
    [{ IpcMode: 'weird' }, /invalid IpcMode/],
    [{ Sysctls: { 'kernel.shmmax': 1 } }, /invalid value/],
    [{ Sysctls: { 'kernel.shmmax': '1' }, IpcMode: 'host' }, /shared with the host/],
    [{ Sysctls: { 'net.ipv4.ip_forward': '1' } }, /host network mode/, 'host'],
    [{ Sysctls: { 'vm.swappiness': '1' } }, /not namespaced/],
    [{ Sysctls: { '../../x': '1' } }, /invalid sysctl name/],
    [{ Ulimits: [{ Name: 'nofile', Soft: 1.5, Hard: 2 }] }, /must be an integer/],
    [{ Ulimits: [{ Name: 'nofile', Soft: 2 ** 64, Hard: 2 ** 64 }] }, /must be an integer/],
    [{ Ulimits: Array.from({ length: 65 }, () => ({ Name: 'nofile', Soft: 1, Hard: 1 })) }, /Ulimits must be a list/],
    [{ ShmSize: 'big' }, /invalid ShmSize/],
    [{ ShmSize: 2 ** 41 }, /invalid ShmSize/],
    [{ OomScoreAdj: -1001 }, /OomScoreAdj/],
    [{ CapDrop: ['FLY'] }, /unknown capability/],
  ];
  for (const [hc, message, net] of cases) {
    t.throws(
      () => parseHostOptions(hc, net ?? 'default'),
      { instanceOf: InvalidParameterError, message },
      String(message),
    );
  }
  t.throws(() => parseHostOptions({ UTSMode: 'host' }, 'default', 'myhost'), { message: /Conflicting options/ });
});

test('--pid/--ipc container:<name> are kept for start to resolve; the spec input stays private', (t) => {
  const o = parseHostOptions({ PidMode: 'container:/web', IpcMode: 'container:db_1' }, 'default');
  t.is(o.PidMode, 'container:web');
  t.is(o.IpcMode, 'container:db_1');
  const input = ociInputFromHostConfig({ PidMode: 'container:web', IpcMode: 'container:db_1' }, 'default');
  t.is(input.pidMode, 'private');
  t.is(input.ipcMode, 'private');
  for (const m of ['shareable', 'private', 'none', 'host'] as const)
    t.is(parseHostOptions({ IpcMode: m }, 'default').IpcMode, m);
});

test('security options parse like dockerd', (t) => {
  t.deepEqual(parseSecurityOpt([]), { noNewPrivileges: false, seccomp: 'default', unmaskSystemPaths: false });
  t.true(parseSecurityOpt(['no-new-privileges']).noNewPrivileges);
  t.false(parseSecurityOpt(['no-new-privileges', 'no-new-privileges=false']).noNewPrivileges);
  t.is(parseSecurityOpt(['seccomp:unconfined']).seccomp, 'unconfined');
  const custom = parseSecurityOpt(['seccomp={"defaultAction":"SCMP_ACT_LOG","syscalls":[]}']).seccomp;
  t.like(custom, { defaultAction: 'SCMP_ACT_LOG' });
});

test('tmpfs options: later flags and keys win, like moby MergeTmpfsOptions', (t) => {
  t.deepEqual(mergeTmpfsOptions(['noexec', 'nosuid', 'nodev', 'rprivate', 'exec', 'size=1m', 'size=2m', 'shared']), [
    'nosuid',
    'nodev',
    'exec',
    'size=2m',
    'shared',
  ]);
});

test('the merged process config (image config is attacker input) is checked at create', (t) => {
  const ok: Parameters<typeof validateProcessConfig>[0] = { User: '', WorkingDir: '', Volumes: null, Labels: {} };
  t.is(validateProcessConfig({ ...ok, WorkingDir: '/srv//app/' }), '/srv/app');
  t.is(validateProcessConfig({ ...ok, User: 'postgres:999', Volumes: { '/var/lib/data': {} } }), '');
  const bad: Array<[Partial<typeof ok>, RegExp]> = [
    [{ User: '4294967296' }, /range 0-2147483647/],
    [{ User: 'root:4294967296' }, /range 0-2147483647/],
    [{ User: '-1' }, /range/],
    [{ User: 'a\0b' }, /invalid user/],
    [{ WorkingDir: '/proc/self/fd/7' }, /inside proc/],
    [{ WorkingDir: '/sys' }, /inside sys/],
    [{ WorkingDir: 'relative' }, /absolute path/],
    [{ WorkingDir: '/a/../../proc' }, /'\.\.' is not allowed/],
    [{ Volumes: { '/data/../../etc': {} } }, /'\.\.' is not allowed/],
    [{ Volumes: { '/': {} } }, /invalid volume path/],
    [{ Volumes: { '/dev/shm': {} } }, /invalid volume path/],
    [{ Labels: { big: 'x'.repeat(MAX_LABELS_BYTES) } }, /labels are too large/],
  ];
  for (const [over, message] of bad) {
    t.throws(
      () => validateProcessConfig({ ...ok, ...over }),
      { instanceOf: InvalidParameterError, message },
      JSON.stringify(over).slice(0, 80),
    );
  }
});
