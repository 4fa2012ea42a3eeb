// skiff create: run's create step only (pulls a missing image), prints the new ID.

import { StatusError } from '../cli/errors.js';
import { InvalidReferenceError, parseNormalizedNamed } from '../format/reference.js';
import { describeError } from './report.js';
import { createContainer } from './run.js';
import { buildRunOptions, RUN_FLAGS, type RunOptions, RunOptionsError } from './run-options.js';
import type { Command } from './types.js';

export const createCommand: Command = {
  name: 'create',
  usage: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new container',
  interspersed: false,
  args: { min: 1 },
  flags: RUN_FLAGS.filter((f) => f.name !== 'detach'),
  async run(ctx, { flags, args }) {
    const { stdout } = ctx.streams;
    // Unlike run, docker create reports its failures plainly, with status 1.
    const failure = (message: string): StatusError => new StatusError(1, message);
    let opts: RunOptions;
    try {
      opts = buildRunOptions({ ...flags, detach: false }, args, ctx.env, [stdout.rows ?? 0, stdout.columns ?? 0]);
      parseNormalizedNamed(opts.image);
    } catch (err) {
      // Like run, a bad option is a 125 with a hint; the daemon's refusals are plain 1s.
      if (err instanceof InvalidReferenceError) throw failure(err.message);
      if (err instanceof RunOptionsError) {
        throw new StatusError(
          125,
          `${ctx.program}: ${err.message}\n\nRun '${ctx.program} create --help' for more information`,
        );
      }
      throw err;
    }
    for (const warning of opts.warnings) ctx.streams.stderr.write(`${warning}\n`);
    try {
      const created = await createContainer(ctx, opts);
      for (const warning of created.Warnings ?? []) ctx.streams.stderr.write(`WARNING: ${warning}\n`);
      stdout.write(`${created.Id}\n`);
    } catch (err) {
      throw failure(describeError(err));
    }
    return 0;
  },
};
