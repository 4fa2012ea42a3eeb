import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import { ENGINE_VERSION } from '../api/api-version.js';
import { goMap } from '../util/go-json.js';
import { type DaemonConfig, defaultRuntimeName } from '../config/daemon-config.js';
import type { ContainerService } from '../containers/container-service.js';
import type { ImageService } from '../images/image-service.js';

async function operatingSystem(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
}

/** `GET /info`, shaped like dockerd 20.10's answer. */
export async function systemInfo(opts: {
  id: string;
  config: DaemonConfig;
  storageDriver: string;
  /** The storage driver's own lines (its `status()`). */
  driverStatus: Array<[string, string]>;
  images: ImageService;
  containers: ContainerService;
  drivers: { network: string[]; storage: string[]; runtime: string[]; volume?: string[] };
}): Promise<Record<string, unknown>> {
  const list = opts.containers.list();
  const running = list.filter((c) => c.State.Running).length;
  const paused = list.filter((c) => c.State.Paused).length;
  const cgroupV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  return {
    ID: opts.id,
    Containers: list.length,
    ContainersRunning: running,
    ContainersPaused: paused,
    ContainersStopped: list.length - running - paused,
    Images: opts.images.list().length,
    Driver: opts.storageDriver,
    DriverStatus: opts.driverStatus,
    Plugins: {
      Volume: opts.drivers.volume ?? [],
      Network: opts.drivers.network,
      Authorization: null,
      Log: ['json-file'],
    },
    MemoryLimit: true,
    SwapLimit: false,
    // API 1.41 still reports kernel-memory accounting (cgroup v1 only).
    KernelMemory: !cgroupV2 && existsSync('/sys/fs/cgroup/memory/memory.kmem.limit_in_bytes'),
    KernelMemoryTCP: !cgroupV2 && existsSync('/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes'),
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: false,
    BridgeNfIp6tables: false,
    Debug: opts.config.logLevel === 'debug',
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: cgroupV2 ? '2' : '1',
    NEventsListener: 0,
    KernelVersion: release(),
    OperatingSystem: await operatingSystem(),
    OSVersion: '',
    OSType: 'linux',
    Architecture: arch() === 'x64' ? 'x86_64' : arch(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['127.0.0.0/8'],
      IndexConfigs: goMap({
        'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true },
        ...Object.fromEntries(
          opts.config.insecureRegistries.map((r) => [r, { Name: r, Mirrors: [], Secure: false, Official: false }]),
        ),
      }),
      Mirrors: [],
    },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    GenericResources: null,
    DockerRootDir: opts.config.dataRoot,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: ENGINE_VERSION,
    Runtimes: goMap(
      Object.fromEntries(Object.entries(opts.config.runtimes).map(([k, v]) => [k, { path: v.path ?? k }])),
    ),
    DefaultRuntime: defaultRuntimeName(opts.config),
    Swarm: {
      NodeID: '',
      NodeAddr: '',
      LocalNodeState: 'inactive',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
    },
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '', Expected: '' },
    RuncCommit: { ID: '', Expected: '' },
    InitCommit: { ID: '', Expected: '' },
    SecurityOptions: ['name=seccomp,profile=default'],
    Warnings: null,
  };
}
