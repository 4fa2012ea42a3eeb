import { createHash, randomBytes } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import type { ContainerConfig } from '../containers/container-types.js';
import { rollback } from '../images/image-load.js';
import type { LocalImageParts } from '../images/image-service.js';
import type { ContainerConfigDefaults, ImageConfigFile, ImageLayer, ImageRecord } from '../images/image-types.js';

/** The uncompressed layer media type, as commit and import store layers. */
const LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
/** The diff ID of a tar with no entries: the step changed no file (an `empty_layer`). */
const EMPTY_TAR_DIGEST = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/** The image config the builder works on: the engine's defaults plus what only images carry. */
export type BuildConfig = ContainerConfigDefaults & {
  OnBuild?: string[] | null;
  Shell?: string[];
  ArgsEscaped?: boolean;
};

export interface NewLayer {
  layer: ImageLayer;
  /** This step created the snapshot (else an identical layer existed). */
  created: boolean;
}

/**
 * Stores a step's layer tar: the blob goes to the content store (for push and save) while the
 * same bytes are unpacked on top of `parentChain`. Undefined when the tar is empty.
 */
export async function commitLayer(
  parts: LocalImageParts,
  parentChain: string | undefined,
  tar: Readable,
  label: string,
): Promise<NewLayer | undefined> {
  const writer = await parts.content.writer(`build-${randomBytes(8).toString('hex')}`);
  let result: Awaited<ReturnType<typeof parts.unpacker.unpackNew>>;
  try {
    const tee = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        writer.write(chunk).then(() => cb(null, chunk), cb);
      },
    });
    tar.once('error', (e) => tee.destroy(e));
    result = await parts.unpacker.unpackNew(parentChain, tar.pipe(tee), label);
  } catch (err) {
    await writer.abort().catch(() => {});
    throw err;
  }
  if (result.diffId === EMPTY_TAR_DIGEST) {
    await writer.abort().catch(() => {});
    if (result.created) await rollback(parts, [result.chainId]);
    return undefined;
  }
  try {
    if (await parts.content.has(result.diffId)) await writer.abort();
    else await writer.commit(result.size, result.diffId);
  } catch (err) {
    if (result.created) await rollback(parts, [result.chainId]);
    throw err;
  }
  return {
    layer: {
      digest: result.diffId,
      mediaType: LAYER_TAR,
      size: result.size,
      diffId: result.diffId,
      chainId: result.chainId,
    },
    created: result.created,
  };
}

export interface StepImageInput {
  /** Undefined: FROM scratch. */
  parent?: ImageRecord;
  config: BuildConfig;
  /** The history line (`/bin/sh -c #(nop)  ENV A=1`). */
  createdBy: string;
  /** `container_config.Cmd`: the command the step ran or its `#(nop)` description. */
  containerCmd: string[];
  layer?: NewLayer;
  author?: string;
  /** The build container the step ran in, if any. */
  containerId?: string;
}

/** Writes a step's image config and registers the (untagged) image. Returns its ID. */
export async function writeStepImage(parts: LocalImageParts, o: StepImageInput): Promise<ImageRecord> {
  const created = new Date().toISOString();
  const parentCfg = o.parent?.config;
  const author = o.author ?? parentCfg?.author;
  const file: ImageConfigFile & Record<string, unknown> = {
    architecture: parentCfg?.architecture ?? 'amd64',
    ...(parentCfg?.variant ? { variant: parentCfg.variant } : {}),
    os: parentCfg?.os ?? 'linux',
    created,
    ...(author ? { author } : {}),
    config: o.config,
    container: o.containerId ?? '',
    container_config: {
      ...o.config,
      Cmd: o.containerCmd,
    } as unknown as ContainerConfig,
    docker_version: '',
    rootfs: {
      type: 'layers',
      diff_ids: [...(parentCfg?.rootfs.diff_ids ?? []), ...(o.layer ? [o.layer.layer.diffId] : [])],
    },
    history: [
      ...(parentCfg?.history ?? []),
      { created, created_by: o.createdBy, ...(o.layer ? {} : { empty_layer: true }) },
    ],
  };
  const bytes = Buffer.from(JSON.stringify(file));
  const id = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  try {
    if (!(await parts.content.has(id))) {
      const w = await parts.content.writer(`build-config-${id}`, { digest: id, size: bytes.length });
      await w.write(bytes);
      await w.commit(bytes.length, id);
    }
    const layers = [...(o.parent?.layers ?? []), ...(o.layer ? [o.layer.layer] : [])];
    // `parent` is dockerd's image parent link (intermediate images); the store keeps it with the record.
    const image: ImageRecord & { parent?: string } = {
      ...(o.parent ? { parent: o.parent.id } : {}),
      id,
      config: file,
      manifestDigest: '',
      layers,
      size: (o.parent?.size ?? 0) + (o.layer?.layer.size ?? 0),
      created,
    };
    parts.store.put(image, []);
    return image;
  } catch (err) {
    if (o.layer?.created) await rollback(parts, [o.layer.layer.chainId]);
    throw err;
  }
}
