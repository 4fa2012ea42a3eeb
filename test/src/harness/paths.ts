import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: this file compiles to test/dist/harness/paths.js. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

export const skiffdBin = path.join(repoRoot, 'node_modules/.bin/skiffd');
export const skiffBin = path.join(repoRoot, 'node_modules/.bin/skiff');

/** The docker CLI: $SKIFF_DOCKER_CLI, else /usr/local/bin/docker, else `docker` from PATH. */
export function dockerCli(): string {
  const fromEnv = process.env.SKIFF_DOCKER_CLI;
  if (fromEnv) return fromEnv;
  return existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';
}

/** A Node 24 binary: the one running us (tests and scripts run under node_modules/.bin/node). */
export const nodeBin = process.execPath;
