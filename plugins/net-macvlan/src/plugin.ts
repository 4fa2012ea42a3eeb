import { definePlugin } from '@skiff/core/plugin-api';
import { MacvlanDriver } from './macvlan-driver.js';

export { MacvlanDriver, type MacvlanDriverOptions, MODES, parseOptions } from './macvlan-driver.js';

/** `macvlan` networks: `-o parent=<if>` (an 802.1q `if.<vlan>` is created when missing), `-o macvlan_mode=`. */
export default definePlugin({
  apiVersion: 1,
  kind: 'network',
  name: 'macvlan',
  register(r) {
    if (process.platform !== 'linux') r.skip('macvlan needs Linux');
    r.provide(() => new MacvlanDriver({ log: r.log }));
  },
});
