// The prune commands (image, network, volume, system): confirmation prompt, POST …/prune, report.

import { confirm } from '../cli/prompt.js';
import type { Filters } from '../cli/filters.js';
import { filtersQuery } from '../cli/filters.js';
import { withSpinner } from '../cli/spinner.js';
import { humanSize } from '../format/units.js';
import type { CommandContext } from './types.js';

/** Asks unless `force`; false when the user did not answer "y". */
export async function confirmPrune(ctx: CommandContext, warning: string, force: boolean): Promise<boolean> {
  if (force) return true;
  return confirm(ctx.streams.stdin, ctx.streams.stdout, `${warning}\nAre you sure you want to continue?`);
}

export interface ImagePruneReport {
  ImagesDeleted?: { Untagged?: string; Deleted?: string }[] | null;
  SpaceReclaimed?: number;
}

/** POST `path` with the filters, a spinner on stderr while the daemon works. */
function postPrune<T>(ctx: CommandContext, path: string, filters: Filters, all = false): Promise<T> {
  return withSpinner(ctx.streams.stderr, ctx.env, 'Pruning…', () =>
    ctx.client.json<T>('POST', path, { query: { filters: filtersQuery(filters), all } }),
  );
}

export async function pruneImages(ctx: CommandContext, filters: Filters): Promise<{ output: string; space: number }> {
  const report = await postPrune<ImagePruneReport>(ctx, '/images/prune', filters);
  const deleted = report?.ImagesDeleted ?? [];
  let output = '';
  if (deleted.length > 0) {
    output = 'Deleted Images:\n';
    for (const d of deleted) output += d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`;
  }
  return { output, space: report?.SpaceReclaimed ?? 0 };
}

export async function pruneList(
  ctx: CommandContext,
  path: string,
  field: string,
  title: string,
  filters: Filters,
  all = false,
): Promise<{ output: string; space: number }> {
  const report = await postPrune<Record<string, unknown>>(ctx, path, filters, all);
  const list = (report?.[field] as string[] | null | undefined) ?? [];
  const output = list.length > 0 ? `${title}:\n${list.map((n) => `${n}\n`).join('')}` : '';
  return { output, space: Number(report?.SpaceReclaimed ?? 0) };
}

/** Prints a prune result the docker way. `withSpace`: networks have no reclaimed space line. */
export function printPruneResult(
  ctx: CommandContext,
  result: { output: string; space: number },
  withSpace = true,
): void {
  const out = ctx.streams.stdout;
  if (result.output !== '') out.write(`${result.output}\n`);
  if (withSpace) out.write(`Total reclaimed space: ${humanSize(result.space)}\n`);
}
