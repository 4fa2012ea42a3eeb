import { createHash } from 'node:crypto';
import { definePlugin, InvalidParameterError, Tokens } from '@skiff/core/plugin-api';
import { BridgeDriver } from './bridge-driver.js';
import { parseUpstream, type Upstream } from './dns/server.js';

export { BridgeDriver, type BridgeDriverOptions, bridgeName, parseMtu } from './bridge-driver.js';
export { DnsServer, parseUpstream, resolvConfUpstreams, type Upstream } from './dns/server.js';
export * as dnsWire from './dns/wire.js';

/**
 * `bridge` networks. Settings (daemon.json `plugin-config`): `dns` (false turns the embedded DNS
 * off), `dnsUpstreams` (["ip", "ip:port"], default: the host's /etc/resolv.conf), `dnsPort`.
 */
export default definePlugin({
  apiVersion: 1,
  kind: 'network',
  name: 'bridge',
  requires: ['Firewall'],
  register(r) {
    if (process.platform !== 'linux') r.skip('Linux bridges need Linux');
    const s = r.settings;
    let dnsUpstreams: Upstream[] | undefined;
    if (s.dnsUpstreams !== undefined) {
      if (!Array.isArray(s.dnsUpstreams)) throw new InvalidParameterError('bridge: dnsUpstreams must be a list');
      dnsUpstreams = s.dnsUpstreams.map((u) => {
        const parsed = typeof u === 'string' ? parseUpstream(u) : undefined;
        if (!parsed) throw new InvalidParameterError(`bridge: bad DNS upstream ${JSON.stringify(u)}`);
        return parsed;
      });
    }
    if (s.dnsPort !== undefined && (typeof s.dnsPort !== 'number' || !Number.isInteger(s.dnsPort)))
      throw new InvalidParameterError('bridge: dnsPort must be an integer');
    if (s.dns !== undefined && typeof s.dns !== 'boolean')
      throw new InvalidParameterError('bridge: dns must be a boolean');
    r.provide(
      () =>
        new BridgeDriver({
          firewall: r.get(Tokens.Firewall),
          dnsUpstreams,
          dnsPort: s.dnsPort as number | undefined,
          dns: s.dns as boolean | undefined,
          owner: createHash('sha256').update(r.paths.root).digest('hex').slice(0, 12),
          log: r.log,
        }),
    );
  },
});
