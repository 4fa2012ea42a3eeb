import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { UpstreamError } from '../../plugin-api/errors.js';
import type { UrlSource } from './types.js';

/** moby's name for a download whose URL and headers give no file name. */
export const UNNAMED = '__unnamed__';

/** Whether `s` is a URL that ADD downloads (moby's urlutil.IsURL). */
export function isUrl(s: string): boolean {
  return s.startsWith('http://') || s.startsWith('https://');
}

function safeName(n: string): string {
  return n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\0') ? '' : n;
}

/** The file name for a download: the URL path's last element, else Content-Disposition's filename (moby's getFilenameForDownload). */
export function filenameForDownload(urlPath: string, contentDisposition: string | null): string {
  let path = urlPath;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    // keep it as sent
  }
  if (path !== '' && !path.endsWith('/')) {
    const n = safeName(basename(path));
    if (n !== '') return n;
  }
  if (contentDisposition) {
    const m = /filename\*?=(?:"([^"]*)"|([^;\s]*))/i.exec(contentDisposition);
    const f = m?.[1] ?? m?.[2] ?? '';
    if (f !== '' && !f.endsWith('/')) return safeName(basename(f));
  }
  return '';
}

/**
 * Downloads an ADD source into a new temporary directory under `tmpDir`: the file is made 0600
 * with its mtime from Last-Modified (the epoch without one), as dockerd does. Never extracted.
 */
export async function downloadSource(
  url: string,
  tmpDir: string | undefined,
  signal?: AbortSignal,
): Promise<{ source: UrlSource; dir: string }> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal });
  } catch (e) {
    signal?.throwIfAborted();
    const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new UpstreamError(`Get ${JSON.stringify(url)}: ${cause}`, { cause: e });
  }
  if (res.status >= 400) {
    const body = (await res.text().catch(() => '')).slice(0, 512).trim();
    throw new UpstreamError(`failed to GET ${url} with status ${res.status} ${res.statusText}: ${body}`);
  }
  const name = filenameForDownload(new URL(url).pathname, res.headers.get('content-disposition'));
  const dir = await mkdtemp(join(tmpDir ?? tmpdir(), 'skiff-add-'));
  try {
    const path = join(dir, name === '' ? UNNAMED : name);
    const hash = createHash('sha256');
    const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      if (res.body) {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          await fh.write(chunk);
        }
      }
    } finally {
      await fh.close();
    }
    const lastModified = res.headers.get('last-modified');
    const parsed = lastModified ? new Date(lastModified) : undefined;
    const mtime = parsed && !Number.isNaN(parsed.getTime()) && parsed.getTime() >= 0 ? parsed : undefined;
    await utimes(path, mtime ?? new Date(0), mtime ?? new Date(0));
    return {
      source: { kind: 'url', url, path, name, mtime, digest: `sha256:${hash.digest('hex')}` },
      dir,
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    if (signal?.aborted) throw signal.reason;
    throw e instanceof UpstreamError || !(e instanceof TypeError)
      ? e
      : new UpstreamError(`downloading ${url}: ${e.message}`, { cause: e });
  }
}
