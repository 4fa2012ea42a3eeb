// Which plugin packages this host can run: a store plugin must declare the @skiff/core versions
// it works with as a peerDependency range (npm's own convention), and this host must be in it.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { PluginLoadError } from './plugin-package.js';

/** The @skiff/core package directory of this host (dist/plugins/ → the package root). */
export const hostCoreDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cachedVersion: string | undefined;

/** This host's @skiff/core version. */
export function hostVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(join(hostCoreDir, 'package.json'), 'utf8')) as { version: string })
    .version;
  return cachedVersion;
}

/** Throws PluginLoadError unless `pkg` declares a @skiff/core peerDependency range `version` satisfies. */
export function checkHostRange(packageName: string, pkg: Record<string, unknown>, version = hostVersion()): string {
  const peers = pkg.peerDependencies as Record<string, unknown> | undefined;
  const range = peers && typeof peers === 'object' ? peers['@skiff/core'] : undefined;
  if (typeof range !== 'string') {
    throw new PluginLoadError(
      packageName,
      'package.json declares no peerDependencies["@skiff/core"] range (the skiff versions it works with)',
    );
  }
  if (semver.validRange(range) === null) {
    throw new PluginLoadError(packageName, `invalid @skiff/core range ${JSON.stringify(range)}`);
  }
  if (!semver.satisfies(version, range, { includePrerelease: true })) {
    throw new PluginLoadError(packageName, `needs @skiff/core ${range}; this skiffd is ${version}`);
  }
  return range;
}
