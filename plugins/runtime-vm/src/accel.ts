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
        accel === 'tcg' ? 'max' : 'host',
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

/** The hardware accelerators qemu has on a platform, in order of preference (TCG is the fallback). */
export function hardwareAccels(platform: NodeJS.Platform = process.platform): string[] {
  if (platform === 'linux') return ['kvm'];
  if (platform === 'darwin') return ['hvf'];
  return [];
}

/**
 * The accelerator to run VMs with: `setting` when it names one (kvm, hvf, tcg), else (auto) the
 * platform's first hardware accelerator a probe guest boots with, TCG otherwise.
 */
export async function pickAccel(
  setting: string,
  a: { qemu: string; kernel: string; initrd: string; firmware?: string },
  probeMs = 8000,
  platform: NodeJS.Platform = process.platform,
): Promise<string> {
  if (setting !== 'auto') return setting;
  for (const accel of hardwareAccels(platform)) if (await bootsWith(accel, a, probeMs)) return accel;
  return 'tcg';
}
