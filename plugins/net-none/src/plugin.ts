import { StaticNetworkDriver } from '@skiff/core/host';
import { definePlugin } from '@skiff/core/plugin-api';

/** `--network none`: a private network namespace with only loopback, created by the runtime itself. */
export default definePlugin({
  apiVersion: 1,
  kind: 'network',
  name: 'none',
  register(r) {
    r.provide(() => new StaticNetworkDriver('none', 'private'));
  },
});
