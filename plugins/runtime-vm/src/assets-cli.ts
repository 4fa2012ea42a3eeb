#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { buildAssets, DEFAULT_ASSETS_DIR, KERNEL_META_PACKAGE } from './assets.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    force: { type: 'boolean' },
    'kernel-package': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(`Usage: skiff-vm-assets [--dir DIR] [--kernel-package PKG] [--force]

Builds the guest kernel and initramfs for the vm runtime (default dir ${DEFAULT_ASSETS_DIR}).
The kernel comes from Debian's PKG (default ${KERNEL_META_PACKAGE}, which has virtio-fs but no
9p; linux-image-amd64 has both, for share=9p).
`);
} else {
  const a = await buildAssets(values.dir ?? DEFAULT_ASSETS_DIR, {
    force: values.force ?? false,
    kernelPackage: values['kernel-package'],
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${JSON.stringify(a)}\n`);
}
