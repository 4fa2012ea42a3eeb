// skiff tag / image tag: POST /images/{source}/tag?repo=&tag=.

import { StatusError } from '../cli/errors.js';
import { fullName, tagNameOnly } from '../format/reference.js';
import { parseImageRef } from './push.js';
import type { Command } from './types.js';

export const tagCommand: Command = {
  name: 'tag',
  usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  interspersed: true,
  args: { min: 2, max: 2 },
  flags: [],
  async run(ctx, { args }) {
    const [source = '', target = ''] = args;
    const ref = parseImageRef(target);
    if (ref.digest) throw new StatusError(1, 'refusing to create a tag with a digest reference');
    const tagged = tagNameOnly(ref);
    await ctx.client.json('POST', `/images/${encodeURIComponent(source)}/tag`, {
      query: { repo: fullName(tagged), tag: tagged.tag },
    });
    return 0;
  },
};
