import { type SpawnOptions, spawn } from 'node:child_process';
import net from 'node:net';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: string | Buffer;
  cwd?: string;
  /** Kill the command (SIGKILL) after this long; the result then says so in stderr. Default 5 min. */
  timeoutMs?: number;
}

/** Thrown when a helper command is missing or a setup command fails. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Runs a command to completion, collecting its output. Never rejects for a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    };
    const child = spawn(cmd, args, spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 300_000);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\n[harness] ${cmd} killed after ${opts.timeoutMs ?? 300_000} ms`;
      else if (signal) stderr += `\n[harness] ${cmd} killed by ${signal}`;
      resolve({ code: code ?? 128 + 9, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // the command may exit before reading all of it
      child.stdin.end(opts.stdin);
    }
  });
}

/** Like run(), but throws a CommandError with the output when the command fails. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new CommandError(
      `${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim(),
      r,
    );
  }
  return r;
}

/** A loopback TCP port that was free a moment ago (callers retry if it is taken meanwhile). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A bounded in-memory log: keeps the last `max` characters. */
export class OutputBuffer {
  #text = '';
  constructor(private readonly max = 1 << 20) {}
  append(chunk: Buffer | string): void {
    this.#text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.#text.length > this.max) this.#text = this.#text.slice(-this.max);
  }
  toString(): string {
    return this.#text;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
