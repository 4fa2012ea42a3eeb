import test from 'ava';
import type { Descriptor } from '../plugin-api/content.js';
import { InvalidParameterError, UpstreamError } from '../plugin-api/errors.js';
import {
  defaultPlatform,
  formatPlatform,
  MediaTypes,
  normalizePlatform,
  parseManifestDocument,
  parsePlatform,
  selectManifest,
} from './registry-manifest.js';

const D = `sha256:${'a'.repeat(64)}`;
const entry = (architecture: string, variant?: string, os = 'linux'): Descriptor => ({
  mediaType: MediaTypes.OciManifest,
  digest: `sha256:${Buffer.from(`${architecture}${variant ?? ''}${os}`)
    .toString('hex')
    .padEnd(64, '0')
    .slice(0, 64)}`,
  size: 1,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
});

test('default platform maps Node arch names to OCI', (t) => {
  const p = defaultPlatform();
  t.is(p.os, 'linux');
  const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
  if (expected[process.arch]) t.is(p.architecture, expected[process.arch]!);
  t.false(['x64', 'ia32'].includes(p.architecture));
});

test('normalizePlatform', (t) => {
  t.deepEqual(normalizePlatform({ os: 'Linux', architecture: 'x86_64' }), {
    os: 'linux',
    architecture: 'amd64',
    variant: '',
  });
  t.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64' }), {
    os: 'linux',
    architecture: 'arm64',
    variant: 'v8',
  });
  t.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armhf' }), {
    os: 'linux',
    architecture: 'arm',
    variant: 'v7',
  });
  t.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm', variant: '6' }), {
    os: 'linux',
    architecture: 'arm',
    variant: 'v6',
  });
  t.is(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
});

test('selectManifest prefers the exact variant and falls back to older arm variants', (t) => {
  const list = [
    entry('amd64'),
    entry('arm64', 'v8'),
    entry('arm', 'v6'),
    entry('arm', 'v7'),
    entry('amd64', undefined, 'windows'),
  ];
  t.is(selectManifest(list, { os: 'linux', architecture: 'amd64' }), list[0]);
  t.is(selectManifest(list, { os: 'linux', architecture: 'arm64' }), list[1]);
  t.is(selectManifest(list, { os: 'linux', architecture: 'arm', variant: 'v7' }), list[3]);
  t.is(selectManifest(list, { os: 'linux', architecture: 'arm', variant: 'v6' }), list[2]);
  t.is(selectManifest([list[2]!], { os: 'linux', architecture: 'arm' }), list[2]);
  t.is(selectManifest([list[3]!], { os: 'linux', architecture: 'arm', variant: 'v6' }), undefined);
  t.is(selectManifest(list, { os: 'windows', architecture: 'amd64' }), list[4]);
  t.is(selectManifest(list, { os: 'linux', architecture: 's390x' }), undefined);
  // Entries without a platform, or that are not image manifests (attestations, nested lists) are skipped.
  t.is(
    selectManifest([{ ...list[0]!, platform: undefined } as Descriptor], { os: 'linux', architecture: 'amd64' }),
    undefined,
  );
  t.is(
    selectManifest([{ ...list[0]!, mediaType: MediaTypes.OciIndex }], { os: 'linux', architecture: 'amd64' }),
    undefined,
  );
});

test('parseManifestDocument accepts the four document types', (t) => {
  const config = { mediaType: MediaTypes.DockerConfig, digest: D, size: 2 };
  const layer = { mediaType: MediaTypes.DockerLayer, digest: D, size: 3 };
  const docker = parseManifestDocument(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.DockerManifest, config, layers: [layer] })),
    `${MediaTypes.DockerManifest}; charset=utf-8`,
    'x',
  );
  t.is(docker.kind, 'manifest');
  t.is(docker.mediaType, MediaTypes.DockerManifest);
  const list = parseManifestDocument(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.DockerManifestList,
        manifests: [
          { ...layer, mediaType: MediaTypes.DockerManifest, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    ),
    undefined,
    'x',
  );
  t.is(list.kind, 'index');
  const ociIndex = parseManifestDocument(
    Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })),
    'application/json',
    'x',
  );
  t.is(ociIndex.mediaType, MediaTypes.OciIndex);
});

test('parseManifestDocument rejects bad platforms, annotations and schema 1', (t) => {
  const bad = (doc: unknown, type?: string) =>
    t.throws(() => parseManifestDocument(Buffer.from(JSON.stringify(doc)), type, 'm'), { instanceOf: UpstreamError });
  bad({
    schemaVersion: 2,
    mediaType: MediaTypes.OciIndex,
    manifests: [{ mediaType: MediaTypes.OciManifest, digest: D, size: 1, platform: { os: 1 } }],
  });
  bad({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: [], annotations: { a: 1 } });
  bad({ schemaVersion: 2, mediaType: MediaTypes.OciIndex, manifests: 'nope' });
  bad({ schemaVersion: 2, mediaType: 5, manifests: [] });
  bad({ schemaVersion: 2 }, 'text/plain');
  bad({ schemaVersion: 2, name: 'x' }, MediaTypes.DockerSchema1Signed);
  t.throws(() => parseManifestDocument(Buffer.from('null'), undefined, 'm'), { instanceOf: UpstreamError });
  t.throws(() => parseManifestDocument(Buffer.from([0xff, 0xfe]), undefined, 'm'), { instanceOf: UpstreamError });
});

test('parsePlatform reads os[/arch[/variant]] like containerd and refuses junk', (t) => {
  t.deepEqual(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  t.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  t.deepEqual(parsePlatform('Linux/ARM/v6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
  t.deepEqual(parsePlatform('s390x'), { os: 'linux', architecture: 's390x' });
  t.is(parsePlatform('linux').os, 'linux');
  for (const bad of ['', 'linux/', 'linux/../x', 'a/b/c/d', 'linux/amd64?x=1', 'x'.repeat(40)]) {
    t.throws(() => parsePlatform(bad), { instanceOf: InvalidParameterError }, bad);
  }
});
