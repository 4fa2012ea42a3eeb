import { readFileSync } from 'node:fs';
import { definePlugin, InvalidParameterError } from '@skiff/core/plugin-api';
import { parseStoreUrl } from './store-url.js';

export type { EtcdStore, EtcdStoreOptions } from './etcd-store.js';
export { parseStoreUrl } from './store-url.js';

/**
 * The `etcd` cluster store. The host creates it with options `{ url, tls?: {ca, cert, key} (file
 * paths), timeoutMs? }` from daemon.json `cluster-store` / `cluster-store-opts`.
 */
export default definePlugin({
  apiVersion: 1,
  kind: 'clusterstore',
  name: 'etcd',
  register(r) {
    // etcd3 (with gRPC and protobufjs) is loaded only by a daemon configured with a cluster store.
    r.provide(async (o) => {
      if (typeof o.url !== 'string') throw new InvalidParameterError('etcd cluster store: url must be a string');
      parseStoreUrl(o.url);
      const tlsOpts = (o.tls ?? {}) as Record<string, unknown>;
      const file = (k: string) => {
        const v = tlsOpts[k];
        if (v === undefined) return undefined;
        if (typeof v !== 'string') throw new InvalidParameterError(`etcd cluster store: tls.${k} must be a path`);
        return readFileSync(v);
      };
      const timeoutMs = o.timeoutMs;
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || timeoutMs < 100))
        throw new InvalidParameterError('etcd cluster store: timeoutMs must be a number ≥ 100');
      const { EtcdStore } = await import('./etcd-store.js');
      return new EtcdStore({
        url: o.url,
        tls: { ca: file('ca'), cert: file('cert'), key: file('key') },
        timeoutMs: timeoutMs as number | undefined,
        log: r.log,
      });
    });
  },
});
