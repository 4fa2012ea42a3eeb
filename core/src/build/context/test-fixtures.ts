import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import type { ExecutionContext } from 'ava';
import { type LayerEntry, layerTar } from '../../testkit/layer.js';

/** A fresh directory removed when the test ends. */
export async function tempDir(t: ExecutionContext, prefix = 'skiff-ctx-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function tarBuffer(entries: readonly LayerEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of layerTar(entries)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function throughTool(cmd: string, args: string[], input: Buffer): Promise<Buffer> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(input);
  const out: Buffer[] = [];
  for await (const c of child.stdout) out.push(c as Buffer);
  await new Promise((resolve) => child.on('close', resolve));
  return Buffer.concat(out);
}

export type Codec = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';
export const CODECS: Codec[] = ['none', 'gzip', 'bzip2', 'xz', 'zstd'];

/** `data` compressed with the real codec (host bzip2 and xz, Node's gzip and zstd). */
export async function compress(data: Buffer, codec: Codec): Promise<Buffer> {
  switch (codec) {
    case 'none':
      return data;
    case 'gzip':
      return gzipSync(data);
    case 'zstd':
      return zstdCompressSync(data);
    case 'bzip2':
      return throughTool('bzip2', ['-c'], data);
    case 'xz':
      return throughTool('xz', ['-c'], data);
  }
}

/** `data` as a stream of small chunks, the way a socket delivers it. */
export function chunked(data: Buffer, size = 777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}
