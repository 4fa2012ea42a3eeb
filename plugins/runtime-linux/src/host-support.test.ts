import test from 'ava';
import { cgroupLayout } from './host-support.js';

const line = (id: number, mountpoint: string, fstype: string, opts = 'rw') =>
  `${id} 23 0:${id} / ${mountpoint} rw,relatime - ${fstype} ${fstype} ${opts}`;

test('cgroup layouts from mountinfo', (t) => {
  t.deepEqual(cgroupLayout([line(30, '/sys/fs/cgroup', 'cgroup2')].join('\n')), {
    mode: 'unified',
    v2Controllers: [],
  });
  t.is(
    cgroupLayout(
      [line(31, '/sys/fs/cgroup', 'tmpfs'), line(32, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory')].join('\n'),
    ).mode,
    'legacy',
  );
  t.is(
    cgroupLayout(
      [
        line(31, '/sys/fs/cgroup', 'tmpfs'),
        line(32, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
        line(41, '/nonexistent-skiff/unified', 'cgroup2'),
      ].join('\n'),
    ).mode,
    'legacy',
    'a cgroup2 mount outside /sys/fs/cgroup does not count',
  );
  const hybrid = cgroupLayout(
    [
      line(31, '/sys/fs/cgroup', 'tmpfs'),
      line(32, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
      line(41, '/sys/fs/cgroup/unified', 'cgroup2'),
    ].join('\n'),
  );
  t.is(hybrid.mode, 'hybrid');
});
