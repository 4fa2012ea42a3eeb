// skiff save / load / import: image tarballs to and from the daemon.

import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readJSONStream } from '../api/json-stream.js';
import { uploadStream } from '../api/upload.js';
import { StatusError } from '../cli/errors.js';
import type { SubCommand } from '../cli/group.js';
import { withSpinner } from '../cli/spinner.js';
import { displayJSONMessages, type JSONMessage } from '../format/progress.js';
import { fullName } from '../format/reference.js';
import { humanSize } from '../format/units.js';
import { parseImageRef } from './push.js';
import type { CommandContext } from './types.js';

export const saveCommand: SubCommand = {
  name: 'save',
  usage: 'save [OPTIONS] IMAGE [IMAGE...]',
  summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  interspersed: true,
  args: { min: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }],
  async run(ctx, { flags, args }) {
    const output = flags.output as string | undefined;
    if (!output && ctx.streams.stdout.isTTY) {
      throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    }
    const query = args.map((n) => `names=${encodeURIComponent(n)}`).join('&');
    const res = await ctx.client.stream('GET', `/images/get?${query}`);
    if (!output) {
      await pipeline(res, ctx.streams.stdout, { end: false });
      return 0;
    }
    // Written next to the target and renamed, so a failed save leaves no half file behind.
    const tmp = `${output}.skiff-${process.pid}.tmp`;
    try {
      await withSpinner(ctx.streams.stderr, ctx.env, `Saving ${args.join(', ')}`, async (spinner) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          spinner.update(`Saving ${args.join(', ')}: ${humanSize(bytes)}`);
        });
        await pipeline(res, createWriteStream(tmp, { mode: 0o600 }));
      });
      await rename(tmp, output);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new StatusError(1, `failed to save image: ${(err as Error).message}`);
    }
    return 0;
  },
};

/** The daemon's answer: a JSON progress stream (rendered like docker) or plain text (copied). */
async function showResponse(ctx: CommandContext, res: IncomingMessage): Promise<void> {
  const out = ctx.streams.stdout;
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) {
    await pipeline(res, out, { end: false });
    return;
  }
  await displayJSONMessages(readJSONStream<JSONMessage>(res), out, {
    isTerminal: out.isTTY === true,
    width: out.columns,
  });
}

function openInput(ctx: CommandContext, file: string | undefined): Readable {
  return !file || file === '-' ? ctx.streams.stdin : createReadStream(file);
}

/** Fails early with the path in the message when the input file cannot be opened. */
async function checkReadable(stream: Readable, file: string | undefined): Promise<void> {
  if (!file || file === '-') return;
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err: NodeJS.ErrnoException) =>
      reject(new StatusError(1, `open ${file}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`)),
    );
  });
}

export const loadCommand: SubCommand = {
  name: 'load',
  usage: 'load [OPTIONS]',
  summary: 'Load an image from a tar archive or STDIN',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'input', short: 'i', type: 'string', description: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the load output' },
  ],
  async run(ctx, { flags }) {
    const file = flags.input as string | undefined;
    if (!file && ctx.streams.stdin.isTTY) throw new StatusError(1, 'requested load from stdin, but stdin is empty');
    const body = openInput(ctx, file);
    await checkReadable(body, file);
    // Like docker: without a terminal the daemon is asked for the short output.
    const quiet = flags.quiet === true || ctx.streams.stdout.isTTY !== true;
    const res = await uploadStream(ctx.client, 'POST', '/images/load', {
      query: { quiet },
      headers: { 'Content-Type': 'application/x-tar' },
      body,
    });
    await showResponse(ctx, res);
    return 0;
  },
};

export const importCommand: SubCommand = {
  name: 'import',
  usage: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents from a tarball to create a filesystem image',
  interspersed: true,
  args: { min: 1, max: 2 },
  flags: [
    { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  ],
  async run(ctx, { flags, args }) {
    const [source = '', target] = args;
    const query: Record<string, string | undefined> = {
      message: flags.message as string | undefined,
      platform: flags.platform as string | undefined,
    };
    if (target) {
      const ref = parseImageRef(target);
      query.repo = fullName(ref);
      query.tag = ref.tag;
    }
    const changes = (flags.change as string[] | undefined) ?? [];
    const changeQuery = changes.map((c) => `&changes=${encodeURIComponent(c)}`).join('');
    const isUrl = /^https?:\/\//.test(source);
    let body: Readable | undefined;
    if (!isUrl) {
      body = openInput(ctx, source);
      await checkReadable(body, source);
    }
    const res = await uploadStream(
      ctx.client,
      'POST',
      `/images/create?fromSrc=${encodeURIComponent(isUrl ? source : '-')}${changeQuery}`,
      {
        query,
        headers: { 'Content-Type': 'application/x-tar' },
        body,
      },
    );
    await showResponse(ctx, res);
    return 0;
  },
};
