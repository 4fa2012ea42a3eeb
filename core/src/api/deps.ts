import type { BuildCache } from '../build/build-cache.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { ContainerService } from '../containers/container-service.js';
import type { ExecService } from '../containers/exec-service.js';
import type { MemoryEventBus } from '../events/event-bus.js';
import type { ImagePusher } from '../images/image-push.js';
import type { ImageService } from '../images/image-service.js';
import type { RegistryClient } from '../images/registry-client.js';
import type { ContainerNetworking } from '../networks/container-networking.js';
import type { NetworkService } from '../networks/network-service.js';
import type { Logger } from '../plugin-api/logger.js';
import type { PluginListEntry, PluginManager } from '../plugins/plugin-manager.js';
import type { ContainerVolumes } from '../volumes/container-volumes.js';

/** What the API layer needs from the engine. */
export interface ApiDeps {
  config: DaemonConfig;
  images: ImageService;
  containers: ContainerService;
  /** `docker login` checks. */
  registry: RegistryClient;
  /** `docker push`. */
  pusher: ImagePusher;
  events: MemoryEventBus;
  execs: ExecService;
  log: Logger;
  storageDriver: string;
  /** Networks and container networking (absent in engines built without them). */
  networking?: { networks: NetworkService; containers: ContainerNetworking };
  /** Volumes and containers' mounts (absent in engines built without them). */
  volumes?: ContainerVolumes;
  /** The classic builder's step cache (absent in engines built without a builder). */
  buildCache?: BuildCache;
  /** `GET /info` body. */
  info(): Promise<Record<string, unknown>>;
  /** `GET /skiff/v1/plugins`: each requested plugin package and its outcome. */
  plugins?(): Promise<PluginListEntry[]>;
  /** The plugin store behind /skiff/v1/plugins/… (absent in engines built without one). */
  pluginManager?: PluginManager;
}
