// Reads an npm package tarball without running anything in it: its package.json and its
// integrity (the sha512 SRI string npm records in package-lock.json).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** `sha512-<base64>` of the file, as npm computes it. */
export async function tarballIntegrity(file: string): Promise<string> {
  const hash = createHash('sha512');
  await pipeline(createReadStream(file), hash);
  return `sha512-${hash.digest('base64')}`;
}

/** package.json must not be bigger than this (it is parsed in memory). */
const MAX_PACKAGE_JSON = 1 << 20;

/** The package.json at the top of the tarball (`package/package.json`, whatever the top directory is called). */
export async function tarballPackageJson(file: string): Promise<Record<string, unknown>> {
  const extract = tar.extract();
  let text: string | undefined;
  let tooBig = false;
  extract.on('entry', (header, stream, next) => {
    const parts = header.name.replace(/^\.\//, '').split('/');
    const wanted = text === undefined && parts.length === 2 && parts[1] === 'package.json' && header.type === 'file';
    if (!wanted) {
      stream.on('end', next);
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: unknown) => {
      const c = chunk as Buffer;
      size += c.length;
      if (size <= MAX_PACKAGE_JSON) chunks.push(c);
      else tooBig = true;
    });
    stream.on('end', () => {
      if (!tooBig) text = Buffer.concat(chunks).toString('utf8');
      next();
    });
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), extract);
  } catch (err) {
    throw new InvalidParameterError(`not a readable npm package tarball: ${(err as Error).message}`);
  }
  if (tooBig) throw new InvalidParameterError('package.json in the tarball is larger than 1 MiB');
  if (text === undefined) throw new InvalidParameterError('the tarball has no package.json');
  try {
    const pkg = JSON.parse(text) as unknown;
    if (!pkg || typeof pkg !== 'object' || Array.isArray(pkg)) throw new Error('not a JSON object');
    return pkg as Record<string, unknown>;
  } catch (err) {
    throw new InvalidParameterError(`package.json in the tarball is invalid: ${(err as Error).message}`);
  }
}
