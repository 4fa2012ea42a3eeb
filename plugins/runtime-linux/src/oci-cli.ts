import { spawn } from 'node:child_process';
import { closeSync, constants, lstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { ConflictError, NotFoundError, SystemError } from '@skiff/core/plugin-api';
import { deleteStoppedCrun } from './stopped-crun.js';
import { deleteStoppedRunc } from './stopped-runc.js';

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

  /**
   * Starts a created container. runc and crun park the container's init on `exec.fifo` in the
   * container's state dir: runc's init waits to write a byte until a reader opens it (`runc start`
   * reads it, after a Go start-up of ~10 ms); crun's init waits to read the byte `crun start`
   * writes. Doing the same here saves a process; whatever looks unusual (no fifo, an init that is
   * gone) is left to the runtime's own `start`, for its checks and error messages.
   */
  async start(id: string): Promise<void> {
    if (!(await this.releaseInit(id))) await this.run(['start', id]);
  }

  private async releaseInit(id: string): Promise<boolean> {
    const fifo = join(this.root, id, 'exec.fifo');
    if (!lstatSync(fifo, { throwIfNoEntry: false })?.isFIFO()) return false;
    return writeToWaitingReader(fifo) || this.readFromWaitingWriter(fifo);
  }

  /** runc's way: the init writes one byte once the fifo has a reader. */
  private async readFromWaitingWriter(fifo: string): Promise<boolean> {
    const fd = openNonBlocking(fifo, constants.O_RDONLY);
    if (fd === undefined) return false;
    // A writer blocked in open(2) already counts as one: the read waits for its byte. With no
    // writer at all the read is EOF at once, and poll(2) would never report it: look first.
    let first: number;
    try {
      first = readSync(fd, Buffer.alloc(1));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') {
        closeSync(fd);
        return false;
      }
      first = -1;
    }
    if (first >= 0) closeSync(fd);
    const got = first >= 0 ? first : await bytesUntilEof(fd);
    if (got === 0) return false;
    unlinkQuietly(fifo);
    return true;
  }

  async kill(id: string, signal: string, all: boolean): Promise<void> {
    await this.run(all ? ['kill', '--all', id, signal] : ['kill', id, signal]);
  }

  /**
   * `delete --force`: removes the runtime's state and cgroups; succeeds when there is nothing to
   * delete. A runc or crun container whose init has exited is removed here (deleteStoppedRunc,
   * deleteStoppedCrun: each knows its runtime's state file only).
   */
  async delete(id: string): Promise<void> {
    if ((await deleteStoppedRunc(this.root, id)) || (await deleteStoppedCrun(this.root, id))) return;
    await this.run(['delete', '--force', id]);
  }
}

/**
 * crun's way: the init holds the fifo open for reading and waits for one byte. Opening for
 * writing without blocking succeeds only while such a reader exists (else ENXIO: runc's init, or
 * one that is gone). The fifo is unlinked before the write, as crun does: its absence is how crun
 * tells a started container from a created one.
 */
function writeToWaitingReader(fifo: string): boolean {
  const fd = openNonBlocking(fifo, constants.O_WRONLY);
  if (fd === undefined) return false;
  try {
    unlinkSync(fifo);
    writeSync(fd, Buffer.alloc(1));
    return true;
  } finally {
    closeSync(fd);
  }
}

/** A fifo opened without blocking (never waits for the other end), or undefined (ENXIO: no reader). */
function openNonBlocking(fifo: string, mode: number): number | undefined {
  try {
    return openSync(fifo, mode | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: the runtime's own start removes it too.
  }
}

/** Reads a non-blocking pipe fd until its writer closes it (and closes it); the number of bytes. */
function bytesUntilEof(fd: number): Promise<number> {
  return new Promise((resolve) => {
    const pipe = new Socket({ fd, readable: true, writable: false });
    let bytes = 0;
    pipe.on('data', (b: Buffer) => (bytes += b.length));
    pipe.once('error', () => resolve(0));
    pipe.once('end', () => resolve(bytes));
    pipe.once('close', () => resolve(bytes));
  });
}

export function classify(msg: string, what: string): Error {
  // crun names no missing container: it fails to open the state file (`…/<id>/status`).
  if (/does not exist|not found|\/status`: No such file or directory/i.test(msg))
    return new NotFoundError(`${what}: ${msg}`);
  // crun: `start` of a started container (its exec fifo is gone), `kill` of an exited one.
  if (
    /not running|has stopped|already running|cannot start|not paused|is paused|is not created|exec\.fifo`: No such file|No such process/i.test(
      msg,
    )
  ) {
    return new ConflictError(`${what}: ${msg}`);
  }
  return new SystemError(`${what}: ${msg}`);
}
