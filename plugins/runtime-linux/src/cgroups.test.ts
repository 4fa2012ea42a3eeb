import test from 'ava';
import {
  parseBlkio,
  parseIoStat,
  parseMountinfo,
  parseNetDev,
  parseProcCgroup,
  parseProcStat,
  resolveCgroup,
} from './cgroups.js';

const HYBRID_MOUNTINFO = `25 30 0:23 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:24 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:25 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
29 25 0:27 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
30 25 0:28 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
31 25 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
32 25 0:30 /sub /mnt/my\\040cg rw,relatime - cgroup cgroup rw,blkio`;

const HYBRID_PROC = `9:name=systemd:/
4:memory:/skiff/abc
3:pids:/skiff/abc
2:cpuacct:/skiff/abc
1:cpu:/skiff/abc
5:blkio:/sub/skiff/abc
0::/skiff/abc`;

test('mountinfo: v1 controllers, named hierarchies, v2, escaped paths and subtree roots', (t) => {
  const h = parseMountinfo(HYBRID_MOUNTINFO);
  t.is(h.length, 7);
  t.deepEqual(h[0], { root: '/', mountPoint: '/sys/fs/cgroup/cpu', controllers: ['cpu'], v2: false });
  t.deepEqual(h[4]!.controllers, ['name=systemd']);
  t.true(h[5]!.v2);
  t.deepEqual(h[6], { root: '/sub', mountPoint: '/mnt/my cg', controllers: ['blkio'], v2: false });
});

test('a hybrid host resolves to v1 directories per controller', (t) => {
  const cg = resolveCgroup(parseMountinfo(HYBRID_MOUNTINFO), HYBRID_PROC);
  t.is(cg.version, 1);
  t.is(cg.v1.get('memory'), '/sys/fs/cgroup/memory/skiff/abc');
  t.is(cg.v1.get('cpuacct'), '/sys/fs/cgroup/cpuacct/skiff/abc');
  t.is(cg.v1.get('blkio'), '/mnt/my cg/skiff/abc');
  t.is(cg.unified, '/sys/fs/cgroup/unified/skiff/abc');
});

test('a pure v2 host resolves to the unified directory', (t) => {
  const cg = resolveCgroup(
    parseMountinfo('30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate'),
    '0::/skiff/abc\n',
  );
  t.is(cg.version, 2);
  t.is(cg.unified, '/sys/fs/cgroup/skiff/abc');
  t.is(cg.v1.size, 0);
  t.deepEqual(parseProcCgroup('3:cpu,cpuacct:/x\n'), [{ controllers: ['cpu', 'cpuacct'], path: '/x' }]);
});

test('blkio, io.stat, /proc/stat and net/dev', (t) => {
  t.deepEqual(parseBlkio('8:0 Read 4096\n8:0 Write 0\nTotal 4096\n'), [
    { major: 8, minor: 0, op: 'Read', value: 4096 },
    { major: 8, minor: 0, op: 'Write', value: 0 },
  ]);
  t.deepEqual(parseIoStat('259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n'), {
    bytes: [
      { major: 259, minor: 0, op: 'read', value: 10 },
      { major: 259, minor: 0, op: 'write', value: 20 },
    ],
    ios: [
      { major: 259, minor: 0, op: 'read', value: 1 },
      { major: 259, minor: 0, op: 'write', value: 2 },
    ],
  });
  t.deepEqual(parseProcStat('cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 1 1 1 1 1 1\ncpu1 1 1 1 1 1 1 1\nintr 5\n'), {
    systemUsage: 28 * 10_000_000,
    onlineCpus: 2,
  });
  const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1016      12    0    1    0     0          0         0      200       3    0    0    0     0       0          0`;
  t.deepEqual(parseNetDev(dev), {
    eth0: {
      rx_bytes: 1016,
      rx_packets: 12,
      rx_errors: 0,
      rx_dropped: 1,
      tx_bytes: 200,
      tx_packets: 3,
      tx_errors: 0,
      tx_dropped: 0,
    },
  });
});
