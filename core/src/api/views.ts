import type { ContainerSizes } from '../containers/container-size.js';
import { type ContainerRecord, type HostConfig, ZERO_TIME } from '../containers/container-types.js';
import type { ImageService } from '../images/image-service.js';
import type { ListedImage } from '../images/image-filters.js';
import type { ImageRecord } from '../images/image-types.js';
import { SystemError } from '../plugin-api/errors.js';
import { CONFIG_ORDER, goMap, HOST_CONFIG_ORDER, inGoOrder } from '../util/go-json.js';

const unix = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** "3 seconds", "About a minute", "4 minutes", "About an hour", "2 hours", "3 days", … (go-units HumanDuration). */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

export function statusText(c: ContainerRecord, now = Date.now()): string {
  const st = c.State;
  if (st.Restarting) return `Restarting (${st.ExitCode}) ${humanDuration(now - Date.parse(st.FinishedAt))} ago`;
  if (st.Running && st.Paused) return `Up ${humanDuration(now - Date.parse(st.StartedAt))} (Paused)`;
  if (st.Running) return `Up ${humanDuration(now - Date.parse(st.StartedAt))}${healthSuffix(st.Health)}`;
  if (st.Status === 'exited') {
    if (st.FinishedAt.startsWith('0001')) return 'Exited';
    return `Exited (${st.ExitCode}) ${humanDuration(now - Date.parse(st.FinishedAt))} ago`;
  }
  if (st.Status === 'removing') return 'Removal In Progress';
  if (st.Status === 'dead') return 'Dead';
  return 'Created';
}

/** moby's Health.String: " (health: starting)", " (healthy)", " (unhealthy)". */
function healthSuffix(h: ContainerRecord['State']['Health']): string {
  if (!h) return '';
  return h.Status === 'starting' ? ' (health: starting)' : ` (${h.Status})`;
}

function commandLine(c: ContainerRecord): string {
  return [c.Path, ...c.Args].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ');
}

/** Networking views of a container (networks/container-networking.ts); absent = no networking. */
export interface ContainerNetworkViews {
  settings(c: ContainerRecord): Record<string, unknown>;
  summary(c: ContainerRecord): { Ports: unknown[]; Networks: Record<string, unknown> };
}

export function containerSummary(c: ContainerRecord, net?: ContainerNetworkViews, names = [c.Name]) {
  const ns = net?.summary(c);
  return {
    Id: c.Id,
    Names: names,
    Image: c.Config.Image,
    ImageID: c.Image,
    Command: commandLine(c),
    Created: unix(c.Created),
    Ports: ns?.Ports ?? [],
    Labels: goMap(c.Config.Labels),
    State: c.State.Status,
    Status: statusText(c),
    HostConfig: { NetworkMode: c.HostConfig.NetworkMode },
    NetworkSettings: { Networks: ns?.Networks ?? {} },
    Mounts: [],
  };
}

/** HostConfig as dockerd writes it: moby's field order, its maps' keys sorted. */
function hostConfigView(h: HostConfig): HostConfig {
  const maps = ['PortBindings', 'Tmpfs', 'Sysctls', 'StorageOpt', 'Annotations'] as const;
  const sorted: Record<string, unknown> = {};
  for (const k of maps) if (h[k]) sorted[k] = goMap(h[k] as Record<string, unknown>);
  return inGoOrder(
    { ...h, ...sorted, LogConfig: { ...h.LogConfig, Config: goMap(h.LogConfig.Config) } },
    HOST_CONFIG_ORDER,
  );
}

/** A container list entry with its sizes where moby's types.Container has them (after Ports). */
export function withSizes<T extends object>(entry: T, sizes: Partial<ContainerSizes>): T & Partial<ContainerSizes> {
  return inGoOrder({ ...entry, ...sizes }, SUMMARY_ORDER);
}

const SUMMARY_ORDER = ['Id', 'Names', 'Image', 'ImageID', 'Command', 'Created', 'Ports', 'SizeRw', 'SizeRootFs'];

export function containerInspect(c: ContainerRecord, net?: ContainerNetworkViews) {
  const everStarted = c.State.StartedAt !== ZERO_TIME;
  // ExposedPorts is omitempty in moby's ContainerConfig.
  const { ExposedPorts, ...config } = c.Config;
  return {
    Id: c.Id,
    Created: c.Created,
    Path: c.Path,
    Args: c.Args,
    State: {
      Status: c.State.Status,
      // dockerd counts a restarting container as running.
      Running: c.State.Running || c.State.Restarting,
      Paused: c.State.Paused,
      Restarting: c.State.Restarting,
      OOMKilled: c.State.OOMKilled,
      Dead: c.State.Dead,
      Pid: c.State.Pid,
      ExitCode: c.State.ExitCode,
      Error: c.State.Error,
      StartedAt: c.State.StartedAt,
      FinishedAt: c.State.FinishedAt,
      ...(c.State.Health ? { Health: c.State.Health } : {}),
    },
    Image: c.Image,
    // dockerd sets these files up at the first start.
    ResolvConfPath: everStarted ? c.ResolvConfPath : '',
    HostnamePath: everStarted ? c.HostnamePath : '',
    HostsPath: everStarted ? c.HostsPath : '',
    LogPath: everStarted ? c.LogPath : '',
    Name: c.Name,
    RestartCount: c.RestartCount,
    Driver: c.Driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigView(c.HostConfig),
    GraphDriver: { Data: null, Name: c.Driver },
    Mounts: [],
    Config: inGoOrder(
      {
        ...config,
        ...(ExposedPorts && Object.keys(ExposedPorts).length > 0 ? { ExposedPorts: goMap(ExposedPorts) } : {}),
        Volumes: goMap(config.Volumes),
        Labels: goMap(config.Labels),
      },
      CONFIG_ORDER,
    ),
    NetworkSettings: net?.settings(c) ?? {
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: {},
      SandboxKey: '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: '',
      Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      MacAddress: '',
      Networks: {},
    },
  };
}

export function imageSummary(listed: ListedImage) {
  const { image: img, tags, digests } = listed;
  const none = tags.length === 0 && digests.length === 0;
  return {
    Containers: listed.containers,
    Created: unix(img.created),
    Id: img.id,
    Labels: goMap(img.config.config?.Labels) ?? null,
    ParentId: '',
    RepoDigests: none ? ['<none>@<none>'] : digests,
    RepoTags: none ? ['<none>:<none>'] : tags,
    SharedSize: listed.sharedSize,
    Size: img.size,
    VirtualSize: img.size,
  };
}

/**
 * `GET /images/{name}/history`, newest first, as moby's ImageHistory: one entry per history
 * item, non-empty ones matched in order to the layers (their size), the ID and tags on the
 * top entry only, `<missing>` elsewhere.
 */
export function imageHistory(img: ImageRecord, images: ImageService) {
  const { store } = images.local;
  const out: {
    Id: string;
    Created: number;
    CreatedBy: string;
    Tags: string[] | null;
    Size: number;
    Comment: string;
  }[] = [];
  let layer = 0;
  for (const h of img.config.history ?? []) {
    let size = 0;
    if (!h.empty_layer) {
      const l = img.layers[layer++];
      if (!l) throw new SystemError(`image ${img.id} has more non-empty history entries than layers`);
      size = store.layerSize(l.chainId) ?? 0;
    }
    const created = h.created ? unix(h.created) : 0;
    out.unshift({
      Id: '<missing>',
      Created: Number.isFinite(created) ? created : 0,
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  const top = out[0];
  if (top) {
    const { tags } = images.names(img.id);
    top.Id = img.id;
    top.Tags = tags.length ? tags : null;
  }
  return out;
}

/** An image config's container config with nothing set, as dockerd shows it (ContainerConfig of a pulled image). */
const EMPTY_CONFIG = {
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: null,
};

export function imageInspect(img: ImageRecord, images: ImageService, driver: string) {
  const { tags, digests } = images.names(img.id);
  const cfg = img.config.config ?? {};
  return {
    Id: img.id,
    RepoTags: tags,
    RepoDigests: digests,
    // Built images record the image of the step before (build/step-image.ts).
    Parent: (img as { parent?: string }).parent ?? '',
    Comment: img.config.history?.at(-1)?.comment ?? '',
    Created: img.created,
    // Set by docker commit (container-files.ts), as dockerd's V1Image fields.
    Container: (img.config as { container?: string }).container ?? '',
    ContainerConfig: inGoOrder(
      (img.config as { container_config?: object }).container_config ?? EMPTY_CONFIG,
      CONFIG_ORDER,
    ),
    DockerVersion: '',
    Author: img.config.author ?? '',
    Config: inGoOrder(
      {
        ...EMPTY_CONFIG,
        User: cfg.User ?? '',
        // omitempty in moby's container.Config.
        ...(cfg.ExposedPorts && Object.keys(cfg.ExposedPorts).length ? { ExposedPorts: goMap(cfg.ExposedPorts) } : {}),
        Env: cfg.Env ?? null,
        Cmd: cfg.Cmd ?? null,
        Volumes: goMap(cfg.Volumes) ?? null,
        WorkingDir: cfg.WorkingDir ?? '',
        Entrypoint: cfg.Entrypoint ?? null,
        OnBuild: (cfg as { OnBuild?: string[] | null }).OnBuild ?? null,
        Labels: goMap(cfg.Labels) ?? null,
        ...(cfg.StopSignal ? { StopSignal: cfg.StopSignal } : {}),
        // Set by builds (build/builder.ts).
        ...(cfg.Healthcheck ? { Healthcheck: cfg.Healthcheck } : {}),
        ...((cfg as { Shell?: string[] }).Shell ? { Shell: (cfg as { Shell?: string[] }).Shell } : {}),
      },
      CONFIG_ORDER,
    ),
    Architecture: img.config.architecture ?? '',
    Os: img.config.os ?? 'linux',
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Data: null, Name: driver },
    RootFS: { Type: 'layers', Layers: img.config.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}
