// skiff plugin ls: the daemon's plugin packages (GET /skiff/v1/plugins, skiff's own route).

import { ApiError } from '../api/errors.js';
import { colorEnabled, paint } from '../cli/color.js';
import { StatusError } from '../cli/errors.js';
import { defineGroup, type SubCommand } from '../cli/group.js';
import { formatList } from '../format/table-format.js';
import { templateStruct } from '../format/template.js';
import { initCommand } from './plugin-init.js';
import {
  disableCommand,
  enableCommand,
  inspectCommand,
  installCommand,
  rmCommand,
  upgradeCommand,
} from './plugin-manage.js';

export interface PluginEntry {
  Package: string;
  Kind: string;
  Name: string;
  Version: string;
  /** `disabled`: installed in the plugin store but not enabled; `pending`: enabled, loads when skiffd restarts. */
  State: 'loaded' | 'skipped' | 'failed' | 'disabled' | 'pending';
  Reason: string;
  Capabilities: Record<string, unknown> | null;
  /** Where it comes from: first-party (`builtin`), daemon.json `plugins` (`config`), `skiff plugin install` (`store`). */
  Source?: 'builtin' | 'config' | 'store';
  Enabled?: boolean;
  Integrity?: string;
}

/** "copyOnWrite,maxLayers=125": true flags by name, other values as key=value, false ones left out. */
export function describeCapabilities(caps: Record<string, unknown> | null): string {
  if (caps === null) return '';
  return Object.keys(caps)
    .sort()
    .flatMap((k) => {
      const v = caps[k];
      if (v === false || v === undefined || v === null) return [];
      if (v === true) return [k];
      return [`${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`];
    })
    .join(',');
}

export function pluginContext(p: PluginEntry): Record<string, string> {
  const caps = describeCapabilities(p.Capabilities);
  // Drivers start lazily: a loaded plugin whose driver is not in use has not reported capabilities.
  const notes =
    p.State === 'loaded'
      ? caps || '(driver not started)'
      : p.State === 'disabled'
        ? '(disabled)'
        : p.State === 'pending'
          ? '(loads when skiffd restarts)'
          : p.Reason;
  return templateStruct('*skiff.pluginContext', {
    Capabilities: caps,
    Kind: p.Kind || '-',
    Name: p.Name || '-',
    Notes: notes,
    Package: p.Package,
    Reason: p.Reason,
    Source: p.Source ?? '',
    State: p.State,
    Version: p.Version || '-',
  });
}

/** Colours whole rows of the default table (after alignment, so escapes do not shift columns). */
function colorRows(table: string, plugins: readonly PluginEntry[]): string {
  const lines = table.split('\n');
  return lines
    .map((line, i) => {
      const p = plugins[i - 1];
      if (i === 0 || !p || line === '') return line;
      if (p.State === 'failed') return paint(line, 'red', true);
      if (p.State === 'skipped' || p.State === 'disabled' || p.State === 'pending') return paint(line, 'yellow', true);
      return line;
    })
    .join('\n');
}

const HEADERS = {
  Kind: 'KIND',
  Name: 'NAME',
  Package: 'PACKAGE',
  Version: 'VERSION',
  State: 'STATE',
  Capabilities: 'CAPABILITIES',
  Reason: 'REASON',
  Source: 'SOURCE',
  Notes: 'CAPABILITIES / REASON',
};

const lsCommand: SubCommand = {
  name: 'ls',
  aliases: ['list'],
  usage: 'ls [OPTIONS]',
  summary: 'List the daemon’s plugins: loaded ones with their capabilities, skipped and failed ones with the reason',
  interspersed: true,
  args: { max: 0 },
  flags: [
    { name: 'format', type: 'string', description: 'Format output using a custom template' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Only display package names' },
  ],
  async run(ctx, { flags }) {
    let body: { Plugins?: PluginEntry[] } | undefined;
    try {
      body = await ctx.client.json<{ Plugins?: PluginEntry[] }>('GET', '/skiff/v1/plugins', { unversioned: true });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) {
        throw new StatusError(
          1,
          `${ctx.client.endpoint.url} is not a skiff daemon: it has no plugin list (GET /skiff/v1/plugins: ${err.message})`,
        );
      }
      throw err;
    }
    const format = flags.format as string | undefined;
    const quiet = flags.quiet === true;
    const plugins = body?.Plugins ?? [];
    const text = formatList(
      plugins.map(pluginContext),
      {
        format,
        quiet,
        quietFormat: '{{.Package}}',
        defaultTable: 'table {{.Kind}}\t{{.Name}}\t{{.Package}}\t{{.Version}}\t{{.State}}\t{{.Notes}}',
      },
      HEADERS,
    );
    const color = format === undefined && !quiet && colorEnabled(ctx.streams.stdout, ctx.env);
    ctx.streams.stdout.write(color ? colorRows(text, plugins) : text);
    return 0;
  },
};

export const pluginCommand = defineGroup('plugin', 'Manage the daemon’s plugins (skiff extension)', [
  lsCommand,
  installCommand,
  inspectCommand,
  enableCommand,
  disableCommand,
  upgradeCommand,
  rmCommand,
  initCommand,
]);
