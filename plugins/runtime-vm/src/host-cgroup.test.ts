import test from 'ava';
import { cgroupMounts, makeCgroups } from './host-cgroup.js';

const HYBRID = [
  '25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd',
  '28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
  '29 25 0:26 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset',
  '30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
  '31 25 0:28 / /sys/fs/cgroup/devices rw,nosuid - cgroup cgroup rw,devices',
].join('\n');

test('the VM joins the v2 hierarchy and the v1 accounting ones, not cpuset or named ones', (t) => {
  t.deepEqual(cgroupMounts(HYBRID), ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/memory']);
  t.deepEqual(cgroupMounts('40 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw'), ['/sys/fs/cgroup']);
});

test('a cgroupsPath that would leave the hierarchy is refused', (t) => {
  t.deepEqual(makeCgroups('/skiff/../../etc', ['/nonexistent']), []);
  t.deepEqual(makeCgroups('relative/x', ['/nonexistent']), []);
});
