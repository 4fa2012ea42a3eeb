import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import tar from 'tar-stream';
import { withMounted } from '../host/mount.js';
import { applyChanges } from '../images/image-changes.js';
import { rollback } from '../images/image-load.js';
import { withImageLock } from '../images/image-remove.js';
import type { ImageService } from '../images/image-service.js';
import { repoTagReference, setTag } from '../images/image-tags.js';
import type { ContainerConfigDefaults, ImageConfigFile, ImageRecord } from '../images/image-types.js';
import { diffTrees } from '../images/layer-diff.js';
import type { ImageReference } from '../images/reference.js';
import { familiarString } from '../images/reference.js';
import { InvalidParameterError } from '../plugin-api/errors.js';
import type { ContainerService } from './container-service.js';
import type { ContainerConfig, ContainerRecord } from './container-types.js';
import { type FsChange, HIDDEN_PARENTS, isHiddenPath, listChanges } from './fs-changes.js';

/** The uncompressed layer as stored for push and save, addressed by its diff ID (as import does). */
const LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
/** The diff ID of a tar with no entries: dockerd's commit then adds an `empty_layer` history entry only. */
const EMPTY_TAR_DIGEST = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Pause a running container while its changes are read (the API's default). */
  pause: boolean;
  /** `--change` Dockerfile instructions. */
  changes: string[];
  /** The request body: a container config whose set fields win over the container's. */
  config?: unknown;
}

/** The image config file a commit writes: moby's V1Image fields on top of the OCI ones. */
type CommitConfigFile = ImageConfigFile & {
  comment?: string;
  container: string;
  container_config: ContainerConfig;
  docker_version: string;
};

/** moby's commit `merge`: what the user's config leaves empty comes from the container's. */
export function mergeCommitConfig(user: ContainerConfig, from: ContainerConfig): ContainerConfig {
  const out = { ...user };
  if (!out.User) out.User = from.User;
  if (!out.ExposedPorts || Object.keys(out.ExposedPorts).length === 0) out.ExposedPorts = from.ExposedPorts;
  else out.ExposedPorts = { ...from.ExposedPorts, ...out.ExposedPorts };
  if (!out.Env || out.Env.length === 0) out.Env = from.Env;
  else {
    const keys = new Set(out.Env.map((e) => e.split('=', 1)[0]));
    out.Env = [...out.Env, ...(from.Env ?? []).filter((e) => !keys.has(e.split('=', 1)[0]))];
  }
  out.Labels = { ...from.Labels, ...out.Labels };
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) {
      out.Cmd = from.Cmd;
      out.Entrypoint = from.Entrypoint;
    }
  }
  if (from.Healthcheck)
    out.Healthcheck = out.Healthcheck ? { ...from.Healthcheck, ...out.Healthcheck } : from.Healthcheck;
  if (!out.WorkingDir) out.WorkingDir = from.WorkingDir;
  if (!out.Volumes || Object.keys(out.Volumes).length === 0) out.Volumes = from.Volumes;
  else out.Volumes = { ...from.Volumes, ...out.Volumes };
  if (!out.StopSignal) out.StopSignal = from.StopSignal;
  return out;
}

/** The optional commit body: a container config object (`null` or no body: none). */
function parseConfigBody(v: unknown): Partial<ContainerConfig> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v))
    throw new InvalidParameterError('the commit config must be a JSON object');
  const c = v as Record<string, unknown>;
  const strings = (k: string) => {
    const x = c[k];
    if (x !== undefined && x !== null && !(Array.isArray(x) && x.every((s) => typeof s === 'string')))
      throw new InvalidParameterError(`${k} must be an array of strings`);
  };
  for (const k of ['Cmd', 'Entrypoint', 'Env', 'OnBuild']) strings(k);
  for (const k of ['User', 'WorkingDir', 'StopSignal', 'Image', 'Hostname', 'Domainname']) {
    if (c[k] !== undefined && c[k] !== null && typeof c[k] !== 'string')
      throw new InvalidParameterError(`${k} must be a string`);
  }
  for (const k of ['Labels', 'ExposedPorts', 'Volumes']) {
    if (c[k] !== undefined && c[k] !== null && (typeof c[k] !== 'object' || Array.isArray(c[k])))
      throw new InvalidParameterError(`${k} must be an object`);
  }
  return c as Partial<ContainerConfig>;
}

/** Whether `dir` is a mount point (the running container's rootfs is mounted there). */
async function isMountPoint(dir: string): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([stat(dir), stat(dirname(dir))]);
    return a.dev !== b.dev;
  } catch {
    return false;
  }
}

/** A layer tar without the entries dockerd keeps in the init layer (see fs-changes.ts), streamed. */
export function dropHidden(src: Readable): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  const hidden = (name: string) => {
    const clean = name.replace(/\/+$/, '');
    const base = posix.basename(clean);
    if (!base.startsWith('.wh.')) return isHiddenPath(clean);
    const dir = posix.dirname(clean);
    return isHiddenPath(dir === '.' ? base.slice(4) : `${dir}/${base.slice(4)}`);
  };
  // The directories holding hidden entries (/etc) change with them: such a directory entry is
  // only kept if something kept follows inside it.
  let pendingDir: { name: string; header: tar.Header } | undefined;
  const drain = (entry: Readable) =>
    new Promise<void>((resolve) => {
      entry.once('end', () => resolve());
      entry.resume();
    });
  const push = (header: tar.Header, body?: Readable) =>
    new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
      if (body) {
        body.once('error', reject);
        body.pipe(sink);
      } else sink.end(undefined);
    });
  (async () => {
    for await (const source of extract) {
      const entry = source as unknown as Readable & { header: tar.Header };
      const name = entry.header.name.replace(/\/+$/, '');
      const drop = hidden(entry.header.name);
      if (pendingDir !== undefined) {
        if (!name.startsWith(`${pendingDir.name}/`)) pendingDir = undefined;
        else if (!drop) {
          await push(pendingDir.header);
          pendingDir = undefined;
        }
      }
      if (entry.header.type === 'directory' && HIDDEN_PARENTS.has(name)) {
        pendingDir = { name, header: entry.header };
        await drain(entry);
      } else if (drop) await drain(entry);
      else await push(entry.header, entry);
    }
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e as Error));
  src.once('error', (e) => extract.destroy(e));
  src.pipe(extract);
  return pack as unknown as Readable;
}

/** `docker diff`, `docker export` and `docker commit`: reading a container's filesystem. */
export class ContainerFiles {
  constructor(
    private readonly containers: ContainerService,
    private readonly images: ImageService,
  ) {}

  /**
   * Runs `fn` with the container's merged root and, if `withLower`, the root of the image it was
   * created from (undefined for an empty image). A running container's mounted rootfs is used as
   * it is (an overlay upper cannot be mounted twice); otherwise the snapshot is mounted for `fn`.
   * The image's root is a temporary read-only view.
   */
  async withRoots<T>(
    c: ContainerRecord,
    withLower: boolean,
    fn: (root: string, lower: string | undefined) => Promise<T>,
  ): Promise<T> {
    const { graph } = this.images.local;
    const withLowerDir = async (root: string): Promise<T> => {
      if (!withLower) return fn(root, undefined);
      const parent = (await graph.stat(c.Id)).parent;
      if (parent === undefined) return fn(root, undefined);
      const key = `files-${randomBytes(6).toString('hex')}-${c.Id.slice(0, 12)}`;
      try {
        const mounts = await graph.view(key, parent);
        return await withMounted(mounts, (lower) => fn(root, lower));
      } finally {
        await graph.remove(key).catch(() => {});
      }
    };
    // Only while it runs: once the task exited, its teardown unmounts that rootfs at any moment.
    if (c.State.Running && c.MountedRootfs && (await isMountPoint(c.MountedRootfs)))
      return withLowerDir(c.MountedRootfs);
    return withMounted(await graph.mounts(c.Id), withLowerDir);
  }

  /** `GET /containers/{id}/changes`. */
  async changes(ref: string): Promise<FsChange[]> {
    const c = this.containers.get(ref);
    return this.withRoots(c, true, (root, lower) => listChanges(lower, root));
  }

  /**
   * `GET /containers/{id}/export`: `send` gets the container's whole filesystem as a tar stream
   * (symlinks stored as links, nothing followed) and must settle once it has been sent.
   */
  async export(ref: string, send: (tar: Readable) => Promise<void>): Promise<void> {
    const c = this.containers.get(ref);
    await this.withRoots(c, false, async (root) => {
      const stream = diffTrees(undefined, root);
      try {
        await send(stream);
      } finally {
        stream.destroy();
      }
    });
    this.publish(c, 'export');
  }

  /** `POST /commit`: the container's image plus one layer of its changes. Returns the new image ID. */
  async commit(o: CommitOptions): Promise<string> {
    const c = this.containers.get(o.container);
    let ref: ImageReference | undefined;
    if (o.repo) ref = repoTagReference(o.repo, o.tag ?? '');
    const body = parseConfigBody(o.config);
    const changed = applyChanges(
      (body ?? structuredClone(c.Config)) as ContainerConfigDefaults,
      o.changes,
    ) as unknown as ContainerConfig;
    const config = mergeCommitConfig(changed, c.Config);
    const parent = this.images.resolve(c.Image);

    let paused = false;
    if (o.pause && c.State.Running && !c.State.Paused) {
      // As dockerd, a container that cannot be paused is committed anyway.
      paused = await this.containers.pause(c.Id).then(
        () => true,
        () => false,
      );
    }
    let id: string;
    try {
      id = await withImageLock(this.images, () => this.writeImage(c, parent, config, o));
    } finally {
      if (paused) await this.containers.unpause(c.Id).catch(() => {});
    }
    if (ref) setTag(this.images, id, ref);
    this.publish(c, 'commit', {
      comment: o.comment ?? '',
      imageID: id,
      imageRef: ref ? familiarString(ref) : '',
    });
    return id;
  }

  private async writeImage(
    c: ContainerRecord,
    parent: ImageRecord,
    config: ContainerConfig,
    o: CommitOptions,
  ): Promise<string> {
    const parts = this.images.local;
    const parentChain = parent.layers.at(-1)?.chainId;
    const writer = await parts.content.writer(`commit-${randomBytes(8).toString('hex')}`);
    let layer: Awaited<ReturnType<typeof parts.unpacker.unpackNew>>;
    try {
      layer = await this.withRoots(c, true, async (root, lower) => {
        const tee = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            writer.write(chunk).then(() => cb(null, chunk), cb);
          },
        });
        const src = dropHidden(diffTrees(lower, root));
        const out = src.pipe(tee);
        src.once('error', (e) => tee.destroy(e));
        try {
          return await parts.unpacker.unpackNew(parentChain, out, `of container ${c.Id}`);
        } finally {
          src.destroy();
        }
      });
    } catch (err) {
      await writer.abort().catch(() => {});
      throw err;
    }
    const empty = layer.diffId === EMPTY_TAR_DIGEST;
    try {
      if (empty || (await parts.content.has(layer.diffId))) await writer.abort();
      else await writer.commit(layer.size, layer.diffId);
      const created = new Date().toISOString();
      const file: CommitConfigFile = {
        architecture: parent.config.architecture,
        ...(parent.config.variant ? { variant: parent.config.variant } : {}),
        os: parent.config.os ?? 'linux',
        created,
        ...(o.author ? { author: o.author } : {}),
        ...(o.comment ? { comment: o.comment } : {}),
        config: config as unknown as ContainerConfigDefaults,
        container: c.Id,
        container_config: c.Config,
        docker_version: '',
        rootfs: {
          type: 'layers',
          diff_ids: [...parent.config.rootfs.diff_ids, ...(empty ? [] : [layer.diffId])],
        },
        history: [
          ...(parent.config.history ?? []),
          {
            created,
            ...(o.author ? { author: o.author } : {}),
            created_by: (c.Config.Cmd ?? []).join(' '),
            ...(o.comment ? { comment: o.comment } : {}),
            ...(empty ? { empty_layer: true } : {}),
          },
        ],
      };
      const bytes = Buffer.from(JSON.stringify(file));
      const id = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (!(await parts.content.has(id))) {
        const w = await parts.content.writer(`commit-config-${id}`, { digest: id, size: bytes.length });
        await w.write(bytes);
        await w.commit(bytes.length, id);
      }
      const image: ImageRecord = {
        id,
        config: file,
        manifestDigest: '',
        layers: empty
          ? parent.layers
          : [
              ...parent.layers,
              {
                digest: layer.diffId,
                mediaType: LAYER_TAR,
                size: layer.size,
                diffId: layer.diffId,
                chainId: layer.chainId,
              },
            ],
        size: parent.size + (empty ? 0 : layer.size),
        created,
      };
      parts.store.put(image, []);
      if (empty && layer.created) await rollback(parts, [layer.chainId]);
      return id;
    } catch (err) {
      if (layer.created) await rollback(parts, [layer.chainId]);
      throw err;
    }
  }

  private publish(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.images.local.events.publish({
      Type: 'container',
      Action: action,
      Actor: { ID: c.Id, Attributes: { ...c.Config.Labels, image: c.Config.Image, name: c.Name.slice(1), ...extra } },
    });
  }
}
