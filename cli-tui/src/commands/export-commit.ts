// skiff export (a container's filesystem as a tar stream) and skiff commit (a container as an image).

import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { StatusError } from '../cli/errors.js';
import { familiarName, InvalidReferenceError, parseNormalizedNamed } from '../format/reference.js';
import { containerPath } from './container-ops.js';
import type { Command } from './types.js';

export const exportCommand: Command = {
  name: 'export',
  usage: 'export [OPTIONS] CONTAINER',
  summary: "Export a container's filesystem as a tar archive",
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }],
  async run(ctx, { flags, args }) {
    const output = flags.output as string | undefined;
    if (!output && ctx.streams.stdout.isTTY) {
      throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    }
    const res = await ctx.client.stream('GET', containerPath(args[0] ?? '', '/export'));
    if (output) {
      // Written next to the target, then renamed: a failure leaves no partial file behind.
      const temp = path.join(path.dirname(output), `.${path.basename(output)}.${process.pid}.tmp`);
      try {
        await pipeline(res, createWriteStream(temp, { mode: 0o644 }));
        await rename(temp, output);
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    } else {
      await pipeline(res, ctx.streams.stdout, { end: false });
    }
    return 0;
  },
};

export const commitCommand: Command = {
  name: 'commit',
  usage: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  summary: "Create a new image from a container's changes",
  interspersed: true,
  args: { min: 1, max: 2 },
  flags: [
    {
      name: 'author',
      short: 'a',
      type: 'string',
      description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
    },
    { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', description: 'Commit message' },
    { name: 'pause', short: 'p', type: 'bool', description: 'Pause container during commit (default true)' },
  ],
  async run(ctx, { flags, args }) {
    const [container = '', reference] = args;
    const params = new URLSearchParams();
    // Go's url.Values.Encode sorts the keys.
    if (flags.author) params.append('author', flags.author as string);
    for (const change of (flags.change as string[] | undefined) ?? []) params.append('changes', change);
    if (flags.message) params.append('comment', flags.message as string);
    params.append('container', container);
    if (flags.pause === false) params.append('pause', '0');
    if (reference) {
      let ref;
      try {
        ref = parseNormalizedNamed(reference);
      } catch (err) {
        if (err instanceof InvalidReferenceError) throw new StatusError(1, err.message);
        throw err;
      }
      if (ref.digest) throw new StatusError(1, 'refusing to create a tag with a digest reference');
      params.append('repo', familiarName(ref));
      if (ref.tag) params.append('tag', ref.tag);
    }
    params.sort();
    const res = await ctx.client.json<{ Id: string }>('POST', `/commit?${params.toString()}`);
    ctx.streams.stdout.write(`${res.Id}\n`);
    return 0;
  },
};
