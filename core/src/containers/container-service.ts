import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type DaemonConfig, defaultRuntimeName } from '../config/daemon-config.js';
import { mountAll, resolveDirInRoot, rootfsPath, splitRelativePath, unmountAll } from '../host/index.js';
import type { ImageService } from '../images/image-service.js';
import {
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  SystemError,
} from '../plugin-api/errors.js';
import type { EventBus } from '../plugin-api/events.js';
import { type GraphDriver, SnapshotLabels } from '../plugin-api/graph-driver.js';
import type { Logger } from '../plugin-api/logger.js';
import type { LogEntry, Runtime } from '../plugin-api/runtime.js';
import type { ContainerNetworking } from '../networks/container-networking.js';
import { linkNames, linkTarget, renamedLinks, withoutLink } from '../networks/legacy-links.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';
import type { ContainerStore } from './container-store.js';
import { type ContainerRecord, type ContainerState, ZERO_TIME } from './container-types.js';
import { type ContainerSizes, containerSizes } from './container-size.js';
import { mergeEnv, mergeSet, settleHostConfig } from './create-defaults.js';
import { parseCreateBody, validateName } from './create-request.js';
import { assertLogsReadable, logRotationOf, validateLogConfig } from './log-config.js';
import { etcNetworkOptions, writeEtcFiles } from './etc-files.js';
import { ExitWaiters, type WaitCondition, type WaitResult } from './exit-waiters.js';
import { HealthMonitor } from './health-monitor.js';
import { imageHealthcheck, mergeHealthcheck } from './policy-config.js';
import { RestartManager } from './restart-manager.js';
import { randomName } from './names.js';
import { ResourceOps } from './resource-ops.js';
import { adaptCreateResources, ociResources } from './resources.js';
import { ociInputFromHostConfig, validateProcessConfig } from './host-options.js';
import type { ContainerVolumes } from '../volumes/container-volumes.js';
import { buildOciSpec, resolveUser } from './oci-spec.js';
import { processEnv } from './process-env.js';
import {
  prepareSharedShm,
  releaseSharedShm,
  resolveNamespaceDonors,
  sharedNamespacePaths,
} from './shared-namespaces.js';
import { compareStrings } from '../util/compare.js';
import { checkFilterKeys, pruneCutoff, pruneLabelsMatch } from '../util/filter-values.js';

export interface OutputSink {
  write(entry: LogEntry): void;
  end(): void;
}

/** One client attached to a container: where output goes, and optionally where stdin comes from. */
interface Attachment {
  sink: OutputSink;
  /** Paused until the process runs; its end closes the process's stdin when StdinOnce. */
  stdin?: NodeJS.ReadableStream;
  done?: Promise<void>;
}

function freshState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}

/** Creates, starts, watches and removes containers. */
export class ContainerService {
  private readonly waiters = new ExitWaiters();
  /** Attach streams waiting for (or following) the current run, per container. */
  private readonly attachments = new Map<string, Set<Attachment>>();
  private readonly busy = new Map<string, Promise<unknown>>();
  private readonly restarts: RestartManager;
  private readonly health: HealthMonitor;
  /** pause/unpause, update, stats, top (resource-ops.ts). */
  private readonly resources = new ResourceOps({
    get: (ref) => this.get(ref),
    save: (c) => this.store.update(c),
    runtimeOf: (c) => this.runtimeOf(c),
    publish: (c, action) => this.publish(c, action),
    serial: (id, fn) => this.serial(id, fn),
  });

  constructor(
    private readonly config: DaemonConfig,
    private readonly store: ContainerStore,
    private readonly images: ImageService,
    private readonly graph: GraphDriver,
    private readonly drivers: DriverRegistry,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly net: ContainerNetworking,
    private readonly volumes?: ContainerVolumes,
  ) {
    net.bindContainers(this);
    volumes?.bindContainers(this);
    this.restarts = new RestartManager(store, log);
    this.health = new HealthMonitor(
      {
        get: (id) => this.get(id),
        update: (c) => this.store.update(c),
        runtimeOf: (c) => this.runtimeOf(c),
        bundlePath: (id) => this.bundlePath(id),
        processEnv: (c, tty) => this.processEnvOf(c, tty),
        execRoot: config.execRoot,
        publish: (c, action, extra) => this.publish(c, action, extra),
      },
      log,
    );
  }

  private dir(id: string): string {
    return join(this.config.dataRoot, 'containers', id);
  }
  /** A `shareable` container's /dev/shm on the host. */
  private readonly shmDir = (id: string): string => join(this.dir(id), 'shm');

  /** The OCI bundle of a started container (its config.json describes the running task). */
  /** The environment dockerd gives an extra process (exec, health check) of a running container. */
  processEnvOf(c: ContainerRecord, tty: boolean): string[] {
    return processEnv(c.Config, tty, this.net.linkEnvNow(c));
  }

  bundlePath(id: string): string {
    return join(this.config.execRoot, 'containers', id);
  }

  /** Finds a container by full ID, name, or unique ID prefix. */
  get(ref: string): ContainerRecord {
    const c =
      this.store.get(ref) ??
      this.store.byName(ref.startsWith('/') ? ref : `/${ref}`) ??
      this.byLinkName(ref) ??
      (() => {
        if (!/^[0-9a-f]+$/.test(ref)) return undefined;
        const found = this.store.byIdPrefix(ref);
        if (found.length > 1) throw new InvalidParameterError(`multiple IDs found with provided prefix: ${ref}`);
        return found[0];
      })();
    if (!c) throw new NotFoundError(`No such container: ${ref}`);
    return c;
  }

  /** Containers with legacy links (ContainerLookup). */
  linking(): ContainerRecord[] {
    return this.store.withLinks();
  }

  /** A legacy link's name (`web/db`) is a name of the linked container, as in dockerd. */
  private byLinkName(ref: string): ContainerRecord | undefined {
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    const slash = name.lastIndexOf('/');
    const parent = slash > 0 ? this.store.byName(name.slice(0, slash)) : undefined;
    const child = parent && linkTarget(parent, name);
    return child ? this.store.byName(child) : undefined;
  }

  /** Every container's names: its own, then the names of the links to it (`GET /containers/json` Names). */
  namesOf(): (c: ContainerRecord) => string[] {
    const byChild = linkNames(this.store.withLinks());
    return (c) => [c.Name, ...(byChild.get(c.Name) ?? [])].sort(compareStrings);
  }

  /**
   * `docker rm --link web/db`: the link goes, the containers stay; a running parent's /etc/hosts
   * loses the link's line. Errors as dockerd 20.10's (the default name: 500).
   */
  async removeLink(ref: string): Promise<void> {
    this.get(ref); // dockerd looks the name up first: an unknown one is a 404 before anything else.
    const name = ref.startsWith('/') ? ref : `/${ref}`;
    const slash = name.lastIndexOf('/');
    if (slash === 0) throw new SystemError('Conflict, cannot remove the default link name of the container');
    const parent = this.get(name.slice(0, slash));
    await this.serial(parent.Id, async () => {
      const p = this.get(parent.Id);
      p.HostConfig.Links = withoutLink(p, name);
      this.store.update(p);
      if (p.State.Running) await this.net.linksChanged(p);
    });
  }

  list(): ContainerRecord[] {
    return this.store.list().sort((a, b) => compareStrings(b.Created, a.Created));
  }

  sizes(c: ContainerRecord): Promise<ContainerSizes> {
    return containerSizes(this.graph, this.images, c);
  }

  /** One operation at a time per container (start/stop/remove race otherwise). */
  private async serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.busy.set(id, next);
    try {
      return await next;
    } finally {
      if (this.busy.get(id) === next) this.busy.delete(id);
    }
  }

  async create(body: unknown, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    const { config, hostConfig, networking } = parseCreateBody(body);
    adaptCreateResources(hostConfig);
    resolveNamespaceDonors(hostConfig, (ref) => this.get(ref));
    const image = this.images.resolve(config.Image);
    const imgCfg = image.config.config ?? {};
    const id = randomBytes(32).toString('hex');
    const entrypoint = config.Entrypoint ?? imgCfg.Entrypoint ?? [];
    const cmd = config.Cmd ?? (config.Entrypoint ? [] : (imgCfg.Cmd ?? []));
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) throw new InvalidParameterError('No command specified');
    const env = mergeEnv(imgCfg.Env ?? [], config.Env);
    const runtimeName = hostConfig.Runtime ?? defaultRuntimeName(this.config);
    if (!this.config.runtimes[runtimeName]) throw new InvalidParameterError(`Unknown runtime specified ${runtimeName}`);
    validateLogConfig(hostConfig.LogConfig);
    settleHostConfig(hostConfig, runtimeName);
    const netPlan = await this.net.plan(hostConfig, networking, config);
    hostConfig.NetworkMode = netPlan.mode;
    const containerName = name ? validateName(name) : randomName();
    hostConfig.Links = this.net.legacyLinks(hostConfig, containerName, netPlan);
    const sharesHostNet = netPlan.hostNetwork;
    const dir = this.dir(id);
    const record: ContainerRecord = {
      Id: id,
      Name: containerName,
      Created: new Date().toISOString(),
      Path: argv[0]!,
      Args: argv.slice(1),
      Config: {
        ...config,
        // With the host's network or UTS namespace, dockerd gives the container the host's name too.
        Hostname: config.Hostname || (sharesHostNet || hostConfig.UTSMode === 'host' ? hostname() : id.slice(0, 12)),
        Env: env,
        Cmd: config.Cmd ?? imgCfg.Cmd ?? null,
        Entrypoint: config.Entrypoint ?? imgCfg.Entrypoint ?? null,
        WorkingDir: config.WorkingDir || imgCfg.WorkingDir || '',
        User: config.User || imgCfg.User || '',
        Labels: { ...(imgCfg.Labels ?? {}), ...config.Labels },
        ExposedPorts: mergeSet(config.ExposedPorts, imgCfg.ExposedPorts),
        Volumes: mergeSet(config.Volumes, imgCfg.Volumes),
        StopSignal: config.StopSignal ?? imgCfg.StopSignal,
        Healthcheck: mergeHealthcheck(config.Healthcheck, imageHealthcheck(imgCfg.Healthcheck)),
      },
      HostConfig: hostConfig,
      Image: image.id,
      State: freshState(),
      Driver: this.graph.name,
      RestartCount: 0,
      LogPath: join(dir, `${id}-json.log`),
      ResolvConfPath: join(dir, 'resolv.conf'),
      HostnamePath: join(dir, 'hostname'),
      HostsPath: join(dir, 'hosts'),
      RuntimeName: runtimeName,
    };
    // The image config is attacker input: bounded ids, clean paths outside /proc, /sys, /dev.
    record.Config.WorkingDir = validateProcessConfig({
      ...record.Config,
      Volumes: { ...imgCfg.Volumes, ...config.Volumes },
    });
    const top = image.layers.at(-1)?.chainId.replace(/^sha256:/, '');
    for (let attempt = 1; ; attempt++) {
      try {
        this.store.insert(record, () => this.net.record(id, netPlan));
        break;
      } catch (err) {
        if (name || !(err instanceof ConflictError) || attempt > 20) throw err;
        record.Name = randomName(attempt);
        record.HostConfig.Links = this.net.legacyLinks(record.HostConfig, record.Name, netPlan);
      }
    }
    try {
      mkdirSync(dir, { recursive: true, mode: 0o710 });
      await this.volumes?.attach(record);
      await this.graph.prepare(
        id,
        top,
        hostConfig.AutoRemove ? { labels: { [SnapshotLabels.Volatile]: 'true' } } : undefined,
      );
    } catch (err) {
      await this.volumes?.forget(id, true).catch(() => {});
      await this.net.forget(id).catch(() => {});
      this.store.delete(id);
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    this.publish(record, 'create');
    return { Id: id, Warnings: [] };
  }

  private publish(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.events.publish({
      Type: 'container',
      Action: action,
      Actor: { ID: c.Id, Attributes: { ...c.Config.Labels, image: c.Config.Image, name: c.Name.slice(1), ...extra } },
    });
  }

  runtimeOf(c: ContainerRecord): Promise<Runtime> {
    const entry = this.config.runtimes[c.RuntimeName];
    if (!entry) throw new SystemError(`runtime ${c.RuntimeName} is no longer configured`);
    return this.drivers.get('runtime', entry.runtimeType ?? 'linux', { ...entry }, c.RuntimeName);
  }

  async start(ref: string): Promise<void> {
    const c0 = this.get(ref);
    await this.serial(c0.Id, async () => {
      const c = this.get(c0.Id);
      if (c.State.Paused) throw new ConflictError('cannot start a paused container, try unpause instead');
      if (c.State.Running || c.State.Restarting) throw new NotModifiedError('container already started');
      if (c.State.Status === 'removing')
        throw new ConflictError(`container ${c.Id} is marked for removal and cannot be started`);
      this.restarts.reset(c);
      try {
        await this.startTask(c);
      } catch (err) {
        await this.failedStart(c, err);
        throw startError(err);
      }
    });
  }

  /** Like dockerd: record the error, undo the half-done start, and honour AutoRemove. */
  private async failedStart(c: ContainerRecord, err: unknown): Promise<void> {
    c.State = {
      ...c.State,
      Status: c.State.Status === 'created' ? 'created' : 'exited',
      Error: (err as Error).message,
      ExitCode: exitCodeFor(err),
    };
    this.store.update(c);
    await this.cleanupRun(c).catch(() => {});
    for (const a of this.attachments.get(c.Id) ?? []) a.sink.end();
    this.attachments.delete(c.Id);
    if (c.HostConfig.AutoRemove) {
      // Runs after the serial section that is still held by start().
      setImmediate(() => void this.remove(c.Id, { force: true }).catch(() => {}));
    }
  }

  /** The task's root filesystem: the driver's directory itself, or its mounts on `<bundle>/rootfs`. */
  private async mountRootfs(c: ContainerRecord, bundle: string): Promise<string> {
    const mounts = await this.graph.mounts(c.Id);
    mkdirSync(bundle, { recursive: true, mode: 0o700 });
    const direct = rootfsPath(mounts);
    if (direct) return direct;
    const rootfs = join(bundle, 'rootfs');
    mkdirSync(rootfs, { recursive: true });
    await mountAll(mounts, rootfs);
    c.MountedRootfs = rootfs;
    return rootfs;
  }

  private async startTask(c: ContainerRecord): Promise<void> {
    const net = await this.net.prepareStart(c);
    const runtime = await this.runtimeOf(c);

    const bundle = this.bundlePath(c.Id);
    const etc =
      net.etcFiles ??
      writeEtcFiles(this.dir(c.Id), {
        hostname: c.Config.Hostname,
        domainname: c.Config.Domainname,
        hostNetwork: net.hostNetwork,
        ...etcNetworkOptions(c.HostConfig),
      });
    const rootfs = await this.mountRootfs(c, bundle);
    const { ipcDonor, ...namespacePaths } = sharedNamespacePaths(c, (ref) => this.get(ref));
    const shmSource = await prepareSharedShm(c, ipcDonor, this.shmDir);
    const user = await resolveUser(rootfs, c.Config.User);
    // dockerd creates a missing working directory rather than failing the start.
    if (c.Config.WorkingDir)
      await resolveDirInRoot(rootfs, splitRelativePath(c.Config.WorkingDir.slice(1)), { create: true });
    const spec = buildOciSpec({
      id: c.Id,
      rootfs,
      args: [c.Path, ...c.Args],
      env: processEnv(c.Config, c.Config.Tty, net.linkEnv),
      cwd: c.Config.WorkingDir || '/',
      user,
      hostname: c.Config.Hostname,
      terminal: c.Config.Tty,
      readonlyRootfs: c.HostConfig.ReadonlyRootfs,
      network: net.namespace,
      capAdd: c.HostConfig.CapAdd ?? [],
      capDrop: c.HostConfig.CapDrop ?? [],
      privileged: c.HostConfig.Privileged,
      etcFiles: etc,
      cgroupsPath: `/skiff/${c.Id}`,
      resources: ociResources(c.HostConfig),
      ...ociInputFromHostConfig(c.HostConfig, net.hostNetwork ? 'host' : c.HostConfig.NetworkMode),
      ...namespacePaths,
      shmSource,
      volumeMounts: await this.volumes?.mountForStart(c, rootfs),
    });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const { pid } = await runtime.create({
      id: c.Id,
      bundle,
      terminal: c.Config.Tty,
      stdin: c.Config.OpenStdin,
      logPath: c.LogPath,
      logRotation: logRotationOf(c.HostConfig.LogConfig),
    });
    this.pumpAttachments(c, runtime);
    try {
      // Endpoints go into the task's namespace before its process runs.
      if (!net.hostNetwork) await this.net.attachAll(c, pid);
      await runtime.start(c.Id);
    } catch (err) {
      await runtime.kill(c.Id, 'KILL').catch(() => {});
      await runtime.delete(c.Id).catch(() => {});
      throw err;
    }
    c.State = { ...freshState(), Status: 'running', Running: true, Pid: pid, StartedAt: new Date().toISOString() };
    this.store.update(c);
    this.publish(c, 'start');
    this.watch(c, runtime);
  }

  /** Follows the task to its exit (also for tasks found running after a daemon restart). */
  private watch(c: ContainerRecord, runtime: Runtime, restored = false): void {
    this.health.start(c, { resume: restored });
    runtime
      .wait(c.Id)
      .then((exit) => this.onExit(c.Id, exit.exitCode, exit.oomKilled, exit.exitedAt))
      .catch((err) => {
        this.log.error('lost track of container', { id: c.Id, error: err as Error });
        return this.onExit(c.Id, 255, false, new Date(), (err as Error).message);
      });
  }

  private async onExit(id: string, code: number, oom: boolean, at: Date, error = ''): Promise<void> {
    this.health.stop(id);
    let c: ContainerRecord;
    try {
      c = this.get(id);
    } catch {
      return;
    }
    await Promise.allSettled([...(this.attachments.get(id) ?? [])].map((a) => a.done));
    this.attachments.delete(id);
    c.State = {
      ...c.State,
      Status: 'exited',
      Running: false,
      Paused: false,
      Pid: 0,
      ExitCode: code,
      OOMKilled: oom,
      Error: error,
      FinishedAt: at.toISOString(),
    };
    const restartIn = this.restarts.onExit(c, code);
    this.store.update(c);
    this.publish(c, 'die', { exitCode: String(code) });
    this.waiters.notify(id, 'exit', { StatusCode: code, Error: null });
    // Teardown comes after the waiters are released; a later start or remove waits for it (serial).
    const teardown = c.HostConfig.AutoRemove
      ? this.remove(id, { force: true })
      : this.serial(id, () => this.cleanupRun(c));
    await teardown.catch((err) => this.log.warn('teardown after exit failed', { id, error: err as Error }));
    if (restartIn !== undefined) this.restarts.schedule(id, restartIn, () => this.autoRestart(id));
  }

  /** A start by the restart policy: RestartCount and back-off are kept. */
  private autoRestart(id: string): Promise<void> {
    return this.serial(id, async () => {
      const c = this.get(id);
      if (!c.State.Restarting || !this.restarts.wanted(id)) return;
      try {
        await this.startTask(c);
      } catch (err) {
        c.State.Restarting = false;
        await this.failedStart(c, err);
      }
    });
  }

  /** Drops the pending restart of a `restarting` container (a user's stop, kill); true if there was one. */
  private endRestart(id: string): Promise<boolean> {
    return this.serial(id, async () => {
      const c = this.get(id);
      if (!this.restarts.settle(c)) return false;
      this.waiters.notify(id, 'exit', { StatusCode: c.State.ExitCode, Error: null });
      return true;
    });
  }

  /** Undoes what start did; safe to repeat. */
  private async cleanupRun(c: ContainerRecord): Promise<void> {
    const runtime = await this.runtimeOf(c).catch(() => undefined);
    await runtime
      ?.delete(c.Id)
      .catch((err) => this.log.warn('runtime delete failed', { id: c.Id, error: err as Error }));
    await releaseSharedShm(c, this.shmDir);
    if (c.MountedRootfs) {
      await unmountAll(c.MountedRootfs);
      c.MountedRootfs = undefined;
      this.store.update(c);
    }
    await rm(this.bundlePath(c.Id), { recursive: true, force: true });
    await this.volumes?.release(c.Id);
    await this.net
      .detachAll(c)
      .catch((err) => this.log.warn('network detach failed', { id: c.Id, error: err as Error }));
  }

  /**
   * Streams the output of the container's next (or current) run to `sink`; with `stdin` (only for
   * containers created with OpenStdin), feeds it to the process once it runs.
   */
  attach(ref: string, sink: OutputSink, stdin?: NodeJS.ReadableStream): void {
    const c = this.get(ref);
    let set = this.attachments.get(c.Id);
    if (!set) {
      set = new Set();
      this.attachments.set(c.Id, set);
    }
    const a: Attachment = { sink, stdin: c.Config.OpenStdin ? stdin : undefined };
    set.add(a);
    this.publish(c, 'attach');
    if (c.State.Running) {
      void this.runtimeOf(c).then((rt) => this.pumpOne(c, rt, a));
    }
  }

  private pumpAttachments(c: ContainerRecord, runtime: Runtime): void {
    for (const a of this.attachments.get(c.Id) ?? []) if (!a.done) this.pumpOne(c, runtime, a);
  }

  private pumpOne(c: ContainerRecord, runtime: Runtime, a: Attachment): void {
    if (a.stdin) this.feedStdin(c, runtime, a.stdin);
    a.done = (async () => {
      try {
        for await (const entry of runtime.logs(c.Id, c.LogPath, { follow: true, tail: 0 })) a.sink.write(entry);
      } catch (err) {
        this.log.warn('attach stream failed', { id: c.Id, error: err as Error });
      } finally {
        a.sink.end();
        this.attachments.get(c.Id)?.delete(a);
      }
    })();
  }

  private feedStdin(c: ContainerRecord, runtime: Runtime, stdin: NodeJS.ReadableStream): void {
    if (!runtime.openStdin) return;
    runtime.openStdin(c.Id).then(
      (w) => {
        w.on('error', () => {});
        stdin.pipe(w, { end: c.Config.StdinOnce });
        stdin.resume();
      },
      (err) => this.log.warn('cannot attach stdin', { id: c.Id, error: err as Error }),
    );
  }

  /** Detaches a sink whose client went away. */
  detach(ref: string, sink: OutputSink): void {
    const set = this.attachments.get(ref);
    for (const a of set ?? []) if (a.sink === sink) set!.delete(a);
  }

  async logs(
    ref: string,
    opts: { follow: boolean; tail?: number; signal?: AbortSignal },
  ): Promise<{ c: ContainerRecord; entries: AsyncIterable<LogEntry> }> {
    const c = this.get(ref);
    assertLogsReadable(c.HostConfig.LogConfig);
    const runtime = await this.runtimeOf(c);
    return { c, entries: runtime.logs(c.Id, c.LogPath, { ...opts, follow: opts.follow && c.State.Running }) };
  }

  /** Settles once the container's pending operations (such as the teardown after an exit) are done. */
  async settled(ref: string): Promise<void> {
    await this.serial(this.get(ref).Id, async () => {});
  }

  async wait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult> {
    const c = this.get(ref);
    if (condition === 'removed') return this.waiters.wait(c.Id, 'removed', signal);
    if (condition === 'not-running' && !c.State.Running && !c.State.Restarting)
      return { StatusCode: c.State.ExitCode, Error: null };
    return this.waiters.wait(c.Id, 'exit', signal);
  }

  async kill(ref: string, signal = 'KILL'): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running && !c.State.Restarting) throw new ConflictError(`Container ${c.Id} is not running`);
    const cancels = this.restarts.manualKill(c, signal);
    if (c.State.Restarting && (!cancels || (await this.endRestart(c.Id)))) return;
    const runtime = await this.runtimeOf(c);
    const sig = signal.replace(/^SIG/i, '').toUpperCase();
    await runtime.kill(c.Id, sig, { all: true });
    await this.resources.thawAfterSignal(c.Id);
    this.publish(c, 'kill', { signal: sig });
  }

  async restart(ref: string, timeoutSec?: number): Promise<void> {
    const c = this.get(ref);
    if (c.State.Running || c.State.Restarting) await this.stop(c.Id, timeoutSec);
    await this.start(c.Id);
    this.publish(this.get(c.Id), 'restart');
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    const name = validateName(newName);
    if (name === c.Name) throw new ConflictError(`Renaming a container with the same name as its current name`);
    const oldName = c.Name;
    const other = this.store.byName(name);
    if (other) {
      throw new ConflictError(
        `Conflict. The container name "${name}" is already in use by container "${other.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    c.Name = name;
    this.store.update(c);
    // Links name both ends by name (`/db:/web/x`): dockerd shows them with the new one.
    for (const p of this.store.withLinks()) {
      const links = renamedLinks(p, oldName, name);
      if (links.every((l, i) => l === (p.HostConfig.Links as string[])[i])) continue;
      p.HostConfig.Links = links;
      if (p.Id === c.Id) c.HostConfig.Links = links;
      this.store.update(p);
    }
    this.publish(c, 'rename', { oldName });
    await this.net
      .renamed(c)
      .catch((err) => this.log.warn('renaming DNS records failed', { id: c.Id, error: err as Error }));
  }

  /**
   * `POST /containers/prune`: removes the stopped containers the filters select (`until`,
   * `label`, `label!`); returns their IDs and the bytes their writable layers held.
   */
  async prune(filters: Map<string, string[]> = new Map()): Promise<{ deleted: string[]; reclaimed: number }> {
    checkFilterKeys(filters, ['until', 'label', 'label!']);
    const cutoff = pruneCutoff(filters);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.store.list()) {
      if (c.State.Running) continue;
      if (cutoff !== undefined && Date.parse(c.Created) >= cutoff) continue;
      if (!pruneLabelsMatch(c.Config.Labels, filters)) continue;
      const { SizeRw } = await this.sizes(c).catch(() => ({ SizeRw: 0 }));
      await this.remove(c.Id, { force: false }).then(
        () => {
          deleted.push(c.Id);
          reclaimed += SizeRw;
        },
        (err) => this.log.warn('prune could not remove a container', { id: c.Id, error: err as Error }),
      );
    }
    return { deleted, reclaimed };
  }

  pause(ref: string): Promise<void> {
    return this.resources.pause(ref);
  }

  unpause(ref: string): Promise<void> {
    return this.resources.unpause(ref);
  }

  update(ref: string, body: unknown): Promise<{ Warnings: string[] }> {
    return this.resources.update(ref, body);
  }

  stats(ref: string, opts: { stream: boolean; oneShot: boolean; signal: AbortSignal }) {
    return this.resources.stats(ref, opts);
  }

  top(ref: string, psArgs: string) {
    return this.resources.top(ref, psArgs);
  }

  async resize(ref: string, width: number, height: number): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running) throw new ConflictError(`Container ${c.Id} is not running`);
    const runtime = await this.runtimeOf(c);
    if (!runtime.resize) throw new NotImplementedError(`runtime ${c.RuntimeName} cannot resize terminals`);
    await runtime.resize(c.Id, width, height);
  }

  /**
   * The container's next exit; settled at once when its record says it runs no more (an exit
   * already handled while the caller awaited something else would never be announced again).
   */
  private nextExit(id: string): Promise<unknown> {
    const c = this.store.get(id);
    if (!c || (!c.State.Running && !c.State.Restarting)) return Promise.resolve();
    return this.waiters.wait(id, 'exit');
  }

  async stop(ref: string, timeoutSec?: number): Promise<void> {
    const c = this.get(ref);
    if (!c.State.Running && !c.State.Restarting) throw new NotModifiedError('container already stopped');
    this.restarts.manualStop(c, true);
    if (await this.endRestart(c.Id)) return this.publish(c, 'stop');
    const exited = this.nextExit(c.Id);
    const runtime = await this.runtimeOf(c);
    const t = timeoutSec ?? c.Config.StopTimeout ?? 10;
    await runtime.kill(c.Id, (c.Config.StopSignal ?? 'TERM').replace(/^SIG/i, '')).catch(() => {});
    await this.resources.thawAfterSignal(c.Id);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, t) * 1000).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      await runtime.kill(c.Id, 'KILL', { all: true }).catch(() => {});
      await exited;
    }
    this.publish(c, 'stop');
  }

  async remove(ref: string, opts: { force: boolean; volumes?: boolean }): Promise<void> {
    const c0 = this.get(ref);
    await this.serial(c0.Id, async () => {
      let c = this.get(c0.Id);
      if (c.State.Restarting) {
        if (!opts.force)
          throw new ConflictError(
            `You cannot remove a restarting container ${c.Id}. Stop the container before attempting removal or force remove`,
          );
        this.restarts.forget(c.Id);
      }
      if (c.State.Running) {
        if (!opts.force) {
          throw new ConflictError(
            `You cannot remove a running container ${c.Id}. Stop the container before attempting removal or force remove`,
          );
        }
        const exited = this.nextExit(c.Id);
        const runtime = await this.runtimeOf(c);
        await runtime.kill(c.Id, 'KILL', { all: true }).catch((err: unknown) => {
          // Exited on its own meanwhile: nothing to kill.
          if (!(err instanceof ConflictError)) throw err;
        });
        await exited;
        c = this.get(c.Id);
      }
      // The record goes first so waiters (docker run --rm) are released before the slow
      // teardown; whatever a crash leaves behind is collected by reconcile().
      this.store.delete(c.Id);
      this.restarts.forget(c.Id);
      // Before the waiters: once `docker rm`/`run --rm` returns, the volumes are no longer in use.
      await this.volumes?.forget(c.Id, opts.volumes === true || c.HostConfig.AutoRemove);
      this.publish(c, 'destroy');
      this.waiters.notify(c.Id, 'removed', { StatusCode: c.State.ExitCode, Error: null });
      await this.cleanupRun(c);
      await this.net.forget(c.Id);
      await this.dropStorage(c.Id);
    });
  }

  /** Removes a container's rw snapshot and directories; safe to repeat. */
  private async dropStorage(id: string): Promise<void> {
    await unmountAll(join(this.bundlePath(id), 'rootfs'));
    await this.graph.remove(id).catch((err) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
    await rm(this.dir(id), { recursive: true, force: true });
    await rm(this.bundlePath(id), { recursive: true, force: true });
  }

  /**
   * At start-up, before serving: writable snapshots and directories that belong to no container
   * (a crash between removing a record and its storage, an interrupted pull) are removed.
   */
  private async collectOrphans(): Promise<void> {
    const known = new Set(this.store.list().map((c) => c.Id));
    const orphans = new Set<string>();
    for (const s of await this.graph.list()) if (s.kind !== 'committed' && !known.has(s.key)) orphans.add(s.key);
    for (const dir of [join(this.config.dataRoot, 'containers'), join(this.config.execRoot, 'containers')]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) if (!known.has(name)) orphans.add(name);
    }
    await this.volumes?.collectOrphans(known);
    for (const id of orphans) {
      await this.dropStorage(id).catch((err) =>
        this.log.warn('cannot remove orphaned storage', { id, error: err as Error }),
      );
    }
  }

  /** After a daemon restart: follow tasks that still run, record those that exited meanwhile. */
  async reconcile(): Promise<void> {
    await this.collectOrphans();
    for (const c of this.store.list()) {
      if (!c.State.Running) continue;
      try {
        const runtime = await this.runtimeOf(c);
        const st = await runtime.state(c.Id);
        if (st.status === 'running' || st.status === 'paused' || st.status === 'created') this.watch(c, runtime, true);
        else
          await this.onExit(
            c.Id,
            st.exit?.exitCode ?? 255,
            st.exit?.oomKilled ?? false,
            st.exit?.exitedAt ?? new Date(),
          );
      } catch (err) {
        this.log.warn('skipping container during reconcile', { id: c.Id, error: err as Error });
      }
    }
    await this.net.restore();
    await this.restarts.startAtBoot(this.store.list(), (id) => this.start(id));
  }
}

/** Runtimes may say which exit code a failed start stands for (127 not found, 126 cannot execute). */
function exitCodeFor(err: unknown): number {
  const hint = (err as { exitCodeHint?: unknown })?.exitCodeHint;
  return typeof hint === 'number' ? hint : 128;
}

/** A process that cannot be started is the request's fault (400), as in dockerd. */
function startError(err: unknown): unknown {
  if (exitCodeFor(err) === 128 || err instanceof InvalidParameterError) return err;
  return new InvalidParameterError((err as Error).message, { cause: err });
}
