/** Container config as in the Docker API `ContainerConfig` (fields the engine uses). */
export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts: Record<string, object> | null;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: HealthConfig;
}

/** `Config.Healthcheck`; durations in nanoseconds, 0 = the default. `Test` `["NONE"]` disables an image's check. */
export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** One probe in `State.Health.Log`. */
export interface HealthcheckResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  /** The last five probes, oldest first. */
  Log: HealthcheckResult[];
}

export interface HostConfig {
  NetworkMode: string;
  AutoRemove: boolean;
  Runtime?: string;
  Binds: string[] | null;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  RestartPolicy: { Name: string; MaximumRetryCount: number };
  LogConfig: { Type: string; Config: Record<string, string> };
  ShmSize?: number;
  [key: string]: unknown;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState;
}

/** What is stored for a container. */
export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  HostConfig: HostConfig;
  /** Image ID (`sha256:…`). */
  Image: string;
  State: ContainerState;
  Driver: string;
  RestartCount: number;
  LogPath: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  /** Runtime name (key of `runtimes`) the container was started with. */
  RuntimeName: string;
  /** Stopped or killed by a user since its last start (`unless-stopped` then stays down at daemon start). */
  HasBeenManuallyStopped?: boolean;
  /** Where the rootfs was mounted by the core, when it had to mount it. */
  MountedRootfs?: string;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';
