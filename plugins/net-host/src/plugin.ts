import { StaticNetworkDriver } from '@skiff/core/host';
import { definePlugin } from '@skiff/core/plugin-api';

/** `--network host`: containers share the host's network namespace; nothing to set up. */
export default definePlugin({
  apiVersion: 1,
  kind: 'network',
  name: 'host',
  register(r) {
    r.provide(() => new StaticNetworkDriver('host', 'host'));
  },
});
