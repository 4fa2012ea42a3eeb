import test from 'ava';
import { hardwareAccels, pickAccel } from './accel.js';
import { defaultShareKind, virtiofsdLines } from './share.js';

test('the platform picks the share and the accelerators: virtio-fs and KVM on Linux, 9p and HVF on macOS', (t) => {
  t.is(defaultShareKind('linux'), 'virtiofs');
  t.is(defaultShareKind('darwin'), '9p');
  t.deepEqual(hardwareAccels('linux'), ['kvm']);
  t.deepEqual(hardwareAccels('darwin'), ['hvf']);
  t.deepEqual(hardwareAccels('win32'), []);
});

test('auto falls back to TCG when no probe guest boots; a set accelerator is taken as it is', async (t) => {
  const a = { qemu: '/bin/false', kernel: '/k', initrd: '/i' };
  t.is(await pickAccel('auto', a, 1000, 'darwin'), 'tcg');
  t.is(await pickAccel('auto', a, 1000, 'linux'), 'tcg');
  t.is(await pickAccel('hvf', a, 1000, 'linux'), 'hvf');
});

test('the monitor starts a virtiofsd per virtio-fs share and none for 9p', (t) => {
  const shares = [
    { tag: 'rootfs', source: '/b/rootfs', readonly: false },
    { tag: 'vol0', source: '/h/a b', readonly: true },
  ];
  t.is(virtiofsdLines('virtiofs', shares), 'rootfs rw /b/rootfs\nvol0 ro /h/a b\n');
  t.is(virtiofsdLines('9p', shares), '');
});
