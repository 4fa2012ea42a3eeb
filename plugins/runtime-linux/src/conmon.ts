import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface ConmonOptions {
  conmon: string;
  /** The container's id (for an exec, the container it runs in). */
  id: string;
  /** Run `runtime exec` with this OCI process file instead of `runtime create`. */
  exec?: { execId: string; processSpec: string };
  runtime: string;
  /** Flags for every runtime invocation (`--root=…`, `--log=…`, …). */
  runtimeArgs: readonly string[];
  /** The container's bundle; for an exec, its own directory (attach socket, control fifos). */
  bundle: string;
  /** pidfile, exit and oom files, conmon's working directory. */
  taskDir: string;
  /** Where conmon writes `<id>` with the exit code, besides `<taskDir>/exit`. */
  exitDir?: string;
  logPath: string;
  /** conmon's `--log-size-max`: past it, conmon truncates the log (it keeps no older file). */
  logSizeMax?: number;
  terminal: boolean;
  stdin: boolean;
}

export type ConmonResult =
  { ok: true; pid: number; child: ChildProcess } | { ok: false; message: string | undefined; conmonStderr: string };

/** What conmon writes on `_OCI_SYNCPIPE` with `--api-version`: `{"data": pid}` or `{"data": -1, "message": …}`. */
interface SyncMessage {
  data: number;
  message?: string;
}

export function conmonArgs(o: ConmonOptions): string[] {
  const uuid = o.exec?.execId ?? o.id;
  const args = [
    '--api-version',
    '-c',
    o.id,
    '-u',
    uuid,
    '-n',
    uuid,
    '-r',
    o.runtime,
    '-b',
    o.bundle,
    '-p',
    `${o.taskDir}/pidfile`,
    '--persist-dir',
    o.taskDir,
    // The attach socket goes to <bundle>/attach: no symlink farm, no 108-byte sun_path limit
    // (clients connect through /proc/self/fd/N/attach).
    '--full-attach',
    '-l',
    `k8s-file:${o.logPath}`,
    '--log-level',
    'warning',
    // Keep conmon our direct child while we live: its exit is an event (no pidfd in Node, no
    // polling). It still outlives us: it runs in its own session and is reparented on our exit.
    '--sync',
  ];
  if (o.exitDir) args.push('--exit-dir', o.exitDir);
  if (o.logSizeMax !== undefined) args.push('--log-size-max', String(o.logSizeMax));
  // conmon runs `runtime exec --process <file> --detach [--tty --console-socket …] <id>`.
  if (o.exec) args.push('--exec', '--exec-process-spec', o.exec.processSpec);
  if (o.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  for (const a of o.runtimeArgs) args.push('--runtime-arg', a);
  return args;
}

/**
 * Starts conmon, which runs `runtime create` for the task (or `runtime exec` for an exec) and then
 * supervises it, and waits for its report on the sync pipe (podman's readConmonPipeData): the
 * process's pid, or the runtime's error. The sync pipe is fd 3 of conmon, which marks it close-on-exec so neither the
 * runtime nor the container inherit it; conmon's stdio is /dev/null.
 */
export function startConmon(o: ConmonOptions): Promise<ConmonResult> {
  return new Promise((resolve) => {
    const child = spawn(o.conmon, conmonArgs(o), {
      cwd: o.taskDir,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' },
    });
    const sync = child.stdio[3] as Readable;
    const stderr = child.stderr as Readable;
    let buf = '';
    let errText = '';
    let settled = false;
    let report: SyncMessage | undefined;
    const finish = (r: ConmonResult) => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    stderr.setEncoding('utf8');
    stderr.on('data', (s: string) => {
      if (errText.length < 64 * 1024) errText += s;
    });
    // After a successful report we stop listening: conmon's stderr is /dev/null by then anyway.
    const detach = () => {
      sync.destroy();
      stderr.destroy();
    };
    sync.setEncoding('utf8');
    sync.on('data', (s: string) => {
      buf += s;
      for (let nl = buf.indexOf('\n'); nl >= 0 && !report; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          report = JSON.parse(line) as SyncMessage;
        } catch {
          continue;
        }
        if (report.data > 0) {
          detach();
          // From now on conmon must not keep the daemon alive. Until here it must: an unref'd
          // child whose pipes have closed lets the loop end before its exit is delivered.
          child.unref();
          finish({ ok: true, pid: report.data, child });
        }
        // A failure report is followed by conmon's exit: wait for it (below) before rolling back.
      }
    });
    sync.on('error', () => {});
    stderr.on('error', () => {});
    child.on('error', (e) => finish({ ok: false, message: `conmon: ${e.message}`, conmonStderr: errText }));
    child.on('close', () => {
      finish({ ok: false, message: report?.message?.trim() || undefined, conmonStderr: errText.trim() });
    });
  });
}
