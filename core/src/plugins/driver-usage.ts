// What keeps a driver from being disabled or removed: objects made with it and config naming it.

import type { DaemonConfig } from '../config/daemon-config.js';
import type { NetworkService } from '../networks/network-service.js';
import type { PluginKind } from '../plugin-api/tokens.js';
import type { VolumeService } from '../volumes/volume-service.js';

export interface UsageSources {
  config: DaemonConfig;
  /** The graph driver the daemon runs with. */
  storageDriver: string;
  networks?: Pick<NetworkService, 'list'>;
  volumes?: Pick<VolumeService, 'list'>;
}

/** Short descriptions of everything that uses `kind`/`name` (empty: nothing does). */
export function driverUsers(src: UsageSources, kind: PluginKind, name: string): string[] {
  const { config } = src;
  switch (kind) {
    case 'storage':
      return name === src.storageDriver ? [`it is the storage driver this daemon runs with (storage-driver)`] : [];
    case 'network':
      return (src.networks?.list() ?? []).filter((n) => n.Driver === name).map((n) => `network ${n.Name}`);
    case 'ipam':
      return (src.networks?.list() ?? []).filter((n) => n.IPAM.Driver === name).map((n) => `network ${n.Name}`);
    case 'volume':
      return (src.volumes?.list(new Map()) ?? []).filter((v) => v.driver === name).map((v) => `volume ${v.name}`);
    case 'runtime':
      return Object.entries(config.runtimes)
        .filter(([, r]) => (r.runtimeType ?? 'linux') === name)
        .map(([rt]) => `runtime ${rt} in the daemon config`);
    case 'firewall':
      return config.firewallDriver === name ? ['it is the firewall-driver in the daemon config'] : [];
    case 'clusterstore':
      return config.clusterStore?.split(':')[0]?.replace(/s$/, '') === name
        ? ['it serves cluster-store in the daemon config']
        : [];
  }
}
