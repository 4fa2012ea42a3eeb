import test from 'ava';
import { guestLimits, guestSpec, KERNEL_CMDLINE, qemuArgs, vmCpus, vmMemoryMiB, vmMounts } from './vm-config.js';

function pairs(buf: Buffer): string[][] {
  const parts = buf.toString('utf8').split('\0').slice(0, -1);
  const out: string[][] = [];
  for (let i = 0; i < parts.length; i += 2) out.push([parts[i]!, parts[i + 1]!]);
  return out;
}

test('guestSpec: the OCI process as NUL-separated pairs the agent reads', (t) => {
  const spec = guestSpec({
    process: {
      args: ['sh', '-c', 'echo "a b"\nnext'],
      env: ['PATH=/bin', 'X=1'],
      cwd: '/tmp',
      user: { uid: 1000, gid: 100, additionalGids: [10, 20] },
    },
    hostname: 'box',
    linux: { resources: { memory: { limit: 64 * 1024 * 1024 } } },
  });
  t.deepEqual(pairs(spec), [
    ['arg', 'sh'],
    ['arg', '-c'],
    ['arg', 'echo "a b"\nnext'],
    ['env', 'PATH=/bin'],
    ['env', 'X=1'],
    ['cwd', '/tmp'],
    ['uid', '1000'],
    ['gid', '100'],
    ['gid+', '10'],
    ['gid+', '20'],
    ['hostname', 'box'],
    ['limit', `memory.max ${64 * 1024 * 1024}`],
  ]);
  const masked = guestSpec({
    process: { args: ['true'] },
    linux: { maskedPaths: ['/proc/kcore', '/sys/firmware'], readonlyPaths: ['/proc/sys'] },
  });
  t.deepEqual(pairs(masked).slice(-3), [
    ['mask', '/proc/kcore'],
    ['mask', '/sys/firmware'],
    ['ropath', '/proc/sys'],
  ]);
  t.deepEqual(pairs(guestSpec({ process: { args: ['true'] } })), [
    ['arg', 'true'],
    ['cwd', '/'],
    ['uid', '0'],
    ['gid', '0'],
  ]);
});

test("vmMounts: directories shared, files copied, tmpfs made in the guest, the agent's own mounts left out", (t) => {
  const m = vmMounts(
    [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro'] },
      { destination: '/etc/hosts', type: 'bind', source: '/c/hosts', options: ['rbind', 'rprivate'] },
      { destination: '/data', type: 'bind', source: '/v/data', options: ['rbind'] },
      { destination: '/ro dir', source: '/h/ro', options: ['rbind', 'ro', 'nosuid'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'size=64m', 'mode=1777'] },
      { destination: '/bad\nname', type: 'bind', source: '/v/x', options: ['rbind'] },
    ],
    (p) => p !== '/c/hosts',
  );
  t.deepEqual(m.shares, [
    { tag: 'vol0', source: '/v/data', readonly: false },
    { tag: 'vol1', source: '/h/ro', readonly: true },
  ]);
  t.deepEqual(m.guest, ['share 0 vol0 /data', 'share 3 vol1 /ro dir', 'tmpfs 8 size=64m,mode=1777 /run']);
  t.deepEqual(m.files, [{ source: '/c/hosts', destination: '/etc/hosts' }]);
});

test('VM sizing: memory limit plus guest overhead, CPUs from the quota', (t) => {
  t.is(vmMemoryMiB(undefined, 256), 256);
  t.is(vmMemoryMiB(0, 256), 256);
  t.is(vmMemoryMiB(16 * 1024 * 1024, 256), 128);
  t.is(vmMemoryMiB(300 * 1024 * 1024, 256), 364);
  t.is(vmCpus(undefined, 1), 1);
  t.is(vmCpus({ quota: 200000, period: 100000 }, 1), 2);
  t.is(vmCpus({ quota: 150000, period: 100000 }, 1), 2);
  t.is(vmCpus({ quota: 50000 }, 1), 1);
});

test('qemuArgs: the accelerator, the sizes and the guest ports', (t) => {
  const c = {
    relay: '/r',
    kernel: '/k',
    initrd: '/i',
    qemu: '/q',
    virtiofsd: '/v',
    share: 'virtiofs' as const,
    accel: 'tcg',
    memoryMiB: 256,
    cpus: 1,
    monitor: '/m',
  };
  const args = qemuArgs(c, { rootfs: '/b/rootfs', memoryMiB: 364, cpus: 2 });
  t.is(args[0], '/q');
  const after = (flag: string) => args[args.indexOf(flag) + 1];
  t.is(after('-accel'), 'tcg');
  t.is(after('-cpu'), 'max');
  t.is(after('-m'), '364');
  t.is(after('-smp'), '2');
  t.true(args.includes('memory-backend-memfd,id=mem,size=364M,share=on'));
  t.false(args.some((a) => a.endsWith('name=stdin')));
  t.false(args.includes('-bios'), 'SeaBIOS unless a firmware is set');
  const qboot = qemuArgs({ ...c, firmware: '/qboot.rom' }, { rootfs: '/b/rootfs', memoryMiB: 256, cpus: 1 });
  t.is(qboot[qboot.indexOf('-bios') + 1], '/qboot.rom');
  t.true(qemuArgs(c, { rootfs: '/b/rootfs', memoryMiB: 256, cpus: 1, tty: true }).some((a) => a.endsWith('name=tty')));
  const shared = qemuArgs(c, {
    rootfs: '/b/rootfs',
    memoryMiB: 256,
    cpus: 1,
    shares: [{ tag: 'vol0', source: '/s', readonly: false }],
  });
  t.true(shared.includes('socket,id=rootfs,path=rootfs.sock'));
  t.true(shared.includes('socket,id=vol0,path=vol0.sock'));
  t.true(args.includes(`${KERNEL_CMDLINE} skiff.share=virtiofs`));
  const timed = qemuArgs({ ...c, tscKHz: 2596130 }, { rootfs: '/b/rootfs', memoryMiB: 256, cpus: 1 });
  t.true(timed.includes(`${KERNEL_CMDLINE} tsc_early_khz=2596130 skiff.share=virtiofs`), 'the measured TSC rate');
  t.true(shared.some((a) => a.startsWith('vhost-user-fs-pci,chardev=vol0,tag=vol0,addr=')));
  const slots = shared.filter((a) => a.includes(',addr=')).map((a) => a.split(',addr=')[1]);
  t.is(new Set(slots).size, slots.length, 'one PCI slot each');
  t.false(
    qemuArgs(c, { rootfs: '/b/rootfs', memoryMiB: 256, cpus: 1, tty: true, stdin: true }).some((a) =>
      a.endsWith('name=stdin'),
    ),
    'with a tty, stdin goes through it',
  );
  t.true(
    qemuArgs(c, { rootfs: '/b/rootfs', memoryMiB: 256, cpus: 1, stdin: true }).some((a) => a.endsWith('name=stdin')),
  );
  for (const port of ['stdout', 'stderr', 'status', 'ctl', 'exec'])
    t.true(
      args.some((a) => a.endsWith(`name=${port}`)),
      port,
    );
  t.is(
    qemuArgs({ ...c, accel: 'kvm' }, { rootfs: '/b/rootfs', memoryMiB: 256, cpus: 1 })[
      qemuArgs(c, { rootfs: '/b/rootfs', memoryMiB: 256, cpus: 1 }).indexOf('-cpu') + 1
    ],
    'host',
  );
});

test('qemuArgs with 9p: qemu serves the shares itself, plain guest memory, the agent told by the command line', (t) => {
  const c = {
    relay: '/r',
    kernel: '/k',
    initrd: '/i',
    qemu: '/q',
    share: '9p' as const,
    accel: 'hvf',
    memoryMiB: 256,
    cpus: 1,
    monitor: '/m',
  };
  const args = qemuArgs(c, {
    rootfs: '/b,1/rootfs',
    memoryMiB: 256,
    cpus: 1,
    shares: [{ tag: 'vol0', source: '/h/ro', readonly: true }],
  });
  t.true(args.includes('local,id=rootfs,path=/b,,1/rootfs,security_model=passthrough'));
  t.true(args.includes('local,id=vol0,path=/h/ro,security_model=passthrough,readonly=on'));
  t.true(args.some((a) => a.startsWith('virtio-9p-pci,fsdev=vol0,mount_tag=vol0,addr=')));
  t.false(args.some((a) => a.includes('vhost-user-fs') || a.includes('memory-backend-memfd')));
  t.true(args.includes(`${KERNEL_CMDLINE} skiff.share=9p`));
  t.is(args[args.indexOf('-cpu') + 1], 'host', 'a hardware accelerator passes the CPU through');
});

test('guestLimits: OCI resources as cgroup v2 files of the guest, converted as runc does', (t) => {
  t.deepEqual(
    guestLimits({
      memory: { limit: 128 * 1024 * 1024, reservation: 64 * 1024 * 1024 },
      cpu: { quota: 50000, period: 100000, shares: 512 },
      pids: { limit: 20 },
    }),
    [
      `memory.max ${128 * 1024 * 1024}`,
      `memory.low ${64 * 1024 * 1024}`,
      'pids.max 20',
      'cpu.max 50000 100000',
      'cpu.weight 20',
    ],
  );
  // docker update's "no limit" values.
  t.deepEqual(guestLimits({ memory: { limit: -1 }, pids: { limit: -1 }, cpu: { quota: -1 } }), [
    'memory.max max',
    'pids.max max',
    'cpu.max max 100000',
  ]);
  t.deepEqual(guestLimits({ cpu: { shares: 2 } }), ['cpu.weight 1']);
  t.deepEqual(guestLimits({ cpu: { shares: 262144 } }), ['cpu.weight 10000']);
  t.deepEqual(guestLimits({}), []);
});
