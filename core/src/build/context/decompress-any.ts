import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { DEFAULT_DECOMPRESS_LIMITS, decompressLayer, sniffCompression } from '../../images/decompress.js';
import type { Compression } from '../../images/decompress.js';
import { InvalidParameterError, SystemError } from '../../plugin-api/errors.js';

/** Host decompressors for the formats Node has no codec for (dockerd also runs `xz`; never one from an image). */
const TOOLS: Partial<Record<Compression, [string, string[]]>> = {
  xz: ['xz', ['-d', '-c', '-q']],
  bzip2: ['bzip2', ['-d', '-c', '-q']],
};

async function readHead(it: AsyncIterator<Buffer | string>, n: number): Promise<{ head: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const r = await it.next();
    if (r.done) return { head: Buffer.concat(chunks), ended: true };
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(b);
    len += b.length;
  }
  return { head: Buffer.concat(chunks), ended: false };
}

async function* rejoin(head: Buffer, ended: boolean, it: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer> {
  try {
    if (head.length > 0) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    }
  } finally {
    await it.return?.();
  }
}

async function* throughTool(
  compression: Compression,
  input: AsyncIterable<Buffer>,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  const [cmd, args] = TOOLS[compression] as [string, string[]];
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new SystemError(`${cmd}: ${e.message}`, { cause: e })));
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  let inputError: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (!child.stdin.write(chunk)) {
          await new Promise<void>((resolve) => {
            child.stdin.once('drain', resolve);
            child.stdin.once('close', resolve);
          });
        }
        if (child.stdin.destroyed) return;
      }
      child.stdin.end();
    } catch (e) {
      inputError = e;
      child.kill('SIGKILL');
    }
  })();
  child.stdin.on('error', () => {}); // EPIPE when the tool stops early; its exit status tells
  let out = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      out += chunk.length;
      if (out > maxBytes) throw new InvalidParameterError(`archive is larger than ${maxBytes} bytes uncompressed`);
      yield chunk;
    }
    await feeding;
    if (inputError !== undefined) throw inputError;
    const code = await exited;
    if (code !== 0) {
      const msg = Buffer.concat(stderr).toString('utf8').trim();
      throw new InvalidParameterError(`corrupt ${compression} data: ${msg || `${cmd} exited with ${code}`}`);
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await feeding;
  }
}

/**
 * The uncompressed bytes of a plain, gzip, bzip2, xz or zstd stream (recognised by its magic
 * bytes, like moby's DecompressStream). Corrupt data and decompression bombs surface as
 * InvalidParameterError on the returned stream.
 */
export function decompressAny(stream: NodeJS.ReadableStream | Readable): Readable {
  const maxBytes = DEFAULT_DECOMPRESS_LIMITS.maxBytes;
  async function* run(): AsyncGenerator<Buffer> {
    const it = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
    const { head, ended } = await readHead(it, 6);
    const compression = sniffCompression(head);
    const joined = rejoin(head, ended, it);
    if (TOOLS[compression] !== undefined) {
      yield* throughTool(compression, joined, maxBytes);
    } else {
      yield* decompressLayer('application/x-tar', Readable.from(joined));
    }
  }
  return Readable.from(run(), { objectMode: false });
}
