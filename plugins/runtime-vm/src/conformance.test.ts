import { existsSync } from 'node:fs';
import { runtimeSuite } from '@skiff/core/testkit';
import test from 'ava';
import { DEFAULT_ASSETS_DIR, findAssets } from './assets.js';
import { VmRuntime } from './vm-runtime.js';
import { defaultFirmware } from './vm-config.js';

const assets = await findAssets(DEFAULT_ASSETS_DIR);
const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

function skipReason(): string | undefined {
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed';
  if (!existsSync(VIRTIOFSD)) return 'virtiofsd is not installed';
  if (!assets) return `no VM assets in ${DEFAULT_ASSETS_DIR} (run skiff-vm-assets)`;
  return undefined;
}

// One VM at a time: each boots a kernel under TCG on a shared machine.
runtimeSuite(
  test.serial as typeof test,
  'vm',
  async (stateDir) =>
    new VmRuntime({
      stateDir,
      assets: assets!,
      qemu: '/usr/bin/qemu-system-x86_64',
      virtiofsd: VIRTIOFSD,
      share: 'virtiofs',
      firmware: defaultFirmware(),
      // The probe costs seconds per runtime; these tests only need a VM that boots.
      accel: 'tcg',
      memoryMiB: 256,
      cpus: 1,
    }),
  { skip: skipReason() },
);
