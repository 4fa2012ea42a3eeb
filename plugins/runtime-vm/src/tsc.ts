import { execFile } from 'node:child_process';

/**
 * The host's TSC frequency in kHz, as `bin` (guest/host-tsc.c) measures it; undefined where the
 * TSC is not invariant or the measurement fails (the guest kernel then calibrates it itself).
 */
export function hostTscKHz(bin: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile(bin, { timeout: 5000 }, (err, stdout) => {
      const khz = Number(stdout.trim());
      resolve(!err && Number.isSafeInteger(khz) && khz > 0 ? khz : undefined);
    });
  });
}
