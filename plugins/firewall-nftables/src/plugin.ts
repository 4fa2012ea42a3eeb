import { definePlugin, InvalidParameterError } from '@skiff/core/plugin-api';
import { NftablesFirewall } from './nftables-firewall.js';

export { NftablesFirewall, type NftablesFirewallOptions } from './nftables-firewall.js';
export { renderRuleset } from './ruleset.js';

/**
 * `firewall-driver: nftables`. Settings (daemon.json `plugin-config`): `table` (default `skiff`),
 * `netns` (run nft in another namespace), `mark` (coexistence mark bit), `checkListeners`.
 */
export default definePlugin({
  apiVersion: 1,
  kind: 'firewall',
  name: 'nftables',
  register(r) {
    const s = r.settings;
    const str = (k: string) => {
      const v = s[k];
      if (v !== undefined && typeof v !== 'string') throw new InvalidParameterError(`nftables: ${k} must be a string`);
      return v;
    };
    const mark = s.mark;
    if (mark !== undefined && typeof mark !== 'number')
      throw new InvalidParameterError('nftables: mark must be a number');
    const check = s.checkListeners;
    if (check !== undefined && typeof check !== 'boolean')
      throw new InvalidParameterError('nftables: checkListeners must be a boolean');
    r.provide(
      () => new NftablesFirewall({ table: str('table'), netns: str('netns'), mark, checkListeners: check, log: r.log }),
    );
  },
});
