// docker's formatter.Context: `--format` as "table …" (tab-aligned with a header row), "json"
// (one JSON object per line), or any other Go template (one rendering per row).

import { TABLE_OPTIONS, tabwrite } from './tabwriter.js';
import { HEADER_FUNCTIONS, parseTemplate, TemplateExecError, TemplateParseError } from './template.js';

export const TABLE_KEY = 'table';
export const JSON_KEY = 'json';
export const RAW_KEY = 'raw';
export const DEFAULT_QUIET_FORMAT = '{{.ID}}';
const JSON_FORMAT = '{{json .}}';

/** docker's "template parsing error: …" (exit status 1). */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

export interface FormatListOptions {
  /** The user's --format (may be empty or undefined: the default table). */
  format?: string;
  quiet?: boolean;
  /** e.g. "table {{.ID}}\t{{.Image}}" */
  defaultTable: string;
  /** What -q prints (default "{{.ID}}"). */
  quietFormat?: string;
  /** The "raw" format of the object kind, where docker has one. */
  rawFormat?: string;
}

export function isTableFormat(format: string): boolean {
  return format.startsWith(TABLE_KEY);
}

/** NewXFormat(): "" and "table" mean the default table (or the quiet format with -q). */
export function resolveFormat(opts: FormatListOptions): string {
  const source = opts.format ?? '';
  const quiet = opts.quietFormat ?? DEFAULT_QUIET_FORMAT;
  if (source === '' || source === TABLE_KEY) return opts.quiet ? quiet : opts.defaultTable;
  if (source === RAW_KEY && opts.rawFormat !== undefined) return opts.quiet ? `container_id: ${quiet}` : opts.rawFormat;
  return source;
}

/** Context.preFormat: strips "table", maps "json", trims spaces, turns `\t` and `\n` into the characters. */
export function templateText(format: string): string {
  let text = format;
  if (isTableFormat(format)) text = text.slice(TABLE_KEY.length);
  else if (format === JSON_KEY) text = JSON_FORMAT;
  return text
    .replace(/^ +| +$/g, '')
    .replace(/\\t/g, '\t')
    .replace(/\\n/g, '\n');
}

/**
 * Renders `rows` with a format already resolved (see resolveFormat). `headers` maps field names to
 * column titles ("ID" → "CONTAINER ID") for the table header row.
 */
export function renderRows(format: string, rows: readonly unknown[], headers: Record<string, string>): string {
  let tmpl;
  try {
    tmpl = parseTemplate(templateText(format));
  } catch (err) {
    if (err instanceof TemplateParseError) throw new FormatError(`template parsing error: ${err.message}`);
    throw err;
  }
  let body = '';
  try {
    for (const row of rows) body += `${tmpl.execute(row)}\n`;
  } catch (err) {
    if (err instanceof TemplateExecError) throw new FormatError(`template parsing error: ${err.message}`);
    throw err;
  }
  if (!isTableFormat(format)) return body;
  let header = '';
  try {
    header = tmpl.execute(headers, { functions: HEADER_FUNCTIONS });
  } catch (err) {
    // docker ignores a header that fails to render (e.g. a method call with arguments)
    if (!(err instanceof TemplateExecError)) throw err;
  }
  const text = `${header}\n${body}`;
  const lines = text.split('\n');
  lines.pop();
  return tabwrite(lines, TABLE_OPTIONS);
}

/** resolveFormat + renderRows. */
export function formatList(rows: readonly unknown[], opts: FormatListOptions, headers: Record<string, string>): string {
  return renderRows(resolveFormat(opts), rows, headers);
}
