import type { NetworkDriver, NetworkDriverCapabilities } from '../plugin-api/network-driver.js';

/**
 * A network driver with nothing to set up: it only chooses the namespace (`host`: the host's;
 * `private`: a new one with loopback, made by the runtime). net-host and net-none are this.
 */
export class StaticNetworkDriver implements NetworkDriver {
  constructor(
    readonly name: string,
    private readonly namespace: NetworkDriverCapabilities['namespace'],
  ) {}

  capabilities(): NetworkDriverCapabilities {
    return {
      namespace: this.namespace,
      endpoints: false,
      needsIpam: false,
      portMapping: false,
      dns: false,
      scope: 'local',
    };
  }
  async createNetwork() {
    return {};
  }
  async deleteNetwork() {}
  async attach() {
    return { interfaces: [], ips: [], routes: [] };
  }
  async detach() {}
}
