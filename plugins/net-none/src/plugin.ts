import { definePlugin, type NetworkDriver } from '@skiff/core/plugin-api';

/** `--network none`: a private network namespace with only loopback, created by the runtime itself. */
export class NoneNetworkDriver implements NetworkDriver {
  readonly name = 'none';
  capabilities() {
    return {
      namespace: 'private',
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
  name: 'none',
  register(r) {
    r.provide(() => new NoneNetworkDriver());
  },
});
