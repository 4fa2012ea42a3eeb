import { spawn } from 'node:child_process';
import { ConflictError, NotFoundError, SystemError } from '@skiff/core/plugin-api';

export interface OciState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

/** The last error-level message of a runtime's JSON log output (runc/crun `--log-format json`). */
export function lastLogError(text: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const rec = JSON.parse(trimmed) as { level?: string; msg?: string };
      if ((rec.level === 'error' || rec.level === 'fatal') && typeof rec.msg === 'string') found = rec.msg;
    } catch {
      // Not a JSON record (a crashed runtime's stack trace): ignore.
    }
  }
  return found;
}

/** Runs the OCI runtime binary (runc or crun) with its own state root, one subcommand at a time. */
export class OciCli {
  constructor(
    readonly binary: string,
    readonly root: string,
    readonly globalArgs: readonly string[],
  ) {}

  /** Global flags every invocation carries (also handed to conmon as `--runtime-arg`s). */
  get flags(): string[] {
    return [...this.globalArgs, `--root=${this.root}`];
  }

  private run(args: readonly string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, [...this.flags, '--log-format=json', ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => reject(new SystemError(`${this.binary}: ${e.message}`, { cause: e })));
      child.on('close', (code, sig) => {
        if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
        const stderr = Buffer.concat(err).toString('utf8');
        const msg = lastLogError(stderr) ?? (stderr.trim() || (sig ? `killed by ${sig}` : `exit status ${code}`));
        reject(classify(msg, `${this.binary} ${args[0]}`));
      });
    });
  }

  async state(id: string): Promise<OciState> {
    return JSON.parse(await this.run(['state', id])) as OciState;
  }

  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  async kill(id: string, signal: string, all: boolean): Promise<void> {
    await this.run(all ? ['kill', '--all', id, signal] : ['kill', id, signal]);
  }

  /** `delete --force`: removes the runtime's state and cgroups; succeeds when there is nothing to delete. */
  async delete(id: string): Promise<void> {
    await this.run(['delete', '--force', id]);
  }
}

export function classify(msg: string, what: string): Error {
  if (/does not exist|not found/i.test(msg)) return new NotFoundError(`${what}: ${msg}`);
  if (/not running|has stopped|already running|cannot start|not paused|is paused|is not created/i.test(msg)) {
    return new ConflictError(`${what}: ${msg}`);
  }
  return new SystemError(`${what}: ${msg}`);
}
