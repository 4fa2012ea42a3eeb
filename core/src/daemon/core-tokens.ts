import type { DatabaseSync } from 'node:sqlite';
import type { ApiDeps } from '../api/deps.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { ContainerService } from '../containers/container-service.js';
import type { ImageService } from '../images/image-service.js';
import type { RegistryClient } from '../images/registry-client.js';
import type { Token } from '../plugin-api/tokens.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';
import type { PluginStatus } from '../plugins/plugin-loader.js';

function token<T>(key: string): Token<T> {
  return Symbol.for(`skiff.core.${key}`) as Token<T>;
}

/** Host-internal services; plugins never see these. */
export const CoreTokens = {
  Config: token<DaemonConfig>('config'),
  Database: token<DatabaseSync>('database'),
  Drivers: token<DriverRegistry>('drivers'),
  PluginStatus: token<PluginStatus[]>('plugin-status'),
  RegistryClient: token<RegistryClient>('registry-client'),
  ImageService: token<ImageService>('image-service'),
  ContainerService: token<ContainerService>('container-service'),
  ApiDeps: token<ApiDeps>('api-deps'),
} as const;
