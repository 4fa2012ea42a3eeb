import { definePlugin } from '@skiff/core/plugin-api';
import { VfsDriver } from './driver.js';

export { VfsDriver } from './driver.js';

export default definePlugin({
  apiVersion: 1,
  kind: 'storage',
  name: 'vfs',
  register(r) {
    r.provide(
      () =>
        new VfsDriver(r.paths.root, (file, err) =>
          r.log.warn(`vfs: skipping corrupt snapshot record ${file}: ${String(err)}`),
        ),
    );
  },
});
