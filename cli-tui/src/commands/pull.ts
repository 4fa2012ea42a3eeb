// skiff pull: POST /images/create and render the progress stream like docker.

import { readJSONStream } from '../api/json-stream.js';
import { StatusError } from '../cli/errors.js';
import { displayJSONMessages, type JSONMessage } from '../format/progress.js';
import {
  fullName,
  type ImageReference,
  InvalidReferenceError,
  parseNormalizedNamed,
  referenceString,
  tagNameOnly,
} from '../format/reference.js';
import { registryAuthHeader } from './registry-auth.js';
import type { Command, CommandContext, OutStream } from './types.js';

/** The query docker sends: fromImage = full repository name, tag = tag or digest. */
export function pullQuery(ref: ImageReference): { fromImage: string; tag?: string } {
  const tag = ref.digest ?? ref.tag;
  return tag ? { fromImage: fullName(ref), tag } : { fromImage: fullName(ref) };
}

/** Pulls `ref`, printing progress to `out` (nothing when `quiet`). Throws on in-band errors. */
export async function pullImage(
  ctx: CommandContext,
  ref: ImageReference,
  out: OutStream,
  quiet = false,
  platform?: string,
): Promise<void> {
  const res = await ctx.client.stream('POST', '/images/create', {
    query: { ...pullQuery(ref), platform },
    // The stored login for the image's registry, or "{}" as the docker CLI sends without one.
    headers: { 'X-Registry-Auth': await registryAuthHeader(ctx, ref) },
  });
  const messages = readJSONStream<JSONMessage>(res);
  const sink = quiet ? { write: () => true } : out;
  await displayJSONMessages(messages, sink, {
    isTerminal: !quiet && out.isTTY === true,
    width: out.columns,
  });
}

export const pullCommand: Command = {
  name: 'pull',
  usage: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', description: 'Download all tagged images in the repository' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  ],
  async run(ctx, { flags, args }) {
    const out = ctx.streams.stdout;
    let ref: ImageReference;
    try {
      ref = parseNormalizedNamed(args[0] ?? '');
    } catch (err) {
      if (err instanceof InvalidReferenceError) throw new StatusError(1, err.message);
      throw err;
    }
    const all = flags['all-tags'] === true;
    const nameOnly = !ref.tag && !ref.digest;
    if (all && !nameOnly) throw new StatusError(1, "tag can't be used with --all-tags/-a");
    if (!all && nameOnly) {
      if (!flags.quiet) out.write('Using default tag: latest\n');
      ref = tagNameOnly(ref);
    }
    await pullImage(ctx, ref, out, flags.quiet === true, flags.platform as string | undefined);
    out.write(`${referenceString(ref)}\n`);
    return 0;
  },
};
