import { constants, type FSWatcher, statSync, watch } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  ConflictError,
  type ExitStatus,
  InvalidParameterError,
  type LogEntry,
  type Logger,
  type LogOptions,
  NotFoundError,
  NotImplementedError,
  type Runtime,
  type RuntimeCapabilities,
  SystemError,
  type TaskSpec,
  type TaskState,
} from '@skiff/core/plugin-api';
import { startConmon } from './conmon.js';
import { RuntimeCreateError } from './errors.js';
import { ExitWatcher } from './exit-watcher.js';
import { EntryAssembler, RecordReader, tailOffset } from './k8s-log.js';
import { lastLogError, OciCli } from './oci-cli.js';
import { openStdinRelay } from './stdin-relay.js';
import { findExecutable } from './which.js';

export interface LinuxRuntimeOptions {
  /** The OCI runtime binary: a name looked up in PATH (`runc`, `crun`) or a path. */
  binary: string;
  /** Extra global flags for the runtime (e.g. `--systemd-cgroup`). */
  runtimeArgs?: readonly string[];
  /** Private state directory (under the exec root); survives daemon restarts, not reboots. */
  stateDir: string;
  /** conmon binary; looked up in PATH and podman's libexec dirs when omitted. */
  conmon?: string;
  name?: string;
  log?: Logger;
}

/** What create() records for later calls, possibly by another daemon process. */
interface TaskInfo {
  bundle: string;
  stdin: boolean;
  terminal: boolean;
  logPath: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const CONMON_DIRS = ['/usr/libexec/podman', '/usr/lib/podman', '/usr/libexec/crio', '/usr/local/libexec/podman'];

function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return false;
    throw e;
  }
}

/** runc's error for `runc create` as conmon relays it: plain text, or logrus text format. */
function cleanRuntimeMessage(msg: string): string {
  const logfmt = /msg="((?:[^"\\]|\\.)*)"/.exec(msg);
  if (logfmt) {
    try {
      return JSON.parse(`"${logfmt[1]}"`) as string;
    } catch {
      return logfmt[1]!;
    }
  }
  return msg.trim();
}

function normalizeSignal(signal: string | number): string {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal < 1 || signal > 64)
      throw new InvalidParameterError(`invalid signal: ${signal}`);
    return String(signal);
  }
  const s = signal.trim().toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 64) return s;
  if (`SIG${s}` in osConstants.signals || /^RTM(IN|AX)([+-]\d+)?$/.test(s)) return s;
  throw new InvalidParameterError(`invalid signal: ${signal}`);
}

/**
 * Runs tasks with an OCI runtime (runc, crun) under conmon, one conmon per task and no Node
 * process per task. conmon owns the container's stdio, writes its output to the log file in the
 * k8s-file format, and records its exit code in `<state>/exits/<id>` after draining and syncing
 * the output, which is how wait() learns of the exit, also in a later daemon process.
 *
 * State layout: `tasks/<id>/` (task.json, pidfile, conmon.pid, exit, oom, runc.log),
 * `exits/<id>`, and the runtime's own root `roots/<binary name>/`.
 */
export class LinuxRuntime implements Runtime {
  readonly name: string;
  private readonly oci: OciCli;
  private readonly conmon: string;
  private readonly perl: string | undefined;
  private readonly tasksDir: string;
  private readonly exitsDir: string;
  private readonly exits: ExitWatcher;
  /** Exits of the conmon processes this process started (they are our children while we live). */
  private readonly monitors = new Map<string, Promise<void>>();
  private ready: Promise<void> | undefined;
  private readonly log: Logger | undefined;

  constructor(opts: LinuxRuntimeOptions) {
    const binary = findExecutable(opts.binary);
    if (!binary) throw new SystemError(`OCI runtime ${opts.binary} not found`);
    const conmon = findExecutable(opts.conmon ?? 'conmon', CONMON_DIRS);
    if (!conmon) throw new SystemError(`conmon not found${opts.conmon ? ` at ${opts.conmon}` : ''}`);
    this.name = opts.name ?? 'linux';
    this.conmon = conmon;
    this.perl = findExecutable('perl');
    this.tasksDir = join(opts.stateDir, 'tasks');
    this.exitsDir = join(opts.stateDir, 'exits');
    const rootName = binary.split('/').pop()!;
    this.oci = new OciCli(binary, join(opts.stateDir, 'roots', rootName), opts.runtimeArgs ?? []);
    this.exits = new ExitWatcher(this.exitsDir);
    this.log = opts.log;
  }

  capabilities(): RuntimeCapabilities {
    return { terminal: true, stdin: this.perl !== undefined, survivesDaemonRestart: true };
  }

  private ensureDirs(): Promise<void> {
    this.ready ??= (async () => {
      for (const d of [this.tasksDir, this.exitsDir, this.oci.root]) await mkdir(d, { recursive: true, mode: 0o700 });
    })();
    return this.ready;
  }

  private taskDir(id: string): string {
    return join(this.tasksDir, id);
  }

  private exitFile(id: string): string {
    return join(this.exitsDir, id);
  }

  private checkId(id: string): void {
    if (!ID_RE.test(id)) throw new InvalidParameterError(`invalid task id: ${JSON.stringify(id)}`);
  }

  private async info(id: string): Promise<TaskInfo | undefined> {
    try {
      return JSON.parse(await readFile(join(this.taskDir(id), 'task.json'), 'utf8')) as TaskInfo;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  async create(spec: TaskSpec): Promise<{ pid: number }> {
    const { id } = spec;
    this.checkId(id);
    await this.ensureDirs();
    const dir = this.taskDir(id);
    if ((await exists(dir)) || (await exists(join(this.oci.root, id)))) {
      const st = await this.state(id).catch(() => undefined);
      if (st && st.status !== 'stopped' && st.status !== 'unknown')
        throw new ConflictError(`task ${id} already exists`);
      await this.delete(id);
    }
    await mkdir(dir, { mode: 0o700 });
    await rm(this.exitFile(id), { force: true });
    const info: TaskInfo = { bundle: spec.bundle, stdin: spec.stdin, terminal: spec.terminal, logPath: spec.logPath };
    await writeFile(join(dir, 'task.json'), JSON.stringify(info));

    const r = await startConmon({
      conmon: this.conmon,
      id,
      runtime: this.oci.binary,
      runtimeArgs: [...this.oci.flags, '--log-format=json', `--log=${join(dir, 'runc.log')}`],
      bundle: spec.bundle,
      taskDir: dir,
      exitDir: this.exitsDir,
      logPath: spec.logPath,
      terminal: spec.terminal,
      stdin: spec.stdin,
    });
    if (r.ok) {
      const exited = new Promise<void>((resolve) => {
        if (r.child.exitCode !== null || r.child.signalCode !== null) resolve();
        else r.child.once('exit', () => resolve());
      });
      this.monitors.set(id, exited);
      void exited.then(() => {
        if (this.monitors.get(id) === exited) this.monitors.delete(id);
      });
      await writeFile(join(dir, 'conmon.pid'), String(r.child.pid));
      return { pid: r.pid };
    }
    const runcLog = await readFile(join(dir, 'runc.log'), 'utf8').catch(() => '');
    const message = r.message
      ? cleanRuntimeMessage(r.message)
      : (lastLogError(runcLog) ?? (r.conmonStderr || 'conmon exited without reporting the container'));
    await this.cleanup(id, info).catch((err) =>
      this.log?.warn('rollback after a failed create', { id, error: String(err) }),
    );
    throw new RuntimeCreateError(message);
  }

  async start(id: string): Promise<void> {
    this.checkId(id);
    await this.oci.start(id);
  }

  async kill(id: string, signal: string | number, opts?: { all?: boolean }): Promise<void> {
    this.checkId(id);
    const sig = normalizeSignal(signal);
    try {
      await this.oci.kill(id, sig, opts?.all ?? false);
    } catch (e) {
      if (e instanceof NotFoundError && (await exists(this.exitFile(id))))
        throw new ConflictError(`container ${id} is not running`);
      throw e;
    }
  }

  /** The recorded exit of the task, if conmon has written it. */
  private async readExit(id: string): Promise<ExitStatus | undefined> {
    const file = this.exitFile(id);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
    if (!/^-?\d+$/.test(text.trim())) return undefined;
    const code = Number(text.trim());
    const st = await stat(file).catch(() => undefined);
    return {
      // conmon writes -1 when it could not learn the status; docker reports such exits as 255.
      exitCode: code < 0 ? 255 : code,
      exitedAt: st?.mtime ?? new Date(),
      oomKilled: await exists(join(this.taskDir(id), 'oom')),
    };
  }

  /** Whether the task's conmon still runs (checked once; never polled). */
  private async conmonAlive(id: string): Promise<boolean> {
    let pid: number;
    try {
      pid = Number.parseInt(await readFile(join(this.taskDir(id), 'conmon.pid'), 'utf8'), 10);
    } catch (e) {
      // create() is still starting it.
      if (isErrno(e, 'ENOENT')) return true;
      throw e;
    }
    if (!(pid > 0)) return false;
    try {
      // A zombie or a recycled pid has another (or an empty) command line.
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      return cmdline.some((a) => a.endsWith('conmon')) && cmdline.includes(id);
    } catch {
      return false;
    }
  }

  async wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    this.checkId(id);
    signal?.throwIfAborted();
    // The exit directory must exist to be watched (a runtime that has not created anything yet).
    await this.ensureDirs();
    return new Promise<ExitStatus>((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const fail = (err: unknown) => finish(() => reject(err));
      const check = async (): Promise<boolean> => {
        if (done) return true;
        const exit = await this.readExit(id);
        if (exit) finish(() => resolve(exit));
        return exit !== undefined;
      };
      const monitorGone = async () => {
        if (!(await check()))
          fail(new SystemError(`conmon for task ${id} is gone without recording the container's exit`));
      };
      const onAbort = () => fail(signal?.reason);
      const unsubscribe = this.exits.subscribe(id, () => void check().catch(fail));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) return onAbort();
      const monitor = this.monitors.get(id);
      void monitor?.then(() => monitorGone().catch(fail));
      (async () => {
        if (await check()) return;
        if (!(await exists(this.taskDir(id)))) return fail(new NotFoundError(`no such task: ${id}`));
        if (!monitor && !(await this.conmonAlive(id))) await monitorGone();
      })().catch(fail);
    });
  }

  async state(id: string): Promise<TaskState> {
    this.checkId(id);
    const exit = await this.readExit(id);
    if (exit) return { status: 'stopped', exit };
    let st: Awaited<ReturnType<OciCli['state']>>;
    try {
      st = await this.oci.state(id);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      if (!(await exists(this.taskDir(id)))) throw new NotFoundError(`no such task: ${id}`);
      const late = await this.readExit(id);
      if (late) return { status: 'stopped', exit: late };
      return { status: (await this.conmonAlive(id)) ? 'created' : 'unknown' };
    }
    switch (st.status) {
      case 'creating':
      case 'created':
        return { status: 'created', pid: st.pid };
      case 'running':
        return { status: 'running', pid: st.pid };
      case 'paused':
        return { status: 'paused', pid: st.pid };
      case 'stopped': {
        // The process is gone; conmon is draining its output and about to write the exit file.
        if (this.monitors.has(id) || (await this.conmonAlive(id))) {
          const exitNow = await this.wait(id).catch(() => undefined);
          if (exitNow) return { status: 'stopped', exit: exitNow };
        }
        return { status: 'stopped' };
      }
      default:
        return { status: 'unknown' };
    }
  }

  async delete(id: string): Promise<void> {
    this.checkId(id);
    const info = await this.info(id);
    if (!(await exists(this.exitFile(id)))) {
      let status: TaskState['status'] | undefined;
      try {
        status = (await this.state(id)).status;
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
      if (status === 'running' || status === 'paused') throw new ConflictError(`task ${id} is still running`);
      if (status === 'created') {
        // Never started: stop the waiting init, and let conmon record that before cleaning up.
        await this.kill(id, 'KILL').catch((e: unknown) => {
          if (!(e instanceof ConflictError || e instanceof NotFoundError)) throw e;
        });
        await this.wait(id).catch(() => undefined);
      }
    }
    await this.cleanup(id, info);
  }

  private async cleanup(id: string, info: TaskInfo | undefined): Promise<void> {
    if (await exists(join(this.oci.root, id))) await this.oci.delete(id);
    if (info) {
      // conmon's control fifos (and the attach socket, if it did not remove it) live in the bundle.
      await Promise.all(['ctl', 'winsz', 'attach'].map((f) => rm(join(info.bundle, f), { force: true })));
    }
    await rm(this.taskDir(id), { recursive: true, force: true });
    await rm(this.exitFile(id), { force: true });
  }

  logs(id: string, logPath: string, opts: LogOptions): AsyncIterable<LogEntry> {
    this.checkId(id);
    // tail 0 means "from now": take the size before returning, not when iteration starts.
    let from: number | undefined;
    if (opts.tail === 0) {
      try {
        from = statSync(logPath).size;
      } catch {
        from = 0;
      }
    }
    return this.readLogs(id, logPath, opts, from);
  }

  private async *readLogs(
    id: string,
    logPath: string,
    opts: LogOptions,
    from: number | undefined,
  ): AsyncGenerator<LogEntry> {
    const outer = opts.signal;
    if (outer?.aborted) return;
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    outer?.addEventListener('abort', onAbort, { once: true });
    let fh = await open(logPath, 'r').catch((e: unknown) => {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    });
    let watcher: FSWatcher | undefined;
    let wake: (() => void) | undefined;
    let dirty = false;
    let exited = false;
    const poke = () => {
      dirty = true;
      const w = wake;
      wake = undefined;
      w?.();
    };
    try {
      if (!fh && !opts.follow) return;
      let reader: RecordReader | undefined;
      const startAt = async (h: NonNullable<typeof fh>) =>
        new RecordReader(
          h,
          from ?? (opts.tail !== undefined ? await tailOffset(h, (await h.stat()).size, opts.tail) : 0),
        );
      if (fh) reader = await startAt(fh);
      if (opts.follow) {
        watcher = watch(fh ? logPath : dirname(logPath), { persistent: false }, poke);
        watcher.on('error', poke);
        ac.signal.addEventListener('abort', poke, { once: true });
        // conmon writes the exit file only after the output is drained into the log and synced.
        this.wait(id, ac.signal).then(
          () => {
            exited = true;
            poke();
          },
          () => {
            if (ac.signal.aborted) return;
            exited = true;
            poke();
          },
        );
      }
      const assembler = new EntryAssembler();
      for (;;) {
        if (ac.signal.aborted) return;
        if (!fh) {
          fh = await open(logPath, 'r').catch(() => undefined);
          if (fh) reader = await startAt(fh);
        }
        dirty = false;
        const final = exited;
        if (reader) {
          for (const entry of await reader.readAvailable(assembler)) {
            if (ac.signal.aborted) return;
            yield entry;
          }
        }
        if (!opts.follow || final) return;
        if (!dirty && !exited && !ac.signal.aborted) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      }
    } finally {
      outer?.removeEventListener('abort', onAbort);
      ac.abort();
      watcher?.close();
      await fh?.close();
    }
  }

  async openStdin(id: string): Promise<Writable> {
    this.checkId(id);
    const info = await this.info(id);
    if (!info) throw new NotFoundError(`no such task: ${id}`);
    if (!info.stdin) throw new ConflictError(`task ${id} was not created with stdin`);
    if (!this.perl) throw new NotImplementedError('attaching stdin needs perl (Debian perl-base) on the host');
    if (await exists(this.exitFile(id))) throw new ConflictError(`container ${id} is not running`);
    return openStdinRelay(this.perl, info.bundle);
  }

  async resize(id: string, width: number, height: number): Promise<void> {
    this.checkId(id);
    if (
      !Number.isInteger(width) ||
      !Number.isInteger(height) ||
      width < 0 ||
      height < 0 ||
      width > 65535 ||
      height > 65535
    ) {
      throw new InvalidParameterError(`invalid terminal size ${width}x${height}`);
    }
    const info = await this.info(id);
    if (!info) throw new NotFoundError(`no such task: ${id}`);
    if (await exists(this.exitFile(id))) throw new ConflictError(`container ${id} is not running`);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      // Non-blocking: with no conmon reading the fifo, open fails (ENXIO) instead of hanging.
      fh = await open(join(info.bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if (isErrno(e, 'ENXIO', 'ENOENT')) throw new ConflictError(`container ${id} is not running`);
      throw e;
    }
    try {
      // conmon's control message: "<type> <height> <width>", type 1 = window resize.
      await fh.write(`1 ${height} ${width}\n`);
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {
    this.exits.close();
  }
}
