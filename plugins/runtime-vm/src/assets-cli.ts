#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { buildAssets, DEFAULT_ASSETS_DIR } from './assets.js';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  process.stdout.write(`Usage: skiff-vm-assets [--dir DIR] [--force]

Builds the guest kernel and initramfs for the vm runtime (default dir ${DEFAULT_ASSETS_DIR}).
`);
} else {
  const a = await buildAssets(values.dir ?? DEFAULT_ASSETS_DIR, {
    force: values.force ?? false,
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(`${JSON.stringify(a)}\n`);
}
