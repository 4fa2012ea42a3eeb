import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type LayerEntry, layerTar } from '@skiff/core/testkit';
import { busyboxLayout, LAYOUT_TAG } from './busybox.js';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An uncompressed layer tar of `entries` (crafted whiteouts, hostile names and links included). */
export async function layerBytes(entries: readonly LayerEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of layerTar(entries)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface LayeredImage {
  /** OCI layout directory (tag `latest`), ready for pushImage. */
  layout: string;
  remove(): Promise<void>;
}

/**
 * Writes an OCI layout whose image is the busybox test image plus `layers` (uncompressed tars,
 * gzipped here) on top, with matching diff IDs, so a registry and skiff accept it as well-formed
 * whatever the layers contain. Written by hand rather than with umoci so that layers can hold
 * entries no tool would produce.
 */
export async function layeredImage(layers: readonly Buffer[]): Promise<LayeredImage> {
  const base = await busyboxLayout();
  const readBlob = (digest: string) => readFile(path.join(base, 'blobs', ...digest.split(':')));
  const index = JSON.parse(await readFile(path.join(base, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const baseManifestDesc = index.manifests[0] as Descriptor;
  const baseManifest = JSON.parse((await readBlob(baseManifestDesc.digest)).toString()) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  const config = JSON.parse((await readBlob(baseManifest.config.digest)).toString()) as {
    rootfs: { diff_ids: string[] };
    history?: unknown[];
  };

  const layout = path.join(os.tmpdir(), `skiff-layered-${process.pid}-${randomBytes(4).toString('hex')}`);
  const blobs = path.join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (b: Buffer) => {
    const digest = sha256(b);
    await writeFile(path.join(blobs, digest.slice('sha256:'.length)), b);
    return { digest, size: b.length };
  };
  for (const l of baseManifest.layers) await put(await readBlob(l.digest));

  const layerDescs = [...baseManifest.layers];
  for (const tar of layers) {
    layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(gzipSync(tar))) });
    config.rootfs.diff_ids.push(sha256(tar));
  }
  delete config.history; // it would have to list one entry per layer
  const configDesc = {
    mediaType: 'application/vnd.oci.image.config.v1+json',
    ...(await put(Buffer.from(JSON.stringify(config)))),
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: configDesc,
      layers: layerDescs,
    }),
  );
  const manifestDesc: Descriptor = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...(await put(manifest)),
    annotations: { 'org.opencontainers.image.ref.name': LAYOUT_TAG },
  };
  await writeFile(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [manifestDesc] }));
  return { layout, remove: () => rm(layout, { recursive: true, force: true }) };
}
