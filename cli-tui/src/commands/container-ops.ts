// Helpers shared by the container commands: per-container operations run in parallel and
// reported in argument order (docker's parallelOperation + errors.Join).

import { StatusError, UsageError } from '../cli/errors.js';
import { describeError } from './report.js';
import type { CommandContext } from './types.js';

/** The path segment for a container given by name or id ("/name" is accepted like docker). */
export function containerPath(ref: string, suffix = ''): string {
  return `/containers/${encodeURIComponent(ref)}${suffix}`;
}

/**
 * Runs `op` for every container at once; prints what `op` returns (default: the argument) for
 * each success in argument order, then fails with every error joined by newlines (exit 1).
 */
export async function forEachContainer(
  ctx: CommandContext,
  refs: readonly string[],
  op: (ref: string) => Promise<string | void>,
): Promise<number> {
  const settled = refs.map((ref) =>
    op(ref).then(
      (out) => ({ out: out ?? ref }),
      (error: unknown) => ({ error }),
    ),
  );
  const failures: string[] = [];
  for (const result of settled) {
    const r = await result;
    if ('error' in r) failures.push(describeError(r.error));
    else ctx.streams.stdout.write(`${r.out}\n`);
  }
  if (failures.length > 0) throw new StatusError(1, failures.join('\n'));
  return 0;
}

/** POST that expects no body (204) and throws ApiError on failure. */
export async function postNoContent(
  ctx: CommandContext,
  path: string,
  query?: Record<string, string | number | boolean | undefined>,
): Promise<void> {
  await ctx.client.json('POST', path, { query });
}

/** A flag parsed as a Go int: a UsageError (exit 125, with usage) in pflag's words. */
export function intFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^[-+]?\d+$/.test(text)) {
    throw new UsageError(
      `invalid argument "${text}" for "${flag}" flag: strconv.ParseInt: parsing "${text}": invalid syntax`,
      'flag',
    );
  }
  return Number(text);
}
