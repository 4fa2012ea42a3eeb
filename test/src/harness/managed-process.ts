import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { OutputBuffer } from './proc.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcessOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Write output to this file and detach the process from ours (own session, unref'd), so it
   * can outlive this Node process (quickstart --keep). Without it, output is kept in memory.
   */
  logFile?: string;
}

/** Children still running when this process exits get a SIGTERM, so a killed test leaks no daemon. */
const attached = new Set<number>();
process.on('exit', () => {
  for (const pid of attached) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
});

/** A long-running child (registry, daemon) whose output we keep and that we can stop and wait for. */
export class ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  readonly #buffer = new OutputBuffer();
  readonly #logFile: string | undefined;

  constructor(cmd: string, args: readonly string[], opts: ManagedProcessOptions = {}) {
    this.#logFile = opts.logFile;
    let child: ReturnType<typeof spawn>;
    if (opts.logFile) {
      const fd = openSync(opts.logFile, 'a');
      child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', fd, fd], detached: true });
      closeSync(fd);
      child.unref();
    } else {
      child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (b: Buffer) => this.#buffer.append(b));
      child.stderr?.on('data', (b: Buffer) => this.#buffer.append(b));
    }
    this.exited = new Promise<ExitStatus>((resolve) => {
      child.on('error', (e) => {
        this.#buffer.append(`[harness] cannot run ${cmd}: ${e.message}\n`);
        this.#status = { code: 127, signal: null };
        resolve(this.#status);
      });
      child.on('exit', (code, signal) => {
        this.#status = { code, signal };
        resolve(this.#status);
      });
    });
    this.pid = child.pid ?? -1;
    if (!opts.logFile && this.pid > 0) {
      attached.add(this.pid);
      void this.exited.then(() => attached.delete(this.pid));
    }
  }

  get status(): ExitStatus | undefined {
    return this.#status;
  }

  output(): string {
    if (!this.#logFile) return this.#buffer.toString();
    try {
      return readFileSync(this.#logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
  async stop(graceMs = 30_000): Promise<ExitStatus> {
    if (this.#status) return this.#status;
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      this.exited,
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (first) return first;
    this.#buffer.append(`[harness] no exit ${graceMs} ms after SIGTERM; sending SIGKILL\n`);
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    return this.exited;
  }
}

/** Describes an exit for messages: "exit code 1" / "signal SIGKILL". */
export function describeExit(s: ExitStatus): string {
  return s.signal ? `signal ${s.signal}` : `exit code ${s.code}`;
}
