// skiff plugin install | inspect | enable | disable | upgrade | rm: the daemon's plugin store
// (skiff's native /skiff/v1/plugins routes). A plugin runs as root inside skiffd, so install and
// upgrade show what the package is and ask before anything of it runs.

import { isAbsolute, resolve } from 'node:path';
import { StatusError } from '../cli/errors.js';
import type { SubCommand } from '../cli/group.js';
import { confirm } from '../cli/prompt.js';
import type { CommandContext } from './types.js';

export interface PluginPreview {
  Package: string;
  Version: string;
  Integrity: string;
  Kind: string;
  Name: string;
  HostRange: string;
  Spec: string;
}

export interface PluginInfo {
  Package: string;
  Kind: string;
  Name: string;
  Version: string;
  State: string;
  Reason: string;
  Enabled: boolean;
  Integrity: string;
  RestartRequired: boolean;
  Message: string;
}

/**
 * Local paths are made absolute here: the daemon's working directory is not ours. Like npm, a
 * spec is a path when it starts with `.`, `/` or `~/`, or names a tarball.
 */
export function resolveSpec(spec: string, cwd = process.cwd(), home = process.env.HOME ?? '/'): string {
  if (spec.startsWith('file:')) return `file:${resolveSpec(spec.slice(5), cwd, home)}`;
  if (spec.startsWith('~/')) return resolve(home, spec.slice(2));
  if (spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../')) return resolve(cwd, spec);
  if (!isAbsolute(spec) && /\.(tgz|tar\.gz|tar)$/.test(spec) && !spec.includes('://')) return resolve(cwd, spec);
  return spec;
}

export function describePreview(p: PluginPreview): string {
  return [
    `Package:    ${p.Package}`,
    `Version:    ${p.Version}`,
    `Kind:       ${p.Kind}`,
    `Driver:     ${p.Name}`,
    `Integrity:  ${p.Integrity}`,
    `Works with: @skiff/core ${p.HostRange}`,
    '',
  ].join('\n');
}

const path = (name: string, action = ''): string =>
  `/skiff/v1/plugins/${encodeURIComponent(name)}${action ? `/${action}` : ''}`;

/** Shows the preview and asks on a terminal; without one, only --yes goes ahead. */
async function confirmed(ctx: CommandContext, preview: PluginPreview, verb: string, yes: boolean): Promise<boolean> {
  ctx.streams.stdout.write(describePreview(preview));
  if (yes) return true;
  if (!ctx.streams.stdin.isTTY) {
    throw new StatusError(
      1,
      `${ctx.program}: refusing to ${verb} ${preview.Package} without confirmation: a plugin runs as root in skiffd; run this on a terminal or pass --yes`,
    );
  }
  return confirm(
    ctx.streams.stdin,
    ctx.streams.stdout,
    `A plugin runs as root inside skiffd. ${verb[0]!.toUpperCase()}${verb.slice(1)} ${preview.Package}@${preview.Version}?`,
  );
}

/** Prints the outcome; a plugin that did not load is a failure (exit 1). */
function report(ctx: CommandContext, info: PluginInfo): number {
  ctx.streams.stdout.write(`${info.Message}\n`);
  if (info.RestartRequired) ctx.streams.stdout.write('Restart skiffd for the new version to run.\n');
  return info.State === 'failed' || info.State === 'skipped' ? 1 : 0;
}

const yesFlag = {
  name: 'yes',
  short: 'y',
  type: 'bool' as const,
  description: 'Install without asking (the plugin runs as root in skiffd)',
};

export const installCommand: SubCommand = {
  name: 'install',
  usage: 'install [OPTIONS] SPEC',
  summary: 'Install a plugin from npm (name, name@version, a .tgz or a directory) and enable it',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [yesFlag],
  async run(ctx, { args, flags }) {
    const spec = resolveSpec(args[0]!);
    const preview = await ctx.client.json<PluginPreview>('POST', '/skiff/v1/plugins/pull', {
      unversioned: true,
      query: { spec },
    });
    if (!(await confirmed(ctx, preview, 'install', flags.yes === true))) {
      ctx.streams.stderr.write('Not installed.\n');
      return 1;
    }
    const info = await ctx.client.json<PluginInfo>('POST', '/skiff/v1/plugins/install', {
      unversioned: true,
      query: { spec, integrity: preview.Integrity },
    });
    return report(ctx, info);
  },
};

export const upgradeCommand: SubCommand = {
  name: 'upgrade',
  usage: 'upgrade [OPTIONS] PLUGIN [SPEC]',
  summary: 'Replace an installed plugin by another version (default: the newest of its name on npm)',
  interspersed: true,
  args: { min: 1, max: 2 },
  flags: [{ ...yesFlag, description: 'Upgrade without asking' }],
  async run(ctx, { args, flags }) {
    const name = args[0]!;
    const spec = resolveSpec(args[1] ?? name);
    const preview = await ctx.client.json<PluginPreview>('POST', '/skiff/v1/plugins/pull', {
      unversioned: true,
      query: { spec },
    });
    if (!(await confirmed(ctx, preview, 'upgrade to', flags.yes === true))) {
      ctx.streams.stderr.write('Not upgraded.\n');
      return 1;
    }
    const info = await ctx.client.json<PluginInfo>('POST', path(name, 'upgrade'), {
      unversioned: true,
      query: { spec, integrity: preview.Integrity },
    });
    return report(ctx, info);
  },
};

export const inspectCommand: SubCommand = {
  name: 'inspect',
  usage: 'inspect PLUGIN [PLUGIN...]',
  summary: 'Display detailed information on one or more plugins (package or driver name)',
  interspersed: true,
  args: { min: 1 },
  flags: [],
  async run(ctx, { args }) {
    const out: unknown[] = [];
    for (const name of args) out.push(await ctx.client.json('GET', path(name), { unversioned: true }));
    ctx.streams.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
    return 0;
  },
};

function toggle(action: 'enable' | 'disable', summary: string): SubCommand {
  return {
    name: action,
    usage: `${action} PLUGIN`,
    summary,
    interspersed: true,
    args: { min: 1, max: 1 },
    flags: [],
    async run(ctx, { args }) {
      const info = await ctx.client.json<PluginInfo>('POST', path(args[0]!, action), { unversioned: true });
      return report(ctx, info);
    },
  };
}

export const enableCommand = toggle('enable', 'Enable an installed plugin (it loads at once)');
export const disableCommand = toggle(
  'disable',
  'Disable an installed plugin (its driver goes at once; refused while anything uses it)',
);

export const rmCommand: SubCommand = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'rm PLUGIN',
  summary: 'Remove an installed plugin (refused while anything uses its driver)',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, { args }) {
    const r = await ctx.client.json<{ Message: string }>('DELETE', path(args[0]!), { unversioned: true });
    ctx.streams.stdout.write(`${r.Message}\n`);
    return 0;
  },
};
