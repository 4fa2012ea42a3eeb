// skiff push: POST /images/{name}/push with the stored login, progress rendered like docker.

import { readJSONStream } from '../api/json-stream.js';
import { StatusError } from '../cli/errors.js';
import { displayJSONMessages, type JSONMessage } from '../format/progress.js';
import {
  familiarName,
  type ImageReference,
  InvalidReferenceError,
  parseNormalizedNamed,
  referenceString,
  tagNameOnly,
} from '../format/reference.js';
import { registryAuthHeader } from './registry-auth.js';
import type { Command } from './types.js';

export function parseImageRef(text: string): ImageReference {
  try {
    return parseNormalizedNamed(text);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new StatusError(1, err.message);
    throw err;
  }
}

export const pushCommand: Command = {
  name: 'push',
  usage: 'push [OPTIONS] NAME[:TAG]',
  summary: 'Upload an image to a registry',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Push all tags of an image to the repository' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  ],
  async run(ctx, { flags, args }) {
    const out = ctx.streams.stdout;
    const quiet = flags.quiet === true;
    const all = flags['all-tags'] === true;
    let ref = parseImageRef(args[0] ?? '');
    const nameOnly = !ref.tag && !ref.digest;
    if (all && !nameOnly) throw new StatusError(1, "tag can't be used with --all-tags/-a");
    if (!all && nameOnly) {
      ref = tagNameOnly(ref);
      if (!quiet) out.write(`Using default tag: ${ref.tag}\n`);
    }
    const res = await ctx.client.stream('POST', `/images/${encodeURIComponent(familiarName(ref))}/push`, {
      query: { tag: all ? undefined : (ref.tag ?? ref.digest) },
      headers: { 'X-Registry-Auth': await registryAuthHeader(ctx, ref) },
    });
    const sink = quiet ? { write: () => true } : out;
    await displayJSONMessages(readJSONStream<JSONMessage>(res), sink, {
      isTerminal: !quiet && out.isTTY === true,
      width: out.columns,
    });
    if (quiet) out.write(`${referenceString(ref)}\n`);
    return 0;
  },
};
