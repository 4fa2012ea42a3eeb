import { busyboxLayout, pushImage } from './busybox.js';
import { type Registry, type StartRegistryOptions, startRegistry } from './registry.js';

export interface BusyboxRegistry extends Registry {
  /** `127.0.0.1:PORT/busybox:latest`, pushed as an OCI manifest. */
  image: string;
  /** The OCI layout it was pushed from (for pushing more tags). */
  layout: string;
}

/** A fresh registry with the busybox test image pushed as `<host>/busybox:latest`. */
export async function registryWithBusybox(opts: StartRegistryOptions = {}): Promise<BusyboxRegistry> {
  const [registry, layout] = await Promise.all([startRegistry(opts), busyboxLayout()]);
  const image = `${registry.host}/busybox:latest`;
  try {
    await pushImage(layout, image);
  } catch (e) {
    await registry.stop();
    throw e;
  }
  return Object.assign(registry, { image, layout });
}
