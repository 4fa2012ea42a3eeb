import { isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Container } from 'inversify';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Cluster } from '../plugin-api/cluster-store.js';
import type { Logger } from '../plugin-api/logger.js';
import { Tokens } from '../plugin-api/tokens.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';

/** A cluster setting the daemon cannot start with (reported as one line). */
export class ClusterConfigError extends Error {}

/** `cluster-advertise`: an IPv4 address (dockerd's `ip:port` form too) or an interface's first IPv4. */
export function resolveAdvertise(
  value: string,
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string {
  const ip = value.replace(/:\d+$/, '');
  if (isIPv4(ip)) return ip;
  const addrs = interfaces[value];
  if (!addrs) throw new ClusterConfigError(`cluster-advertise ${value}: no such address or interface`);
  const v4 = addrs.find((a) => a.family === 'IPv4');
  if (!v4) throw new ClusterConfigError(`cluster-advertise ${value}: the interface has no IPv4 address`);
  return v4.address;
}

/**
 * Creates the cluster store `cluster-store` names (through its `clusterstore` plugin) and binds
 * it with this host's advertise address for the plugins that require it. Nothing is contacted yet:
 * a store that is down fails the operations that need it, not the daemon's start.
 */
export async function wireCluster(
  config: DaemonConfig,
  drivers: DriverRegistry,
  di: Container,
  log: Logger,
): Promise<Cluster | undefined> {
  if (!config.clusterStore) return undefined;
  const kind = config.clusterStore.split(':')[0]!.replace(/s$/, '');
  if (!drivers.has('clusterstore', kind))
    throw new ClusterConfigError(
      `cluster-store ${config.clusterStore} needs the "${kind}" cluster store plugin (@skiff/clusterstore-${kind}), which is not available`,
    );
  const advertise = resolveAdvertise(config.clusterAdvertise ?? '');
  const o = config.clusterStoreOpts;
  const store = await drivers
    .get('clusterstore', kind, {
      url: config.clusterStore,
      tls: {
        ...(o['kv.cacertfile'] ? { ca: o['kv.cacertfile'] } : {}),
        ...(o['kv.certfile'] ? { cert: o['kv.certfile'] } : {}),
        ...(o['kv.keyfile'] ? { key: o['kv.keyfile'] } : {}),
      },
    })
    .catch((err: Error) => {
      throw new ClusterConfigError(`cluster store ${config.clusterStore} failed to start: ${err.message}`);
    });
  const cluster: Cluster = { store, advertise };
  di.bind(Tokens.ClusterStore).toConstantValue(store);
  di.bind(Tokens.Cluster).toConstantValue(cluster);
  log.info(`cluster store ${config.clusterStore}, advertising ${advertise}`);
  return cluster;
}
