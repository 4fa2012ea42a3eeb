// skiff inspect: raw API objects as an indented JSON array, or one template rendering each.

import { ApiError } from '../api/errors.js';
import { StatusError } from '../cli/errors.js';
import {
  escapeHtmlJson,
  NIL_MAP,
  NIL_SLICE,
  parseTemplate,
  type Template,
  TemplateExecError,
  TemplateParseError,
} from '../format/template.js';
import { templateText } from '../format/table-format.js';
import { describeError } from './report.js';
import type { Command, CommandContext } from './types.js';

const TYPES = ['config', 'container', 'image', 'network', 'node', 'plugin', 'secret', 'service', 'task', 'volume'];

type Kind = 'container' | 'image' | 'network' | 'volume';

function pathFor(kind: Kind, ref: string): string {
  const id = encodeURIComponent(ref);
  switch (kind) {
    case 'container':
      return `/containers/${id}/json`;
    case 'image':
      return `/images/${id}/json`;
    case 'network':
      return `/networks/${id}`;
    case 'volume':
      return `/volumes/${id}`;
  }
}

class NotFound extends Error {}

/**
 * Fields of docker's API structs that the JSON leaves out when empty (omitempty) or sends as null,
 * with the Go zero value a template over the typed struct sees (nil maps and slices): `{{.Config.ExposedPorts}}` and
 * `{{.Config.Volumes}}` print "map[]", not an error or "<nil>".
 */
const OMITTED_FIELDS: Readonly<Record<string, unknown>> = {
  Aliases: NIL_SLICE,
  ArgsEscaped: false,
  Binds: NIL_SLICE,
  CapAdd: NIL_SLICE,
  CapDrop: NIL_SLICE,
  Cmd: NIL_SLICE,
  DeviceCgroupRules: NIL_SLICE,
  DeviceRequests: NIL_SLICE,
  Env: NIL_SLICE,
  ExecIDs: NIL_SLICE,
  ExtraHosts: NIL_SLICE,
  GroupAdd: NIL_SLICE,
  Links: NIL_SLICE,
  SecurityOpt: NIL_SLICE,
  VolumesFrom: NIL_SLICE,
  Entrypoint: NIL_SLICE,
  ExposedPorts: NIL_MAP,
  Health: null,
  Healthcheck: null,
  MacAddress: '',
  NetworkDisabled: false,
  Node: null,
  OnBuild: NIL_SLICE,
  Shell: NIL_SLICE,
  SizeRootFs: null,
  SizeRw: null,
  StopSignal: '',
  StopTimeout: null,
  Labels: NIL_MAP,
  Volumes: NIL_MAP,
};

/** One object: of the given kind, or the first kind that knows the reference. */
async function fetchObject(ctx: CommandContext, ref: string, kinds: readonly Kind[], size: boolean): Promise<unknown> {
  for (const kind of kinds) {
    try {
      return await ctx.client.json<unknown>('GET', pathFor(kind, ref), {
        query: kind === 'container' && size ? { size: true } : undefined,
      });
    } catch (err) {
      // With no --type, a 404 (or a 400 for a name that is not a valid image reference) means "try the next kind".
      if (kinds.length > 1 && err instanceof ApiError && (err.status === 404 || err.status === 400)) continue;
      throw err;
    }
  }
  throw new NotFound(`Error: No such object: ${ref}`);
}

/** Inspects each reference and prints like docker's inspect.Inspect. */
export async function inspectAll(
  ctx: CommandContext,
  refs: readonly string[],
  kinds: readonly Kind[],
  format: string | undefined,
  size: boolean,
  /** The docker CLI re-marshals typed objects (volume inspect) with json.Marshal, which escapes <, >, &. */
  htmlEscape = false,
): Promise<number> {
  const { stdout } = ctx.streams;
  let tmpl: Template | undefined;
  const json = format === 'json';
  if (format !== undefined && format !== '' && !json) {
    try {
      tmpl = parseTemplate(templateText(format));
    } catch (err) {
      if (err instanceof TemplateParseError) throw new StatusError(64, `template parsing error: ${err.message}`);
      throw err;
    }
  }
  const results = await Promise.all(
    refs.map((ref) =>
      fetchObject(ctx, ref, kinds, size).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    ),
  );
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const r of results) {
    if ('error' in r) {
      errors.push(r.error instanceof NotFound ? r.error.message : describeError(r.error));
      continue;
    }
    if (!tmpl) {
      found.push(r.value);
      continue;
    }
    try {
      stdout.write(`${tmpl.execute(r.value, { missingKey: 'inspect', omittedFields: OMITTED_FIELDS })}\n`);
    } catch (err) {
      if (!(err instanceof TemplateExecError)) throw err;
      stdout.write('\n');
      throw new StatusError(1, `template parsing error: ${err.message}`);
    }
  }
  // --format json: the raw objects as one compact array.
  if (!tmpl) {
    const text = found.length === 0 ? '[]' : JSON.stringify(found, null, json ? 0 : 4);
    stdout.write(`${htmlEscape ? escapeHtmlJson(text) : text}\n`);
  }
  if (errors.length > 0) throw new StatusError(1, errors.join('\n'));
  return 0;
}

export const inspectCommand: Command = {
  name: 'inspect',
  usage: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  summary: 'Return low-level information on Docker objects',
  interspersed: true,
  args: { min: 1 },
  flags: [
    {
      name: 'format',
      short: 'f',
      type: 'string',
      description: "Format output using a custom template: 'json', 'TEMPLATE'",
    },
    { name: 'size', short: 's', type: 'bool', description: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', description: 'Only inspect objects of the given type' },
  ],
  async run(ctx, { flags, args }) {
    const type = flags.type as string | undefined;
    let kinds: Kind[] = ['container', 'image', 'network', 'volume'];
    if (type !== undefined && type !== '') {
      if (!TYPES.includes(type)) {
        throw new StatusError(1, `unknown type: "${type}": must be one of ${TYPES.map((t) => `"${t}"`).join(', ')}`);
      }
      if (!(kinds as string[]).includes(type)) {
        throw new StatusError(1, `Error response from daemon: ${type} inspection is not supported by this daemon`);
      }
      kinds = [type as Kind];
    }
    return inspectAll(ctx, args, kinds, flags.format as string | undefined, flags.size === true);
  },
};
