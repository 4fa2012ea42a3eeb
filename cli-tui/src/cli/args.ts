// A small POSIX/pflag-style argument parser with the docker CLI's error messages:
// long flags (--name N, --name=N), short flags (-e K=V, -eK=V, -it), repeatable
// values, "--" to end flags, and optional stop at the first positional argument.

import { UsageError } from './errors.js';

export type FlagType = 'bool' | 'string' | 'list';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  /** Placeholder shown in help, e.g. "string", "list". */
  valueName?: string;
  description: string;
}

export type FlagValues = Record<string, boolean | string | string[] | undefined>;

export interface ParsedArgs {
  flags: FlagValues;
  args: string[];
  /** --help was given as -h, which cobra answers with a deprecation line first. */
  shortHelp?: boolean;
}

export const SHORT_HELP_NOTICE = 'Flag shorthand -h has been deprecated, use --help\n';

export interface ParseOptions {
  /** false: flags end at the first positional argument (docker run IMAGE CMD…). */
  interspersed: boolean;
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function parseBool(value: string, flagLabel: string): boolean {
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw new UsageError(
    `invalid argument "${value}" for "${flagLabel}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`,
    'flag',
  );
}

function assign(flags: FlagValues, spec: FlagSpec, value: string | boolean): void {
  if (spec.type === 'list') {
    const list = (flags[spec.name] as string[] | undefined) ?? [];
    list.push(String(value));
    flags[spec.name] = list;
  } else {
    flags[spec.name] = value;
  }
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[], options: ParseOptions): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short as string, s]));
  const flags: FlagValues = {};
  const args: string[] = [];
  let shortHelp = false;
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] as string;
    i++;
    if (arg === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = byName.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`, 'flag');
      if (spec.type === 'bool') {
        assign(flags, spec, eq >= 0 ? parseBool(arg.slice(eq + 1), `--${name}`) : true);
      } else if (eq >= 0) {
        assign(flags, spec, arg.slice(eq + 1));
      } else {
        if (i >= argv.length) throw new UsageError(`flag needs an argument: --${name}`, 'flag');
        assign(flags, spec, argv[i] as string);
        i++;
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // A cluster of short flags: -it, -e KEY=V, -eKEY=V, -a=true.
      let j = 1;
      while (j < arg.length) {
        const letter = arg[j] as string;
        const spec = byShort.get(letter);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${letter}' in ${arg}`, 'flag');
        j++;
        if (spec.type === 'bool') {
          if (arg[j] === '=') {
            assign(flags, spec, parseBool(arg.slice(j + 1), `-${letter}, --${spec.name}`));
            j = arg.length;
          } else {
            assign(flags, spec, true);
          }
          if (spec.name === 'help') shortHelp = true;
          continue;
        }
        if (j < arg.length) {
          assign(flags, spec, arg[j] === '=' ? arg.slice(j + 1) : arg.slice(j));
        } else {
          if (i >= argv.length) throw new UsageError(`flag needs an argument: '${letter}' in -${letter}`, 'flag');
          assign(flags, spec, argv[i] as string);
          i++;
        }
        j = arg.length;
      }
      continue;
    }
    args.push(arg);
    if (!options.interspersed) {
      args.push(...argv.slice(i));
      break;
    }
  }
  return shortHelp ? { flags, args, shortHelp } : { flags, args };
}

/** The "Options:" block of a help text, laid out like cobra. */
export function formatFlagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const names = s.short ? `-${s.short}, --${s.name}` : `    --${s.name}`;
    const value = s.type === 'bool' ? '' : ` ${s.valueName ?? (s.type === 'list' ? 'list' : 'string')}`;
    return { left: `  ${names}${value}`, right: s.description };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 3;
  return rows.map((r) => `${r.left.padEnd(width)}${r.right}`).join('\n');
}
