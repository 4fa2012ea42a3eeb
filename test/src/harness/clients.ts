import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dockerCli, skiffBin } from './paths.js';
import { type RunResult, run } from './proc.js';

export interface ClientOptions {
  /** `unix://…` endpoint of the daemon. */
  host: string;
  stdin?: string | Buffer;
  /** Added to (and overriding) the client's environment. */
  env?: NodeJS.ProcessEnv;
  /** Default 5 min; the command is killed after it. */
  timeoutMs?: number;
}

/** The caller's environment without anything that would point a client at another daemon. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('DOCKER_') || k.startsWith('SKIFF_') || k === 'CONTAINER_HOST') continue;
    env[k] = v;
  }
  return env;
}

async function withTempConfig<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-client-'));
  try {
    await writeFile(path.join(dir, 'config.json'), '{}\n');
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the real docker CLI against `host` with an empty private DOCKER_CONFIG. */
export function docker(args: readonly string[], opts: ClientOptions): Promise<RunResult> {
  return withTempConfig((config) =>
    run(dockerCli(), args, {
      env: { ...cleanEnv(), DOCKER_HOST: opts.host, DOCKER_CONFIG: config, DOCKER_CLI_HINTS: 'false', ...opts.env },
      stdin: opts.stdin,
      timeoutMs: opts.timeoutMs,
    }),
  );
}

/** Runs the skiff CLI (node_modules/.bin/skiff) against `host` (via SKIFF_HOST). */
export function skiff(args: readonly string[], opts: ClientOptions): Promise<RunResult> {
  return withTempConfig((config) =>
    run(skiffBin, args, {
      env: { ...cleanEnv(), SKIFF_HOST: opts.host, SKIFF_CONFIG: config, DOCKER_CONFIG: config, ...opts.env },
      stdin: opts.stdin,
      timeoutMs: opts.timeoutMs,
    }),
  );
}
