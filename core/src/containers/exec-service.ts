import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execDetachKeys } from '../api/detach-keys.js';
import { ConflictError, InvalidParameterError, NotFoundError, NotImplementedError } from '../plugin-api/errors.js';
import type { EventBus } from '../plugin-api/events.js';
import type { Logger } from '../plugin-api/logger.js';
import type { Runtime } from '../plugin-api/runtime.js';
import type { ContainerService, OutputSink } from './container-service.js';
import type { ContainerRecord } from './container-types.js';
import { execProcessSpec } from './run-in-container.js';

export interface ExecConfig {
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  Env: string[];
  Cmd: string[];
  WorkingDir: string;
  User: string;
  Privileged: boolean;
  DetachKeys: string;
}

export interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
}

/** Output of an exec, plus in-band errors for the case where it never started. */
export interface ExecSink extends OutputSink {
  /** Text written into the stream when the exec cannot start (the 101 has already gone out). */
  error(message: string): void;
}

const asBool = (v: unknown) => v === true;

function parseExecBody(body: unknown): ExecConfig {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new InvalidParameterError('exec config must be an object');
  const b = body as Record<string, unknown>;
  const list = (k: string) => {
    const v = b[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      throw new InvalidParameterError(`${k} must be a list of strings`);
    return v as string[];
  };
  const str = (k: string) => {
    const v = b[k];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new InvalidParameterError(`${k} must be a string`);
    return v;
  };
  const cmd = list('Cmd');
  if (cmd.length === 0) throw new InvalidParameterError('No exec command specified');
  const cwd = str('WorkingDir');
  // dockerd refuses bad keys at create, not when the exec starts.
  execDetachKeys(str('DetachKeys'));
  if (cwd && !cwd.startsWith('/'))
    throw new InvalidParameterError(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);
  return {
    AttachStdin: asBool(b.AttachStdin),
    AttachStdout: asBool(b.AttachStdout),
    AttachStderr: asBool(b.AttachStderr),
    Tty: asBool(b.Tty),
    Env: list('Env'),
    Cmd: cmd,
    WorkingDir: cwd,
    User: str('User'),
    Privileged: asBool(b.Privileged),
    DetachKeys: str('DetachKeys'),
  };
}

/** `docker exec`: extra processes in running containers, kept in memory like dockerd's exec store. */
export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();
  /** Settles when a created exec's process is up or has failed to start (resize waits on it). */
  private readonly launches = new Map<string, PromiseWithResolvers<void>>();

  constructor(
    private readonly containers: ContainerService,
    private readonly execRoot: string,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {
    events.subscribe((e) => {
      if (e.Type === 'container' && e.Action === 'destroy') this.forgetContainer(e.Actor.ID);
    });
  }

  create(containerRef: string, body: unknown): { Id: string } {
    const c = this.containers.get(containerRef);
    const config = parseExecBody(body);
    if (!c.State.Running) throw new ConflictError(`Container ${c.Id} is not running`);
    // dockerd names the container as the request did.
    if (c.State.Paused)
      throw new ConflictError(`Container ${containerRef} is paused, unpause the container before exec`);
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { id, containerId: c.Id, config, running: false, started: false, exitCode: null, pid: 0 });
    this.launches.set(id, Promise.withResolvers());
    this.publish(c, `exec_create: ${config.Cmd.join(' ')}`, id);
    return { Id: id };
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new NotFoundError(`No such exec instance: ${id}`);
    return e;
  }

  inspect(id: string) {
    const e = this.get(id);
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: e.config.Tty,
        entrypoint: e.config.Cmd[0],
        arguments: e.config.Cmd.slice(1),
        privileged: e.config.Privileged,
        ...(e.config.User ? { user: e.config.User } : {}),
      },
      OpenStdin: e.config.AttachStdin,
      OpenStderr: e.config.AttachStderr,
      OpenStdout: e.config.AttachStdout,
      CanRemove: false,
      ContainerID: e.containerId,
      DetachKeys: e.config.DetachKeys,
      Pid: e.pid,
    };
  }

  private publish(c: ContainerRecord, action: string, execId: string, extra: Record<string, string> = {}): void {
    this.events.publish({
      Type: 'container',
      Action: action,
      Actor: {
        ID: c.Id,
        Attributes: { ...c.Config.Labels, execID: execId, image: c.Config.Image, name: c.Name.slice(1), ...extra },
      },
    });
  }

  /** The exec's OCI process: the container's process with the exec's command, env, cwd and user. */
  private processSpec(c: ContainerRecord, cfg: ExecConfig): Promise<Record<string, unknown>> {
    return execProcessSpec(this.containers.bundlePath(c.Id), {
      cmd: cfg.Cmd,
      baseEnv: this.containers.processEnvOf(c, cfg.Tty),
      env: cfg.Env,
      cwd: cfg.WorkingDir,
      user: cfg.User,
      tty: cfg.Tty,
      privileged: cfg.Privileged,
    });
  }

  /**
   * Runs the exec and streams it to `sink` until it exits; the exit code is recorded before the
   * stream ends (the CLI inspects the exec right after). Errors starting it go in-band, as in dockerd.
   */
  async start(
    id: string,
    opts: { detach: boolean },
    sink: ExecSink | undefined,
    stdin?: NodeJS.ReadableStream,
  ): Promise<void> {
    const e = this.get(id);
    if (e.started) throw new ConflictError(`Error: Exec command ${id} has already run`);
    const c = this.containers.get(e.containerId);
    if (!c.State.Running) throw new ConflictError(`Container ${c.Id} is not running`);
    if (c.State.Paused) throw new ConflictError(`Container ${c.Id} is paused, unpause the container before exec`);
    const runtime = await this.containers.runtimeOf(c);
    if (!runtime.exec || !runtime.waitExec)
      throw new NotImplementedError(`runtime ${c.RuntimeName} does not support exec`);
    e.started = true;
    const logPath = join(this.execRoot, 'execs', `${id}.log`);
    try {
      await mkdir(join(this.execRoot, 'execs'), { recursive: true, mode: 0o700 });
      e.pid = (
        await runtime.exec(c.Id, {
          execId: id,
          process: await this.processSpec(c, e.config),
          terminal: e.config.Tty,
          stdin: e.config.AttachStdin && !opts.detach,
          logPath,
        })
      ).pid;
    } catch (err) {
      this.launched(id);
      const hint = (err as { exitCodeHint?: unknown }).exitCodeHint;
      e.exitCode = typeof hint === 'number' ? hint : 126;
      if (!sink) throw err;
      sink.error(`${(err as Error).message}\r\n`);
      sink.end();
      await rm(logPath, { force: true });
      return;
    }
    e.running = true;
    this.launched(id);
    this.publish(c, `exec_start: ${e.config.Cmd.join(' ')}`, id);
    if (stdin && runtime.openStdin) {
      runtime.openStdin(c.Id, id).then(
        (w) => {
          w.on('error', () => {});
          stdin.pipe(w);
          stdin.resume();
        },
        (err) => this.log.warn('cannot attach exec stdin', { id, error: err as Error }),
      );
    }
    const finished = this.finish(runtime, c, e, logPath, sink);
    if (opts.detach) void finished;
    else await finished;
  }

  private async finish(
    runtime: Runtime,
    c: ContainerRecord,
    e: ExecRecord,
    logPath: string,
    sink: ExecSink | undefined,
  ) {
    const output = (async () => {
      if (!sink) return;
      try {
        for await (const entry of runtime.logs(c.Id, logPath, { follow: true, execId: e.id })) {
          if (entry.stream === 'stdout' ? e.config.AttachStdout : e.config.AttachStderr) sink.write(entry);
        }
      } catch (err) {
        this.log.warn('exec stream failed', { id: e.id, error: err as Error });
      }
    })();
    const exit = await runtime.waitExec!(c.Id, e.id).catch(() => ({ exitCode: 126 }));
    await output;
    e.exitCode = exit.exitCode;
    e.running = false;
    e.pid = 0;
    this.publish(c, 'exec_die', e.id, { exitCode: String(exit.exitCode) });
    sink?.end();
    await rm(logPath, { force: true });
  }

  private launched(id: string): void {
    this.launches.get(id)?.resolve();
    this.launches.delete(id);
  }

  /** As dockerd: a resize sent before the exec's process is up (the CLI sends it at once) waits up to 10 s. */
  async resize(id: string, width: number, height: number): Promise<void> {
    const e = this.get(id);
    const launch = this.launches.get(id);
    if (launch) {
      const timeout = new AbortController();
      await Promise.race([
        launch.promise,
        sleep(10_000, undefined, { signal: timeout.signal }).then(() => {
          throw new Error('timeout waiting for exec session ready');
        }),
      ]).finally(() => timeout.abort());
    }
    if (!e.running) throw new NotFoundError('no such exec');
    const c = this.containers.get(e.containerId);
    const runtime = await this.containers.runtimeOf(c);
    if (!runtime.resize) throw new NotImplementedError(`runtime ${c.RuntimeName} cannot resize terminals`);
    await runtime.resize(c.Id, width, height, id);
  }

  private forgetContainer(containerId: string): void {
    for (const [id, e] of this.execs) {
      if (e.containerId !== containerId) continue;
      this.execs.delete(id);
      this.launched(id);
    }
  }
}
