import { definePlugin } from '@skiff/core/plugin-api';
import { LocalVolumeDriver } from './local-driver.js';

/** Docker's `local` volume driver. */
export default definePlugin({
  apiVersion: 1,
  kind: 'volume',
  name: 'local',
  register(r) {
    r.provide(() => new LocalVolumeDriver(r.paths.root, r.paths.state));
  },
});
