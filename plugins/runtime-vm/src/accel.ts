import { spawn } from 'node:child_process';

/**
 * Whether a guest boots under `accel` within `timeoutMs`: boots the kernel and initramfs with
 * `skiff.probe` on the command line (the agent powers off at once). /dev/kvm can exist while
 * guests hang under it, so only a boot tells.
 */
export function bootsWith(
  accel: string,
  a: { qemu: string; kernel: string; initrd: string; firmware?: string },
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(
      a.qemu,
      [
        '-nodefaults',
        '-no-user-config',
        '-nographic',
        '-no-reboot',
        '-accel',
        accel,
        '-cpu',
        accel === 'kvm' ? 'host' : 'max',
        '-m',
        '128',
        ...(a.firmware ? ['-bios', a.firmware] : []),
        '-kernel',
        a.kernel,
        '-initrd',
        a.initrd,
        '-append',
        'quiet panic=-1 skiff.probe',
      ],
      { stdio: 'ignore' },
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => resolve(false));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

/**
 * The accelerator to run VMs with: `setting` when it names one (kvm, tcg), else (auto) KVM when
 * a probe guest boots with it, TCG otherwise. macOS (HVF) is not wired yet.
 */
export async function pickAccel(
  setting: string,
  a: { qemu: string; kernel: string; initrd: string; firmware?: string },
  probeMs = 8000,
): Promise<string> {
  if (setting !== 'auto') return setting;
  return (await bootsWith('kvm', a, probeMs)) ? 'kvm' : 'tcg';
}
