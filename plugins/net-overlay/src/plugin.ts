import { definePlugin, InvalidParameterError, Tokens } from '@skiff/core/plugin-api';
import { OverlayDriver } from './overlay-driver.js';

export { OverlayDriver, type OverlayDriverOptions, VXLAN_OVERHEAD } from './overlay-driver.js';

/**
 * `overlay` networks across skiff hosts. Needs daemon.json `cluster-store` and
 * `cluster-advertise`. Settings (`plugin-config`): `leaseTtl` (seconds, default 15): how long a
 * dead host's endpoints stay visible to the others.
 */
export default definePlugin({
  apiVersion: 1,
  kind: 'network',
  name: 'overlay',
  requires: ['Cluster', 'Firewall'],
  register(r) {
    if (process.platform !== 'linux') r.skip('VXLAN needs Linux');
    const ttl = r.settings.leaseTtl;
    if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 2 || ttl > 3600))
      throw new InvalidParameterError('overlay: leaseTtl must be an integer from 2 to 3600');
    r.provide(() => {
      let cluster;
      try {
        cluster = r.get(Tokens.Cluster);
      } catch {
        throw new InvalidParameterError(
          'overlay networks need a cluster store: set "cluster-store" (etcd://host:port) and "cluster-advertise" in daemon.json',
        );
      }
      let firewall;
      try {
        firewall = r.get(Tokens.Firewall);
      } catch {
        r.log.warn('overlay: no firewall: overlay networks are not isolated from each other on this host');
      }
      return new OverlayDriver({ cluster, firewall, leaseTtl: ttl as number | undefined, log: r.log });
    });
  },
});
