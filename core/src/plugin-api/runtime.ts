export interface TaskSpec {
  id: string;
  /** Directory holding the OCI `config.json`, whose `root.path` the core has already mounted. */
  bundle: string;
  /** Allocate a pseudo-terminal for the process. */
  terminal: boolean;
  /** Keep a stdin pipe the core can write to (`docker run -i`). */
  stdin: boolean;
  /** File the runtime appends the container's output to, in its own format (read back by `logs`). */
  logPath: string;
  /**
   * Size-based rotation of the log (`max-size`, `max-file`): the current file is renamed to
   * `<logPath>.1` (older ones shift up, the oldest beyond `maxFiles` goes) once it reaches `maxSize`
   * bytes, and `logs` reads across the files in order. Unset = one file that grows.
   */
  logRotation?: LogRotation;
}

export interface LogRotation {
  maxSize: number;
  /** Files kept, the current one included (>= 1). */
  maxFiles: number;
}

export interface ExitStatus {
  exitCode: number;
  exitedAt: Date;
  oomKilled: boolean;
}

export type TaskStatus = 'created' | 'running' | 'paused' | 'stopped' | 'unknown';

export interface TaskState {
  status: TaskStatus;
  pid?: number;
  exit?: ExitStatus;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, UTC (`2026-11-22T12:17:56.383760558Z`). */
  time: string;
  /** The bytes as written; a complete line ends with `\n`. */
  data: Buffer;
}

/** An extra process in a running task (`docker exec`). */
export interface ExecSpec {
  execId: string;
  /** The OCI `process` object (args, env, cwd, user, terminal, capabilities, noNewPrivileges, …). */
  process: Record<string, unknown>;
  terminal: boolean;
  /** Keep a stdin pipe the core can write to (see openStdin with execId). */
  stdin: boolean;
  /** Where the exec's output goes, in the runtime's log format (read back by `logs` with execId). */
  logPath: string;
}

export interface LogOptions {
  /** Keep streaming until the task exits (or `signal` aborts). */
  follow: boolean;
  /** Only the last N entries already logged; 0 = only what comes next; undefined = all. */
  tail?: number;
  signal?: AbortSignal;
  /** Read an exec's log instead of the task's; follow ends when that exec exits (or is unknown). */
  execId?: string;
}

export interface RuntimeCapabilities {
  terminal: boolean;
  stdin: boolean;
  /** Tasks keep running, and report their exit, when the daemon is gone. */
  survivesDaemonRestart: boolean;
  /**
   * The task's processes reach one network only (a VM with one NIC): connecting a container that
   * already has a network is refused. Unset means any number.
   */
  singleNetwork?: boolean;
}

/**
 * Runs tasks from OCI bundles. The core mounts the rootfs and writes `config.json`; the runtime
 * supervises the process (so it can outlive the daemon), records its exit and its output.
 */
export interface Runtime {
  readonly name: string;
  capabilities(): RuntimeCapabilities;
  /** Creates the task (process not yet started). Rolls back everything it did on failure. */
  create(spec: TaskSpec): Promise<{ pid: number }>;
  start(id: string): Promise<void>;
  kill(id: string, signal: string | number, opts?: { all?: boolean }): Promise<void>;
  /** Resolves when the task has exited; works for tasks created by an earlier daemon process. */
  wait(id: string, signal?: AbortSignal): Promise<ExitStatus>;
  state(id: string): Promise<TaskState>;
  /** Removes the task's runtime state. Idempotent; a task that still runs gives ConflictError. */
  delete(id: string): Promise<void>;
  /** Output recorded for the task `id` (across all its runs). */
  logs(id: string, logPath: string, opts: LogOptions): AsyncIterable<LogEntry>;
  /** Writable stdin of a task (or exec) created with `stdin: true`; ending it closes the process's stdin. */
  openStdin?(id: string, execId?: string): Promise<NodeJS.WritableStream>;
  resize?(id: string, width: number, height: number, execId?: string): Promise<void>;
  /**
   * Starts an extra process in the running task `id`. Rejects (with the runtime's message and an
   * `exitCodeHint` of 126/127 where that applies) when the process cannot be started.
   */
  exec?(id: string, spec: ExecSpec): Promise<{ pid: number }>;
  /**
   * Resolves when the exec has exited (its output is then complete in its log); works for execs
   * started by an earlier daemon process. The runtime may then forget the exec (a later waitExec
   * is NotFoundError): the caller keeps the exit status. Execs die with their task.
   */
  waitExec?(id: string, execId: string, signal?: AbortSignal): Promise<ExitStatus>;
  /** Freezes / thaws every process of the task (cgroup freezer). */
  pause?(id: string): Promise<void>;
  resume?(id: string): Promise<void>;
  /** Changes the resource limits of a running task (OCI `linux.resources` shape). */
  update?(id: string, resources: Record<string, unknown>): Promise<void>;
  /**
   * The running task's network namespace gained or lost an interface (a network connect or
   * disconnect). Runtimes whose processes use the namespace directly need nothing; one that
   * stands between them (a VM's NICs) brings its side in line, or rejects (the connect is undone).
   */
  networkChanged?(id: string): Promise<void>;
  /** Resource usage from the task's cgroup (shape defined with the stats work; see runtime-linux). */
  stats?(id: string): Promise<Record<string, unknown>>;
  /** Host pids of the task's processes. */
  pids?(id: string): Promise<number[]>;
  close(): Promise<void>;
}
