import type { GlobalNetwork } from '../plugin-api/cluster-store.js';
import type { Logger } from '../plugin-api/logger.js';
import type { NetworkDriver } from '../plugin-api/network-driver.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';
import type { NetworkService } from './network-service.js';
import type { NetworkRecord } from './network-store.js';

const RETRY_MS = 5000;

/**
 * Networks of global-scope drivers exist on every host: each host adds the ones made elsewhere
 * to its own store (same id and name) and drops the ones removed elsewhere, so `docker network
 * ls/inspect` and `docker run --network` work on any host.
 */
export async function watchGlobalNetworks(
  networks: NetworkService,
  drivers: DriverRegistry,
  log: Logger,
): Promise<void> {
  for (const name of drivers.names('network')) {
    let driver: NetworkDriver;
    try {
      driver = await drivers.get('network', name);
    } catch {
      continue;
    }
    if (driver.capabilities().scope !== 'global' || !driver.watchNetworks) continue;
    const watch = (): void => {
      driver.watchNetworks!((list) => apply(networks, name, list, log)).catch((err: Error) => {
        log.warn(`cannot watch the ${name} networks (retrying): ${err.message}`);
        setTimeout(watch, RETRY_MS).unref();
      });
    };
    watch();
  }
}

function apply(networks: NetworkService, driver: string, list: GlobalNetwork[], log: Logger): void {
  const store = networks.store;
  const ids = new Set(list.map((g) => g.id));
  for (const g of list) {
    if (store.get(g.id)) continue;
    const clash = store.byName(g.name);
    if (clash) {
      log.warn(`${driver} network ${g.name} (${g.id.slice(0, 12)}) is not shown here: a local network has that name`);
      continue;
    }
    const rec: NetworkRecord = {
      Id: g.id,
      Name: g.name,
      Created: g.created,
      Driver: g.driver,
      Scope: 'global',
      EnableIPv6: g.ipv6,
      Internal: g.internal,
      Attachable: g.attachable,
      Options: { ...g.options },
      Labels: { ...g.labels },
      IPAM: { Driver: 'default', Options: {}, Config: g.ipamConfig.map((c) => ({ ...c })) },
      pools: [],
      state: { ...g.state },
      builtin: false,
    };
    try {
      store.insert(rec);
      networks.publish(rec, 'create');
    } catch (err) {
      log.warn(`cannot add ${driver} network ${g.name}: ${(err as Error).message}`);
    }
  }
  for (const rec of store.list()) {
    if (rec.Driver !== driver || rec.Scope !== 'global' || ids.has(rec.Id)) continue;
    // Removed elsewhere; a network with endpoints here stays until they are gone.
    if (store.endpointsOn(rec.Id).length > 0) continue;
    store.delete(rec.Id);
    networks.publish(rec, 'destroy');
  }
}
