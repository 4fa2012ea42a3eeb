// Runs npm for the plugin store: the npm installed next to skiffd's node when there is one
// (so both come from the same Node distribution), else the first npm on PATH.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** npm failed: its own error lines (not a stack trace) are the message; the spec was bad. */
export class NpmError extends InvalidParameterError {}

/** The command that runs npm: [file, leading args]. */
export function npmCommand(nodePath = process.execPath): [string, string[]] {
  const bin = dirname(nodePath);
  const cli = join(bin, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (existsSync(cli)) return [nodePath, [cli]];
  const beside = join(bin, 'npm');
  if (existsSync(beside)) return [beside, []];
  return ['npm', []];
}

/** npm's `npm error …` lines without the prefix, or the last lines of stderr. */
function npmMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  const errors = lines
    .filter((l) => /^npm (error|ERR!)/.test(l))
    .map((l) => l.replace(/^npm (error|ERR!)\s?/, ''))
    // npm repeats status codes and adds hints and log paths around the one line that matters.
    .filter((l) => l && !/complete log of this run|^code |^\d{3}$|^Note that/.test(l));
  const picked = errors.length ? errors : lines.filter(Boolean).slice(-3);
  return picked.slice(0, 2).join('; ');
}

export interface NpmOptions {
  cwd: string;
  timeoutMs?: number;
}

/** Runs `npm <args>` and returns its stdout; NpmError with npm's reason on failure. */
export function runNpm(args: readonly string[], opts: NpmOptions): Promise<string> {
  const [file, lead] = npmCommand();
  const env = {
    ...process.env,
    // npm's `#!/usr/bin/env node` must find skiffd's node, not an older system one.
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...lead, ...args],
      { cwd: opts.cwd, env, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const why = npmMessage(stderr) || err.message;
        reject(new NpmError(`npm ${args[0]} failed: ${why}`));
      },
    );
  });
}
