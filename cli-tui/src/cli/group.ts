// Commands with subcommands (`skiff image ls`, `skiff network create`, …). A group is an ordinary
// Command whose flags stop at the first argument, so main.ts hands it the raw argv of the
// subcommand; it parses that argv itself, with the same usage errors and exit codes as main.

import { StatusError, UsageError } from './errors.js';
import { type FlagSpec, formatFlagHelp, type ParsedArgs, parseArgs, SHORT_HELP_NOTICE } from './args.js';
import type { Command, CommandContext } from '../commands/types.js';

export interface SubCommand extends Command {
  /** Other names, e.g. `ls` for `list`, `rm` for `remove`. */
  aliases?: string[];
}

export interface GroupCommand extends Command {
  subcommands: readonly SubCommand[];
  /** The usage line of the group's own errors: `image` for most, `volume COMMAND` for docker's volume. */
  errorUsage: string;
}

export function isGroup(command: Command): command is GroupCommand {
  return Array.isArray((command as Partial<GroupCommand>).subcommands);
}

/** The subcommand's flags plus --help (-h unless the command uses -h itself). */
export function withHelpFlag(command: Command): FlagSpec[] {
  const usesH = command.flags.some((f) => f.short === 'h');
  const help: FlagSpec = { name: 'help', type: 'bool', description: 'Print usage', ...(usesH ? {} : { short: 'h' }) };
  return [...command.flags, help];
}

function plural(n: number): string {
  return n === 1 ? 'argument' : 'arguments';
}

/** Argument-count rule of `command`, worded like main.ts (and the docker CLI). */
export function checkArgCount(command: Command, label: string, args: readonly string[]): void {
  const { min, max } = command.args;
  const quoted = `'${label}'`;
  if (max === 0 && args.length > 0) throw new UsageError(`${quoted} accepts no arguments`, 'args', 'Run');
  if (min !== undefined && min === max && args.length !== min) {
    throw new UsageError(`${quoted} requires ${min} ${plural(min)}`, 'args');
  }
  if (min !== undefined && args.length < min) {
    throw new UsageError(`${quoted} requires at least ${min} ${plural(min)}`, 'args');
  }
  if (max !== undefined && args.length > max) {
    throw new UsageError(`${quoted} requires at most ${max} ${plural(max)}`, 'args');
  }
}

/** cobra's name column: at least 11 wide, plus one space. */
export function commandColumn(names: readonly string[]): number {
  return Math.max(11, ...names.map((n) => n.length)) + 1;
}

/** `skiff image --help`: the group's subcommands, sorted by name like cobra. */
export function groupHelp(program: string, group: GroupCommand): string {
  const subs = [...group.subcommands].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const width = commandColumn(subs.map((c) => c.name));
  const lines = subs.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n');
  return `Usage:  ${program} ${group.name} COMMAND

${group.summary}

Commands:
${lines}

Run '${program} ${group.name} COMMAND --help' for more information on a command.
`;
}

export function subHelp(program: string, group: string, command: SubCommand): string {
  const aliases = command.aliases?.length
    ? `\n\nAliases:\n  ${[command.name, ...command.aliases].map((a) => `${program} ${group} ${a}`).join(', ')}`
    : '';
  return `Usage:  ${program} ${group} ${command.usage}

${command.summary}${aliases}

Options:
${formatFlagHelp(withHelpFlag(command))}
`;
}

/** docker 28's message for `docker image bogus`. */
export function unknownSubcommand(program: string, group: GroupCommand, sub: string): string {
  const { name } = group;
  return `${program}: unknown command: ${program} ${name} ${sub}\n\nUsage:  ${program} ${group.errorUsage}\n\nRun '${program} ${name} --help' for more information`;
}

export function findSubcommand(group: GroupCommand, name: string): SubCommand | undefined {
  return group.subcommands.find((c) => c.name === name || (c.aliases ?? []).includes(name));
}

/** Runs `sub` with `argv` (everything after its name) the way main.ts runs a top-level command. */
export async function runParsed(
  ctx: CommandContext,
  command: Command,
  groupName: string,
  argv: readonly string[],
  help: () => string,
): Promise<number> {
  const label = `${ctx.program} ${groupName} ${command.name}`;
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv, withHelpFlag(command), { interspersed: command.interspersed });
    if (parsed.flags.help) {
      ctx.streams.stdout.write((parsed.shortHelp ? SHORT_HELP_NOTICE : '') + help());
      return 0;
    }
    checkArgCount(command, label, parsed.args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const message = err.kind === 'args' ? `${ctx.program}: ${err.message}` : err.message;
    ctx.streams.stderr.write(
      `${message}\n\nUsage:  ${ctx.program} ${groupName} ${command.usage}\n\n${err.hintVerb} '${label} --help' for more information\n`,
    );
    return err.kind === 'flag' ? 125 : 1;
  }
  return runReportingUsage(ctx, command, `${groupName} ${command.usage}`, label, parsed);
}

/** Writes docker's usage failure block for an error found while running (e.g. a bad --filter value). */
function reportUsage(ctx: CommandContext, err: UsageError, usageLine: string, label: string): number {
  const message = err.kind === 'args' ? `${ctx.program}: ${err.message}` : err.message;
  ctx.streams.stderr.write(
    `${message}\n\nUsage:  ${ctx.program} ${usageLine}\n\n${err.hintVerb} '${label} --help' for more information\n`,
  );
  return err.kind === 'flag' ? 125 : 1;
}

async function runReportingUsage(
  ctx: CommandContext,
  command: Command,
  usageLine: string,
  label: string,
  parsed: ParsedArgs,
): Promise<number> {
  try {
    return await command.run(ctx, parsed);
  } catch (err) {
    if (err instanceof UsageError) return reportUsage(ctx, err, usageLine, label);
    throw err;
  }
}

/** A top-level command (or alias) whose run() may report flag-value errors with usage, like main.ts. */
export function topLevel(command: Command, name = command.name, usage = command.usage): Command {
  return {
    ...command,
    name,
    usage,
    run: (ctx, parsed) => runReportingUsage(ctx, command, usage, `${ctx.program} ${name}`, parsed),
  };
}

export function defineGroup(
  name: string,
  summary: string,
  subcommands: readonly SubCommand[],
  opts: { errorUsage?: string } = {},
): GroupCommand {
  const group: GroupCommand = {
    name,
    usage: `${name} COMMAND`,
    errorUsage: opts.errorUsage ?? name,
    summary,
    flags: [],
    interspersed: false,
    args: {},
    subcommands,
    async run(ctx, { args }) {
      const [subName, ...rest] = args;
      // Like `docker image`: the help goes to stderr, and the status is still 0.
      if (subName === undefined) {
        ctx.streams.stderr.write(groupHelp(ctx.program, group));
        return 0;
      }
      const sub = findSubcommand(group, subName);
      if (!sub) {
        // cobra sees --help anywhere on the line before it looks up the subcommand.
        if (rest.some((a) => a === '--help' || a === '-h')) {
          const notice = rest.includes('--help') ? '' : SHORT_HELP_NOTICE;
          ctx.streams.stdout.write(notice + groupHelp(ctx.program, group));
          return 0;
        }
        throw new StatusError(1, unknownSubcommand(ctx.program, group, subName));
      }
      return runParsed(ctx, sub, name, rest, () => subHelp(ctx.program, name, sub));
    },
  };
  return group;
}
