import type { GraphDriver } from '../plugin-api/graph-driver.js';
import type { ImageService } from '../images/image-service.js';
import type { ContainerRecord } from './container-types.js';

/** `SizeRw` and `SizeRootFs` of ps `--size` and inspect `?size=1`, as dockerd reports them. */
export interface ContainerSizes {
  /** Bytes the container wrote on top of its image. */
  SizeRw: number;
  /** Its whole filesystem: the image's layers plus SizeRw. */
  SizeRootFs: number;
}

export async function containerSizes(
  graph: GraphDriver,
  images: ImageService,
  c: ContainerRecord,
): Promise<ContainerSizes> {
  let imageSize = 0;
  try {
    imageSize = images.resolve(c.Image).size;
  } catch {
    // The image was removed with force: only the container's own bytes are known.
  }
  const sizeOf = (key: string) =>
    graph.usage(key).then(
      (u) => u.size,
      () => 0,
    );
  let rw = await sizeOf(c.Id);
  if (!graph.capabilities().copyOnWrite) {
    // A copying driver's snapshot holds the image too: take away its parent's, measured alike.
    const parent = await graph.stat(c.Id).then(
      (s) => s.parent,
      () => undefined,
    );
    if (parent !== undefined) rw = Math.max(0, rw - (await sizeOf(parent)));
  }
  return { SizeRw: rw, SizeRootFs: rw + imageSize };
}

/** The sizes as a container list entry carries them: like dockerd's `omitempty`, zeros are left out. */
export function listedSizes(s: ContainerSizes): Partial<ContainerSizes> {
  return { ...(s.SizeRw ? { SizeRw: s.SizeRw } : {}), ...(s.SizeRootFs ? { SizeRootFs: s.SizeRootFs } : {}) };
}
