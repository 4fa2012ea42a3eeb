import { spawn } from 'node:child_process';
import { SystemError } from '../plugin-api/errors.js';

export interface RunOptions {
  cwd?: string;
  signal?: AbortSignal;
}

/**
 * Runs a host binary without a shell and resolves with its stdout. A non-zero exit becomes a
 * SystemError that carries the command line and stderr, so failures read like the tool's own.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      signal: opts.signal,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new SystemError(`${cmd}: ${e.message}`, { cause: e })));
    child.on('close', (code, sig) => {
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const stderr = Buffer.concat(err).toString('utf8').trim();
      const how = sig ? `signal ${sig}` : `exit ${code}`;
      reject(new SystemError(`${cmd} ${args.join(' ')}: ${stderr || how}`));
    });
  });
}
