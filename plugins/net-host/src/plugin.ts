import { definePlugin, type NetworkDriver } from '@skiff/core/plugin-api';

/** `--network host`: containers share the host's network namespace; nothing to set up. */
export class HostNetworkDriver implements NetworkDriver {
  readonly name = 'host';
  capabilities() {
    return {
      namespace: 'host',
      endpoints: false,
      needsIpam: false,
      portMapping: false,
      dns: false,
      scope: 'local',
    } as const;
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

export default definePlugin({
  apiVersion: 1,
  kind: 'network',
  name: 'host',
  register(r) {
    r.provide(() => new HostNetworkDriver());
  },
});
