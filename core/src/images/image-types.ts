import type { HealthConfig } from '../containers/container-types.js';

/** The parts of an OCI/Docker image config the engine reads. */
export interface ImageConfigFile {
  architecture?: string;
  variant?: string;
  os?: string;
  created?: string;
  author?: string;
  config?: ContainerConfigDefaults;
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
}

export interface ContainerConfigDefaults {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
}

export interface ImageLayer {
  /** Compressed blob digest (what the registry serves). */
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
  chainId: string;
}

/** An image as stored: identified by its config digest. */
export interface ImageRecord {
  id: string;
  config: ImageConfigFile;
  manifestDigest: string;
  layers: ImageLayer[];
  /** Sum of uncompressed layer sizes. */
  size: number;
  created: string;
  /**
   * The image this one was built on, for the classic builder's step images (dockerd's parent
   * link): untagged images with children are intermediate, hidden from `docker images` and
   * removed with the last image that stands on them.
   */
  parent?: string;
}

/** One message of Docker's JSON progress stream (pull, push, build). */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  stream?: string;
  aux?: unknown;
  errorDetail?: { code?: number; message: string };
  error?: string;
}
