import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { decompressLayer, isLayerMediaType, sniffCompression } from './decompress.js';

const payload = Buffer.from('ustar-ish payload '.repeat(1000));

function chunked(b: Buffer, size = 3): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) parts.push(b.subarray(i, i + size));
  return Readable.from(parts);
}

test('decompresses gzip, zstd and plain layers, also in tiny chunks', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(payload)],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', gzipSync(payload)],
    ['application/vnd.oci.image.layer.v1.tar+zstd', zstdCompressSync(payload)],
    ['application/vnd.oci.image.layer.v1.tar', payload],
  ];
  for (const [mt, data] of cases) {
    t.deepEqual(await buffer(decompressLayer(mt, chunked(data))), payload, mt);
    t.deepEqual(await buffer(decompressLayer(mt, Readable.from([data]))), payload, mt);
  }
});

test('trusts magic bytes over a lying media type', async (t) => {
  t.deepEqual(
    await buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar', Readable.from([gzipSync(payload)]))),
    payload,
  );
  t.deepEqual(
    await buffer(
      decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from([zstdCompressSync(payload)])),
    ),
    payload,
  );
  t.deepEqual(
    await buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from([payload]))),
    payload,
  );
});

test('handles empty and very short streams', async (t) => {
  t.is((await buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar', Readable.from([])))).length, 0);
  t.deepEqual(
    await buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar', Readable.from([Buffer.from('ab')]))),
    Buffer.from('ab'),
  );
});

test('refuses unknown media types and unsupported or corrupt compression', async (t) => {
  t.throws(() => decompressLayer('application/vnd.oci.image.config.v1+json', Readable.from([])), {
    instanceOf: InvalidParameterError,
  });
  t.throws(() => decompressLayer('text/plain', Readable.from([])), { instanceOf: InvalidParameterError });
  t.true(isLayerMediaType('application/vnd.oci.image.layer.v1.tar+gzip'));
  const xz = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]);
  await t.throwsAsync(buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar', Readable.from([xz]))), {
    instanceOf: InvalidParameterError,
  });
  const gz = gzipSync(payload);
  const corrupt = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(50, 0xff), gz.subarray(70)]);
  await t.throwsAsync(
    buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from([corrupt]))),
    {
      instanceOf: InvalidParameterError,
    },
  );
  const truncated = gz.subarray(0, gz.length - 10);
  await t.throwsAsync(
    buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from([truncated]))),
    {
      instanceOf: InvalidParameterError,
    },
  );
  const zs = zstdCompressSync(payload);
  await t.throwsAsync(
    buffer(
      decompressLayer(
        'application/vnd.oci.image.layer.v1.tar+zstd',
        Readable.from([Buffer.concat([zs.subarray(0, 10), Buffer.alloc(40, 7)])]),
      ),
    ),
    { instanceOf: InvalidParameterError },
  );
  t.is(sniffCompression(Buffer.from([0x42, 0x5a, 0x68, 0x39])), 'bzip2');
});

test('a source error reaches the consumer', async (t) => {
  async function* broken(): AsyncGenerator<Buffer> {
    yield gzipSync(payload).subarray(0, 30);
    throw new Error('socket hang up');
  }
  await t.throwsAsync(buffer(decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from(broken()))), {
    message: 'socket hang up',
  });
});

test('a decompression bomb stops at the byte and ratio limits', async (t) => {
  const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024), { level: 9 });
  const drain = async (s: NodeJS.ReadableStream) => {
    for await (const _ of s);
  };
  const big = await t.throwsAsync(
    drain(
      decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from([bomb]), {
        limits: { maxBytes: 1024 * 1024 },
      }),
    ),
  );
  t.true(big instanceof InvalidParameterError);
  t.regex(big!.message, /larger than 1048576 bytes/);
  const ratio = await t.throwsAsync(
    drain(
      decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from([bomb]), {
        limits: { maxRatio: 100, ratioFloor: 1024 * 1024 },
      }),
    ),
  );
  t.true(ratio instanceof InvalidParameterError);
  t.regex(ratio!.message, /expands more than 100:1/);
  // Within the default limits the same stream is fine.
  await drain(decompressLayer('application/vnd.oci.image.layer.v1.tar+gzip', Readable.from([bomb])));
});
