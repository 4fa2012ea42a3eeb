import type { ChildProcess } from 'node:child_process';
import { constants, existsSync, mkdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  ConflictError,
  type ExecSpec,
  type ExitStatus,
  InvalidParameterError,
  type LogEntry,
  type Logger,
  type LogOptions,
  type LogRotation,
  NotFoundError,
  NotImplementedError,
  type Runtime,
  type RuntimeCapabilities,
  SystemError,
  type TaskSpec,
  type TaskState,
} from '@skiff/core/plugin-api';
import { startConmon } from './conmon.js';
import { RuntimeCreateError, RuntimeExecError } from './errors.js';
import { ExitWatcher } from './exit-watcher.js';
import { markNow, readLogFiles } from './log-reader.js';
import { LogRotator, truncationCap } from './log-rotation.js';
import { lastLogError, OciCli } from './oci-cli.js';
import { type Hierarchy, memoryCgroupOf, oomKills, parseMountinfo } from './cgroups.js';
import { pauseTask, resumeTask, taskPids, taskStats, updateTask } from './runc-ops.js';
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
  logRotation?: LogRotation;
}

/** What exec() records for openStdin (possibly in another daemon process). */
interface ExecInfo {
  stdin: boolean;
  terminal: boolean;
  logPath: string;
}

/** A process conmon supervises: a task's init, or an exec in it. */
interface Monitored {
  /** Key in `monitors`: the task id, or `<id>/<execId>`. */
  key: string;
  /** Holds conmon.pid and oom; when it is gone the runtime no longer knows the process. */
  dir: string;
  exitFile: string;
  /** An argument that conmon's command line carries (its `-u`). */
  uuid: string;
  /** For messages: `task <id>`, `exec <execId>`. */
  what: string;
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

/** The command of the bundle's process, for messages about it. */
async function bundleArgv0(bundle: string): Promise<string | undefined> {
  try {
    const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process?: { args?: unknown } };
    const argv = config.process?.args;
    return Array.isArray(argv) && typeof argv[0] === 'string' ? argv[0] : undefined;
  } catch {
    return undefined;
  }
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

/** Resolves like `p`, or rejects with the signal's reason once it aborts. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/**
 * Runs tasks with an OCI runtime (runc, crun) under conmon, one conmon per task and no Node
 * process per task. conmon owns the container's stdio, writes its output to the log file in the
 * k8s-file format, and records its exit code in `<state>/exits/<id>` after draining and syncing
 * the output, which is how wait() learns of the exit, also in a later daemon process.
 *
 * An exec gets its own conmon in exec mode (`runtime exec --detach`), which does the same for the
 * extra process: its output goes to the exec's log, its exit code to `<exec dir>/exit`, its stdin
 * and terminal size come through the exec dir's attach socket and control fifo.
 *
 * State layout: `tasks/<id>/` (task.json, pidfile, conmon.pid, exit, oom, runc.log),
 * `tasks/<id>/execs/<execId>/` (exec.json, process.json, pidfile, conmon.pid, exit, oom, runc.log,
 * attach, ctl, winsz), `exits/<id>`, and the runtime's own root `roots/<binary name>/`.
 */
export class LinuxRuntime implements Runtime {
  readonly name: string;
  private readonly oci: OciCli;
  private readonly conmon: string;
  private readonly perl: string | undefined;
  private readonly tasksDir: string;
  private readonly exitsDir: string;
  /** The host's cgroup hierarchies (mountinfo, read once). */
  private hierarchies: Promise<Hierarchy[]> | undefined;
  private readonly exits: ExitWatcher;
  /** Exits of the conmon processes this process started (they are our children while we live). */
  private readonly monitors = new Map<string, { exited: Promise<void>; child: ChildProcess }>();
  /** Tasks and execs whose conmon this process is starting (no conmon.pid yet). */
  private readonly starting = new Set<string>();
  /** One wait per exec in this process, shared by waitExec() and log followers. */
  private readonly execWaits = new Map<string, Promise<ExitStatus>>();
  private readonly closing = new AbortController();
  private ready: Promise<void> | undefined;
  private readonly log: Logger | undefined;
  private readonly rotator: LogRotator;

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
    this.rotator = new LogRotator(opts.log);
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

  private execDir(id: string, execId: string): string {
    return join(this.taskDir(id), 'execs', execId);
  }

  private taskTarget(id: string): Monitored {
    return { key: id, dir: this.taskDir(id), exitFile: this.exitFile(id), uuid: id, what: `task ${id}` };
  }

  private execTarget(id: string, execId: string): Monitored {
    const dir = this.execDir(id, execId);
    return { key: `${id}/${execId}`, dir, exitFile: join(dir, 'exit'), uuid: execId, what: `exec ${execId}` };
  }

  private checkId(id: string, what = 'task id'): void {
    if (typeof id !== 'string' || !ID_RE.test(id))
      throw new InvalidParameterError(`invalid ${what}: ${JSON.stringify(id)}`);
  }

  /** Remembers conmon (our child) so waiters learn at once if it dies without recording an exit. */
  private track(key: string, child: ChildProcess): void {
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const entry = { exited, child };
    this.monitors.set(key, entry);
    void exited.then(() => {
      if (this.monitors.get(key) === entry) this.monitors.delete(key);
    });
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
    if (existsSync(dir) || existsSync(join(this.oci.root, id))) {
      const st = await this.state(id).catch(() => undefined);
      if (st && st.status !== 'stopped' && st.status !== 'unknown')
        throw new ConflictError(`task ${id} already exists`);
      await this.delete(id);
    }
    // The task's files are a few bytes each on the daemon's own disk: written synchronously, they
    // cost microseconds, where each trip through the thread pool costs ~0.1 ms of the start.
    mkdirSync(dir, { mode: 0o700 });
    rmSync(this.exitFile(id), { force: true });
    const info: TaskInfo = { bundle: spec.bundle, stdin: spec.stdin, terminal: spec.terminal, logPath: spec.logPath };
    if (spec.logRotation) info.logRotation = spec.logRotation;
    writeFileSync(join(dir, 'task.json'), JSON.stringify(info));

    this.starting.add(id);
    let r: Awaited<ReturnType<typeof startConmon>>;
    try {
      r = await startConmon({
        conmon: this.conmon,
        id,
        runtime: this.oci.binary,
        runtimeArgs: [...this.oci.flags, '--log-format=json', `--log=${join(dir, 'runc.log')}`],
        bundle: spec.bundle,
        taskDir: dir,
        exitDir: this.exitsDir,
        logPath: spec.logPath,
        logSizeMax: spec.logRotation && truncationCap(spec.logRotation),
        terminal: spec.terminal,
        stdin: spec.stdin,
      });
      if (r.ok) {
        this.track(id, r.child);
        writeFileSync(join(dir, 'conmon.pid'), String(r.child.pid));
        await this.recordMemoryCgroup(dir, r.pid);
      }
    } finally {
      this.starting.delete(id);
    }
    if (r.ok) {
      this.rotateLogs(id, info);
      return { pid: r.pid };
    }
    const runcLog = await readFile(join(dir, 'runc.log'), 'utf8').catch(() => '');
    const message = r.message
      ? cleanRuntimeMessage(r.message)
      : (lastLogError(runcLog) ?? (r.conmonStderr || 'conmon exited without reporting the container'));
    await this.cleanup(id, info).catch((err) =>
      this.log?.warn('rollback after a failed create', { id, error: String(err) }),
    );
    throw new RuntimeCreateError(message, { argv0: await bundleArgv0(spec.bundle) });
  }

  async start(id: string): Promise<void> {
    this.checkId(id);
    await this.oci.start(id);
    // Lets exec() tell a started task from a created one without asking the runtime.
    try {
      writeFileSync(join(this.taskDir(id), 'started'), '');
    } catch {
      // The task dir is gone: the task was deleted meanwhile.
    }
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

  /** The recorded exit of the process, if conmon has written it. */
  private async readExit(m: Monitored): Promise<ExitStatus | undefined> {
    const file = m.exitFile;
    // Read synchronously: a few bytes written by conmon, on the exit's critical path.
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
    if (!/^-?\d+$/.test(text.trim())) return undefined;
    const code = Number(text.trim());
    const st = statSync(file, { throwIfNoEntry: false });
    return {
      // conmon writes -1 when it could not learn the status; docker reports such exits as 255.
      exitCode: code < 0 ? 255 : code,
      exitedAt: st?.mtime ?? new Date(),
      oomKilled: existsSync(join(m.dir, 'oom')) || this.sawOomKill(m.dir),
    };
  }

  /**
   * Whether the task's memory cgroup (recorded at create) counts an OOM kill. conmon watches for
   * OOM only after reporting the pid, and the task starts at once: one that overruns its limit
   * at once can beat conmon's watch (its `oom` file is then missing).
   */
  private sawOomKill(dir: string): boolean {
    let memcg: string;
    try {
      memcg = readFileSync(join(dir, 'memcg'), 'utf8');
    } catch {
      return false;
    }
    return oomKills(memcg) > 0;
  }

  /** Records the created task's memory cgroup for sawOomKill (while its process exists). */
  private async recordMemoryCgroup(dir: string, pid: number): Promise<void> {
    try {
      this.hierarchies ??= readFile('/proc/self/mountinfo', 'utf8').then(parseMountinfo);
      const memcg = memoryCgroupOf(pid, await this.hierarchies);
      if (memcg) writeFileSync(join(dir, 'memcg'), memcg);
    } catch {
      // The process is gone already, or not in a memory cgroup: conmon's `oom` file is all there is.
    }
  }

  /** Whether the process's conmon still runs (checked once; never polled). */
  private async conmonAlive(m: Monitored): Promise<boolean> {
    let pid: number;
    try {
      pid = Number.parseInt(await readFile(join(m.dir, 'conmon.pid'), 'utf8'), 10);
    } catch (e) {
      // Still being started by this process; or its starter died before recording it (a kill -9
      // of the daemon mid-exec), and nothing will ever record its exit.
      if (isErrno(e, 'ENOENT')) return this.starting.has(m.key);
      throw e;
    }
    if (!(pid > 0)) return false;
    try {
      // A zombie or a recycled pid has another (or an empty) command line.
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      return cmdline.some((a) => a.endsWith('conmon')) && cmdline.includes(m.uuid);
    } catch {
      return false;
    }
  }

  async wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    this.checkId(id);
    signal?.throwIfAborted();
    // The exit directory must exist to be watched (a runtime that has not created anything yet).
    await this.ensureDirs();
    // After a daemon restart, waiting on a task is where its log rotation resumes.
    if (!this.rotator.has(id)) void this.resumeRotation(id);
    return this.waitFor(this.taskTarget(id), (notify) => this.exits.subscribe(id, notify), signal);
  }

  private async resumeRotation(id: string): Promise<void> {
    const info = await this.info(id).catch(() => undefined);
    if (info) this.rotateLogs(id, info);
  }

  private rotateLogs(id: string, info: TaskInfo): void {
    if (info.logRotation)
      this.rotator.track(id, { logPath: info.logPath, ctlFifo: join(info.bundle, 'ctl'), rotation: info.logRotation });
  }

  /**
   * Resolves with the exit conmon records for `m`. `subscribe` calls `notify` whenever the exit
   * file may have changed (inotify), and `broken` when it cannot any more.
   */
  private waitFor(
    m: Monitored,
    subscribe: (notify: () => void, broken: (err: Error) => void) => () => void,
    signal?: AbortSignal,
  ): Promise<ExitStatus> {
    return new Promise<ExitStatus>((resolve, reject) => {
      let done = false;
      let unsubscribe = () => {};
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const fail = (err: unknown) => finish(() => reject(err as Error));
      const check = async (): Promise<boolean> => {
        if (done) return true;
        const exit = await this.readExit(m);
        if (exit) finish(() => resolve(exit));
        return exit !== undefined;
      };
      const gone = () => new NotFoundError(`no such ${m.what}`);
      // No exit yet: the process may also have been forgotten (delete, or a waitExec elsewhere).
      const recheck = async () => {
        if (!(await check()) && !(await exists(m.dir))) fail(gone());
      };
      const monitorGone = async () => {
        if (!(await check())) fail(new SystemError(`conmon for ${m.what} is gone without recording its exit`));
      };
      const onAbort = () => fail(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) return onAbort();
      try {
        unsubscribe = subscribe(
          () => void recheck().catch(fail),
          (err) => void recheck().then(() => fail(err), fail),
        );
      } catch (e) {
        return fail(isErrno(e, 'ENOENT', 'ENOTDIR') ? gone() : e);
      }
      const monitor = this.monitors.get(m.key)?.exited;
      void monitor?.then(() => monitorGone().catch(fail));
      (async () => {
        if (await check()) return;
        if (!(await exists(m.dir))) return fail(gone());
        if (!monitor && !(await this.conmonAlive(m))) await monitorGone();
      })().catch(fail);
    });
  }

  async state(id: string): Promise<TaskState> {
    this.checkId(id);
    const task = this.taskTarget(id);
    const exit = await this.readExit(task);
    if (exit) return { status: 'stopped', exit };
    let st: Awaited<ReturnType<OciCli['state']>>;
    try {
      st = await this.oci.state(id);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      if (!(await exists(this.taskDir(id)))) throw new NotFoundError(`no such task: ${id}`);
      const late = await this.readExit(task);
      if (late) return { status: 'stopped', exit: late };
      return { status: (await this.conmonAlive(task)) ? 'created' : 'unknown' };
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
        if (this.monitors.has(id) || (await this.conmonAlive(task))) {
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
    this.rotator.untrack(id);
    // `delete --force` also kills what is left in the container's cgroup (execs in a shared pid
    // namespace); then let each exec's conmon record its exit before the directory goes.
    if (await exists(join(this.oci.root, id))) await this.oci.delete(id);
    const execs = await readdir(join(this.taskDir(id), 'execs')).catch(() => [] as string[]);
    await Promise.all(execs.map((execId) => this.execExit(id, execId).catch(() => undefined)));
    if (info) {
      // conmon's control fifos (and the attach socket, if it did not remove it) live in the bundle.
      await Promise.all(['ctl', 'winsz', 'attach'].map((f) => rm(join(info.bundle, f), { force: true })));
    }
    await rm(this.taskDir(id), { recursive: true, force: true });
    await rm(this.exitFile(id), { force: true });
  }

  logs(id: string, logPath: string, opts: LogOptions): AsyncIterable<LogEntry> {
    this.checkId(id);
    const { execId } = opts;
    if (execId !== undefined) this.checkId(execId, 'exec id');
    // tail 0 means "from now": mark the log before returning, not when iteration starts.
    const mark = opts.tail === 0 ? markNow(logPath) : undefined;
    // conmon writes the exit file only after the output is drained into the log and synced.
    // An exec that is already forgotten (NotFound) has exited too.
    return readLogFiles(logPath, opts, mark, (signal) =>
      execId === undefined ? this.wait(id, signal) : raceAbort(this.execExit(id, execId), signal),
    );
  }

  /**
   * Where conmon listens for a task's (or an exec's) stdin and control messages: the bundle, or
   * the exec's directory; with what was recorded about it. Refuses processes that have exited.
   */
  private async stdio(id: string, execId: string | undefined): Promise<{ dir: string; stdin: boolean; what: string }> {
    this.checkId(id);
    if (execId === undefined) {
      const info = await this.info(id);
      if (!info) throw new NotFoundError(`no such task: ${id}`);
      if (await exists(this.exitFile(id))) throw new ConflictError(`container ${id} is not running`);
      return { dir: info.bundle, stdin: info.stdin, what: `task ${id}` };
    }
    this.checkId(execId, 'exec id');
    const m = this.execTarget(id, execId);
    let info: ExecInfo;
    try {
      info = JSON.parse(await readFile(join(m.dir, 'exec.json'), 'utf8')) as ExecInfo;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new NotFoundError(`no such exec: ${execId}`);
      throw e;
    }
    if (await exists(m.exitFile)) throw new ConflictError(`exec ${execId} is not running`);
    return { dir: m.dir, stdin: info.stdin, what: `exec ${execId}` };
  }

  async openStdin(id: string, execId?: string): Promise<Writable> {
    const t = await this.stdio(id, execId);
    if (!t.stdin) throw new ConflictError(`${t.what} was not created with stdin`);
    if (!this.perl) throw new NotImplementedError('attaching stdin needs perl (Debian perl-base) on the host');
    return openStdinRelay(this.perl, t.dir);
  }

  async resize(id: string, width: number, height: number, execId?: string): Promise<void> {
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
    const t = await this.stdio(id, execId);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      // Non-blocking: with no conmon reading the fifo, open fails (ENXIO) instead of hanging.
      fh = await open(join(t.dir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if (isErrno(e, 'ENXIO', 'ENOENT')) throw new ConflictError(`${t.what} is not running`);
      throw e;
    }
    try {
      // conmon's control message: "<type> <height> <width>", type 1 = window resize.
      await fh.write(`1 ${height} ${width}\n`);
    } finally {
      await fh.close();
    }
  }

  /**
   * Refuses an exec in a task that is not running (dockerd answers 409 too). A started task that
   * has no exit recorded is running or paused, or stops right now: `runtime exec` refuses those
   * itself, which spares a `runtime state` on the common path.
   */
  private async requireRunning(id: string): Promise<void> {
    const dir = this.taskDir(id);
    if (!(await exists(dir))) throw new NotFoundError(`no such task: ${id}`);
    const notRunning = new ConflictError(`container ${id} is not running`);
    if (await exists(this.exitFile(id))) throw notRunning;
    if (await exists(join(dir, 'started'))) return;
    let status: string;
    try {
      status = (await this.oci.state(id)).status;
    } catch (e) {
      if (e instanceof NotFoundError) throw notRunning;
      throw e;
    }
    if (status === 'paused') throw new ConflictError(`container ${id} is paused, unpause the container before exec`);
    if (status !== 'running') throw notRunning;
  }

  async exec(id: string, spec: ExecSpec): Promise<{ pid: number }> {
    this.checkId(id);
    const { execId } = spec;
    this.checkId(execId, 'exec id');
    const args = typeof spec.process === 'object' && spec.process !== null ? spec.process.args : undefined;
    if (!Array.isArray(args) || args.length === 0 || !args.every((a) => typeof a === 'string'))
      throw new InvalidParameterError('exec needs a command: process.args must be a non-empty list of strings');
    if (typeof spec.logPath !== 'string' || spec.logPath === '')
      throw new InvalidParameterError('exec needs a log path');
    await this.requireRunning(id);

    const m = this.execTarget(id, execId);
    try {
      await mkdir(dirname(m.dir), { mode: 0o700 });
    } catch (e) {
      // Not recursive: a task deleted meanwhile must not get its directory back.
      if (isErrno(e, 'ENOENT')) throw new NotFoundError(`no such task: ${id}`);
      if (!isErrno(e, 'EEXIST')) throw e;
    }
    try {
      await mkdir(m.dir, { mode: 0o700 });
    } catch (e) {
      if (isErrno(e, 'EEXIST')) throw new ConflictError(`exec ${execId} already exists in task ${id}`);
      if (isErrno(e, 'ENOENT')) throw new NotFoundError(`no such task: ${id}`);
      throw e;
    }
    let r: Awaited<ReturnType<typeof startConmon>>;
    try {
      const info: ExecInfo = { stdin: spec.stdin, terminal: spec.terminal, logPath: spec.logPath };
      const processFile = join(m.dir, 'process.json');
      // runc takes the terminal setting from the process file (its --tty flag then does nothing).
      await Promise.all([
        writeFile(join(m.dir, 'exec.json'), JSON.stringify(info)),
        writeFile(processFile, JSON.stringify({ ...spec.process, terminal: spec.terminal })),
      ]);
      this.starting.add(m.key);
      r = await startConmon({
        conmon: this.conmon,
        id,
        exec: { execId, processSpec: processFile },
        runtime: this.oci.binary,
        runtimeArgs: [...this.oci.flags, '--log-format=json', `--log=${join(m.dir, 'runc.log')}`],
        bundle: m.dir,
        taskDir: m.dir,
        logPath: spec.logPath,
        terminal: spec.terminal,
        stdin: spec.stdin,
      });
    } catch (e) {
      this.starting.delete(m.key);
      await rm(m.dir, { recursive: true, force: true });
      throw e;
    }
    if (r.ok) {
      this.track(m.key, r.child);
      await writeFile(join(m.dir, 'conmon.pid'), String(r.child.pid)).finally(() => this.starting.delete(m.key));
      return { pid: r.pid };
    }
    this.starting.delete(m.key);
    const runcLog = await readFile(join(m.dir, 'runc.log'), 'utf8').catch(() => '');
    const message = r.message
      ? cleanRuntimeMessage(r.message)
      : (lastLogError(runcLog) ?? (r.conmonStderr || 'conmon exited without reporting the process'));
    await rm(m.dir, { recursive: true, force: true });
    if (/paused container/i.test(message))
      throw new ConflictError(`container ${id} is paused, unpause the container before exec`);
    if (/stopped container|not running/i.test(message)) throw new ConflictError(`container ${id} is not running`);
    throw new RuntimeExecError(message, { argv0: args[0] });
  }

  /** This process's one wait for an exec's exit (inotify on its directory), shared by all callers. */
  private execExit(id: string, execId: string): Promise<ExitStatus> {
    const m = this.execTarget(id, execId);
    let p = this.execWaits.get(m.key);
    if (!p) {
      p = this.waitFor(
        m,
        (notify, broken) => {
          const w = watch(m.dir, { persistent: true }, notify);
          w.on('error', (err) => {
            w.close();
            broken(new SystemError(`lost the watch on ${m.dir}: ${err.message}`, { cause: err }));
          });
          return () => w.close();
        },
        this.closing.signal,
      );
      const settled = p;
      this.execWaits.set(m.key, settled);
      const drop = () => {
        if (this.execWaits.get(m.key) === settled) this.execWaits.delete(m.key);
      };
      settled.then(drop, drop);
    }
    return p;
  }

  /**
   * Resolves when the exec has exited, with its output complete in its log; then forgets it (its
   * state directory is removed, a later waitExec is NotFound: the caller keeps the exit status).
   */
  async waitExec(id: string, execId: string, signal?: AbortSignal): Promise<ExitStatus> {
    this.checkId(id);
    this.checkId(execId, 'exec id');
    signal?.throwIfAborted();
    const exit = await raceAbort(this.execExit(id, execId), signal);
    const m = this.execTarget(id, execId);
    // conmon removes the attach socket right after the exit file: let it finish when it is ours
    // (its exit must keep the loop alive until it is delivered).
    const monitor = this.monitors.get(m.key);
    if (monitor) {
      monitor.child.ref();
      await monitor.exited;
      monitor.child.unref();
    }
    await rm(m.dir, { recursive: true, force: true, maxRetries: 3 });
    return exit;
  }

  // Freezer, limits and usage: see runc-ops.ts and cgroups.ts.
  async pause(id: string): Promise<void> {
    this.checkId(id);
    await pauseTask(this.oci, id);
  }

  async resume(id: string): Promise<void> {
    this.checkId(id);
    await resumeTask(this.oci, id);
  }

  async update(id: string, resources: Record<string, unknown>): Promise<void> {
    this.checkId(id);
    await updateTask(this.oci, id, resources);
  }

  async stats(id: string): Promise<Record<string, unknown>> {
    this.checkId(id);
    return { ...(await taskStats(this.taskDir(id), id, await exists(this.exitFile(id)))) };
  }

  async pids(id: string): Promise<number[]> {
    this.checkId(id);
    return taskPids(this.taskDir(id), id, await exists(this.exitFile(id)));
  }

  async close(): Promise<void> {
    this.closing.abort(new SystemError('runtime closed'));
    this.exits.close();
    this.rotator.close();
  }
}
