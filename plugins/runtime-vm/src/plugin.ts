import { existsSync } from 'node:fs';
import { definePlugin } from '@skiff/core/plugin-api';
import { DEFAULT_ASSETS_DIR, findAssets } from './assets.js';
import { defaultShareKind, SHARE_KINDS, type ShareKind } from './share.js';
import { defaultFirmware } from './vm-config.js';
import { VmRuntime } from './vm-runtime.js';

export { buildAssets, DEFAULT_ASSETS_DIR, findAssets, type VmAssets } from './assets.js';
export { defaultFirmware } from './vm-config.js';
export { VmRuntime, type VmRuntimeOptions } from './vm-runtime.js';

const VIRTIOFSD = ['/usr/lib/qemu/virtiofsd', '/usr/libexec/virtiofsd'];

function setting(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function numberSetting(v: unknown, fallback: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

function which(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':'))
    if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
  return undefined;
}

function firmware(v: unknown): string | undefined {
  const s = setting(v);
  if (s === 'default') return undefined;
  return s ?? defaultFirmware();
}

/**
 * Settings (plugin-config `vm`): `assets` (dir built by skiff-vm-assets), `qemu`, `virtiofsd`,
 * `firmware` (qemu's -bios; `default` for SeaBIOS), `conmon`, `accel` (auto | kvm | hvf | tcg),
 * `share` (auto | virtiofs | 9p: how host directories reach the guest; auto is virtio-fs on Linux,
 * 9p elsewhere), `memory` (MiB), `cpus`.
 */
export default definePlugin({
  apiVersion: 1,
  kind: 'runtime',
  name: 'vm',
  async register(r) {
    if (process.platform !== 'linux') r.skip('the vm runtime runs on Linux hosts only for now (macOS/HVF untested)');
    const qemu = setting(r.settings.qemu) ?? which('qemu-system-x86_64');
    if (!qemu) r.skip('qemu-system-x86_64 not found (Debian package qemu-system-x86)');
    const shareSetting = setting(r.settings.share) ?? 'auto';
    const share = (shareSetting === 'auto' ? defaultShareKind() : shareSetting) as ShareKind;
    if (!SHARE_KINDS.includes(share)) r.skip(`share ${shareSetting}: not one of auto, ${SHARE_KINDS.join(', ')}`);
    const virtiofsd = setting(r.settings.virtiofsd) ?? VIRTIOFSD.find((p) => existsSync(p));
    if (share === 'virtiofs' && !virtiofsd) r.skip('virtiofsd not found (Debian package qemu-system-common)');
    const dir = setting(r.settings.assets) ?? DEFAULT_ASSETS_DIR;
    const assets = await findAssets(dir);
    if (!assets) r.skip(`no VM kernel and initramfs in ${dir}: run skiff-vm-assets`);
    if (!assets!.shares.includes(share))
      r.skip(
        `the guest kernel in ${dir} has no ${share} modules: run skiff-vm-assets --dir ${dir} --kernel-package linux-image-amd64`,
      );
    r.provide(
      (opts) =>
        new VmRuntime({
          stateDir: r.paths.state,
          assets: assets!,
          qemu: qemu!,
          virtiofsd,
          share,
          firmware: firmware(r.settings.firmware),
          conmon: setting(r.settings.conmon),
          accel: setting(opts.accel) ?? setting(r.settings.accel) ?? 'auto',
          memoryMiB: numberSetting(r.settings.memory, 256),
          cpus: numberSetting(r.settings.cpus, 1),
          log: r.log,
        }),
    );
  },
});
