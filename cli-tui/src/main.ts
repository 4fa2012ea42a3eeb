// argv → command → exit code, with the docker CLI's usage errors and exit statuses.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiClient } from './api/client.js';
import { ApiError, ConnectionError } from './api/errors.js';
import { type FlagSpec, formatFlagHelp, parseArgs, SHORT_HELP_NOTICE } from './cli/args.js';
import { StatusError, UsageError } from './cli/errors.js';
import { commandColumn, findSubcommand, groupHelp, isGroup, subHelp } from './cli/group.js';
import { COMMANDS, findCommand } from './commands/index.js';
import { describeError } from './commands/report.js';
import type { Command, ProcessHooks, Streams } from './commands/types.js';
import { DEFAULT_HOST, EndpointError, resolveEndpoint } from './endpoint.js';
import { CLIENT_VERSION } from './meta.js';

const PROGRAM = 'skiff';

const GLOBAL_FLAGS: FlagSpec[] = [
  {
    name: 'host',
    short: 'H',
    type: 'list',
    description: `Daemon socket to connect to (default: $SKIFF_HOST, $DOCKER_HOST, ${DEFAULT_HOST})`,
  },
  { name: 'help', short: 'h', type: 'bool', description: 'Print usage' },
  { name: 'version', short: 'v', type: 'bool', description: 'Print version information and quit' },
];

export interface CliDeps {
  streams: Streams;
  env: NodeJS.ProcessEnv;
  hooks: ProcessHooks;
  now?: () => number;
}

function mainHelp(): string {
  const width = commandColumn(COMMANDS.map((c) => c.name));
  const commands = COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n');
  return `Usage:  ${PROGRAM} [OPTIONS] COMMAND

A docker-style client for skiffd (and any Docker Engine API daemon)

Commands:
${commands}

Global Options:
${formatFlagHelp(GLOBAL_FLAGS)}

Run '${PROGRAM} COMMAND --help' for more information on a command.
`;
}

function commandFlags(command: Command): FlagSpec[] {
  const usesH = command.flags.some((f) => f.short === 'h');
  const help: FlagSpec = { name: 'help', type: 'bool', description: 'Print usage', ...(usesH ? {} : { short: 'h' }) };
  return [...command.flags, help];
}

function commandHelp(command: Command): string {
  if (isGroup(command)) return groupHelp(PROGRAM, command);
  return `Usage:  ${PROGRAM} ${command.usage}

${command.summary}

Options:
${formatFlagHelp(commandFlags(command))}
`;
}

function usageFailure(usage: string, helpCommand: string, err: UsageError): string {
  const message = err.kind === 'args' ? `${PROGRAM}: ${err.message}` : err.message;
  return `${message}\n\nUsage:  ${usage}\n\n${err.hintVerb} '${helpCommand} --help' for more information\n`;
}

function plural(n: number): string {
  return n === 1 ? 'argument' : 'arguments';
}

function checkArgs(command: Command, args: readonly string[]): void {
  const { min, max } = command.args;
  const label = `'${PROGRAM} ${command.name}'`;
  if (max === 0 && args.length > 0) throw new UsageError(`${label} accepts no arguments`, 'args', 'Run');
  // cobra's ExactArgs and RangeArgs say "Run '… --help'", MinimumNArgs says "See".
  if (min !== undefined && min === max && args.length !== min) {
    throw new UsageError(`${label} requires ${min} ${plural(min)}`, 'args', 'Run');
  }
  if (min !== undefined && max !== undefined && min !== max && (args.length < min || args.length > max)) {
    throw new UsageError(`${label} requires at least ${min} and at most ${max} ${plural(max)}`, 'args', 'Run');
  }
  if (min !== undefined && args.length < min) {
    throw new UsageError(`${label} requires at least ${min} ${plural(min)}`, 'args');
  }
  if (max !== undefined && args.length > max) {
    throw new UsageError(`${label} requires at most ${max} ${plural(max)}`, 'args');
  }
}

/** `skiff help`, `skiff help run`, `skiff help image ls`. */
function helpFor(path: readonly string[]): string {
  const target = path[0] ? findCommand(path[0]) : undefined;
  if (!target) return mainHelp();
  const sub = isGroup(target) && path[1] ? findSubcommand(target, path[1]) : undefined;
  return sub ? subHelp(PROGRAM, target.name, sub) : commandHelp(target);
}

/** A group's usage errors show `Usage:  docker image`, without COMMAND. */
function usageLine(command: Command): string {
  return `${PROGRAM} ${isGroup(command) ? command.errorUsage : command.usage}`;
}

/** Runs one CLI invocation and returns its exit code. Never throws. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const { stdout, stderr } = deps.streams;
  let global: ReturnType<typeof parseArgs>;
  try {
    global = parseArgs(argv, GLOBAL_FLAGS, { interspersed: false });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(usageFailure(`${PROGRAM} [OPTIONS] COMMAND [ARG...]`, PROGRAM, err));
    return 125;
  }
  if (global.flags.version) {
    stdout.write(`${PROGRAM} version ${CLIENT_VERSION}\n`);
    return 0;
  }
  const [name, ...rest] = global.args;
  if (name === 'help') {
    stdout.write(helpFor(rest));
    return 0;
  }
  if (global.flags.help) {
    stdout.write((global.shortHelp ? SHORT_HELP_NOTICE : '') + mainHelp());
    return 0;
  }
  // A bare `docker` prints its help on stderr.
  if (name === undefined) {
    stderr.write(mainHelp());
    return 0;
  }
  const command = findCommand(name);
  if (!command) {
    stderr.write(`${PROGRAM}: unknown command: ${PROGRAM} ${name}\n\nRun '${PROGRAM} --help' for more information\n`);
    return 1;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(rest, commandFlags(command), { interspersed: command.interspersed });
    if (parsed.flags.help) {
      stdout.write((parsed.shortHelp ? SHORT_HELP_NOTICE : '') + commandHelp(command));
      return 0;
    }
    checkArgs(command, parsed.args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(usageFailure(usageLine(command), `${PROGRAM} ${command.name}`, err));
    return err.kind === 'flag' ? 125 : 1;
  }

  let client: ApiClient;
  try {
    const endpoint = resolveEndpoint((global.flags.host as string[] | undefined) ?? [], deps.env);
    client = new ApiClient(endpoint, { userAgent: `skiff-cli/${CLIENT_VERSION} (${process.platform})` });
  } catch (err) {
    if (!(err instanceof EndpointError)) throw err;
    stderr.write(`${err.message}\n`);
    return 1;
  }
  try {
    return await command.run(
      {
        streams: deps.streams,
        env: deps.env,
        client,
        hooks: deps.hooks,
        program: PROGRAM,
        now: deps.now ?? Date.now,
      },
      parsed,
    );
  } catch (err) {
    if (err instanceof StatusError) {
      if (err.message) stderr.write(`${err.message}\n`);
      return err.code;
    }
    // A flag value the command itself validates (e.g. an int), reported like a parse error.
    if (err instanceof UsageError) {
      stderr.write(usageFailure(usageLine(command), `${PROGRAM} ${command.name}`, err));
      return err.kind === 'flag' ? 125 : 1;
    }
    if (err instanceof ConnectionError || err instanceof ApiError || err instanceof Error) {
      stderr.write(`${describeError(err)}\n`);
      return 1;
    }
    stderr.write(`${String(err)}\n`);
    return 1;
  } finally {
    client.close();
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `skiff ps | head -1`: a closed pipe ends the program quietly, like docker.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const code = await runCli(process.argv.slice(2), {
    streams: { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    env: process.env,
    hooks: process,
  });
  process.exit(code);
}
