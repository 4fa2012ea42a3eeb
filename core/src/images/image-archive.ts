import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { InvalidParameterError, SystemError } from '../plugin-api/errors.js';
import { decompressLayer, sniffCompression } from './decompress.js';
import type { ImageService, LocalImageParts } from './image-service.js';
import type { ImageRecord } from './image-types.js';
import { canonicalString, familiarName, familiarString, type ImageReference, parseReference } from './reference.js';

/** One image of a `docker save` archive and the tags it is saved under. */
export interface SaveEntry {
  image: ImageRecord;
  tags: ImageReference[];
  /** Byte length of each layer's uncompressed tar, in layer order. */
  tarSizes: number[];
}

const hexOf = (digest: string) => digest.replace(/^sha256:/, '');

/**
 * Resolves `docker save` names as moby's tarexport does: `name:tag` saves that tag, a bare
 * repository name saves all its tags, an ID saves the image untagged. Unknown names are a
 * NotFoundError; every blob the archive needs is checked here, before anything is streamed.
 */
export async function planSave(images: ImageService, names: string[]): Promise<SaveEntry[]> {
  if (names.length === 0) throw new InvalidParameterError('no image names given');
  const parts = images.local;
  const byId = new Map<string, { image: ImageRecord; tags: Map<string, ImageReference> }>();
  const add = (image: ImageRecord, ref?: ImageReference) => {
    let e = byId.get(image.id);
    if (!e) byId.set(image.id, (e = { image, tags: new Map() }));
    if (ref) e.tags.set(canonicalString(ref), ref);
  };
  for (const name of names) {
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref && ref.digest === undefined && ref.tag === undefined) {
      const repo = `${ref.domain}/${ref.path}`;
      const tagged = parts.store.allRefs().filter((r) => r.kind === 'tag' && r.ref.startsWith(`${repo}:`));
      for (const r of tagged) {
        const img = parts.store.get(r.imageId);
        if (img) add(img, parseReference(r.ref));
      }
      if (tagged.length > 0) continue;
    }
    const img = images.resolve(name);
    add(img, ref?.tag !== undefined && ref.digest === undefined ? ref : undefined);
  }
  const out: SaveEntry[] = [];
  for (const { image, tags } of byId.values()) {
    if (!(await parts.content.has(image.id))) {
      throw new SystemError(`cannot save ${image.id}: its config is missing from the content store`);
    }
    const tarSizes: number[] = [];
    for (const l of image.layers) tarSizes.push(await layerTarSize(parts, l.digest, l.chainId));
    out.push({ image, tags: [...tags.values()], tarSizes });
  }
  return out;
}

/** The uncompressed size of a layer blob: its own size if stored uncompressed, else what unpacking measured. */
async function layerTarSize(parts: LocalImageParts, digest: string, chainId: string): Promise<number> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(parts.content.path(digest), 'r');
  } catch {
    throw new SystemError(`cannot save: layer blob ${digest} is missing from the content store`);
  }
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (sniffCompression(head.subarray(0, bytesRead)) === 'none') return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
  const size = parts.store.layerSize(chainId);
  if (size === undefined) throw new SystemError(`cannot save: layer ${chainId} is not unpacked here`);
  return size;
}

/**
 * Streams a `docker save` (docker-archive) tarball: `<diff-id-hex>/layer.tar` (uncompressed)
 * per layer, `<config-hex>.json`, `manifest.json` and `repositories`. Layers are decompressed from
 * the content store on the fly and checked against their diff IDs; nothing is held in memory.
 */
export function saveArchive(parts: LocalImageParts, entries: SaveEntry[]): Readable {
  const pack = tar.pack();
  const written = new Set<string>();
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};

  const produce = async () => {
    for (const { image, tags, tarSizes } of entries) {
      const mtime = validDate(image.created);
      const layers: string[] = [];
      for (const [i, l] of image.layers.entries()) {
        const dir = hexOf(l.diffId);
        layers.push(`${dir}/layer.tar`);
        if (written.has(dir)) continue;
        written.add(dir);
        await addBuffer(pack, { name: `${dir}/`, type: 'directory', mode: 0o755, mtime });
        await addLayer(pack, parts, l, tarSizes[i]!, mtime);
      }
      const configName = `${hexOf(image.id)}.json`;
      if (!written.has(configName)) {
        written.add(configName);
        await addBuffer(pack, { name: configName, mode: 0o644, mtime }, await parts.content.readBytes(image.id));
      }
      manifest.push({ Config: configName, RepoTags: tags.length ? tags.map(familiarString) : null, Layers: layers });
      const top = image.layers.at(-1);
      for (const t of tags) {
        if (!top || t.tag === undefined) continue;
        (repositories[familiarName(t)] ??= {})[t.tag] = hexOf(top.diffId);
      }
    }
    const now = new Date(0);
    await addBuffer(pack, { name: 'manifest.json', mode: 0o644, mtime: now }, Buffer.from(JSON.stringify(manifest)));
    if (Object.keys(repositories).length > 0) {
      await addBuffer(
        pack,
        { name: 'repositories', mode: 0o644, mtime: now },
        Buffer.from(JSON.stringify(repositories)),
      );
    }
    pack.finalize();
  };
  produce().catch((err: unknown) => pack.destroy(err as Error));
  return Readable.from(pack as AsyncIterable<Buffer>);
}

function validDate(iso: string): Date {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

function addBuffer(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(data ? { ...header, size: data.length } : header, data ?? Buffer.alloc(0), (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

async function addLayer(
  pack: tar.Pack,
  parts: LocalImageParts,
  l: ImageRecord['layers'][number],
  size: number,
  mtime: Date,
): Promise<void> {
  const source = decompressLayer(l.mediaType, createReadStream(parts.content.path(l.digest)));
  const hash = createHash('sha256');
  let finish!: (err?: Error | null) => void;
  const done = new Promise<void>((ok, fail) => {
    finish = (err) => (err ? fail(err) : ok());
  });
  done.catch(() => {});
  const w = pack.entry({ name: `${hexOf(l.diffId)}/layer.tar`, size, mode: 0o644, mtime }, (err) => finish(err));
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      if (!w.write(chunk)) await new Promise<void>((r) => w.once('drain', () => r()));
    }
    const diffId = `sha256:${hash.digest('hex')}`;
    if (diffId !== l.diffId) throw new SystemError(`layer blob ${l.digest} does not match diff ID ${l.diffId}`);
    w.end(undefined);
    await done;
  } catch (err) {
    source.destroy();
    w.destroy(err as Error);
    throw err;
  }
}
