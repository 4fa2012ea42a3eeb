import { definePlugin } from '@skiff/core/plugin-api';
import { OverlayDriver } from './driver.js';
import { overlayUnsupported } from './support.js';

export { OverlayDriver } from './driver.js';

export default definePlugin({
  apiVersion: 1,
  kind: 'storage',
  name: 'overlay',
  async register(r) {
    const why = await overlayUnsupported(r.paths.root);
    if (why) r.skip(`overlayfs not supported: ${why}`);
    r.provide(
      () =>
        new OverlayDriver(r.paths.root, (file, err) =>
          r.log.warn(`overlay: skipping corrupt snapshot record ${file}: ${String(err)}`),
        ),
    );
  },
});
