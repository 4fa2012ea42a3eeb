import { DockerfileParser } from 'dockerfile-ast';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** An instruction as written: where it is and its logical line (continuations joined, comments dropped). */
interface Source {
  /** 1-based line of the keyword. */
  line: number;
  /** What "Step N/M : …" prints. */
  original: string;
}

export interface FromInstruction extends Source {
  kind: 'FROM';
  image: string;
  /** Lower-cased, as moby keeps stage names. */
  stageName?: string;
  platform?: string;
}
/** RUN, CMD, ENTRYPOINT: exec form (`json`) or one shell command line. */
export interface CommandInstruction extends Source {
  kind: 'RUN' | 'CMD' | 'ENTRYPOINT';
  json: boolean;
  args: string[];
}
export interface ShellInstruction extends Source {
  kind: 'SHELL';
  args: string[];
}
export interface CopyInstruction extends Source {
  kind: 'COPY' | 'ADD';
  sources: string[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
}
/** ENV and LABEL: raw (unexpanded) keys and values. */
export interface PairsInstruction extends Source {
  kind: 'ENV' | 'LABEL';
  pairs: { key: string; value: string }[];
}
export interface ArgInstruction extends Source {
  kind: 'ARG';
  key: string;
  value?: string;
}
export interface ValueInstruction extends Source {
  kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER';
  value: string;
}
export interface ListInstruction extends Source {
  kind: 'EXPOSE' | 'VOLUME';
  values: string[];
}
export interface HealthcheckInstruction extends Source {
  kind: 'HEALTHCHECK';
  /** `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", line]`. */
  test: string[];
  /** Nanoseconds; 0 when not given. */
  interval: number;
  timeout: number;
  startPeriod: number;
  retries: number;
}
export interface OnbuildInstruction extends Source {
  kind: 'ONBUILD';
  /** The trigger as stored in the image config (`RUN echo hi`). */
  expression: string;
}

export type Instruction =
  | FromInstruction
  | CommandInstruction
  | ShellInstruction
  | CopyInstruction
  | PairsInstruction
  | ArgInstruction
  | ValueInstruction
  | ListInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

export interface Stage {
  from: FromInstruction;
  commands: Instruction[];
}

export interface ParsedDockerfile {
  escape: string;
  /** ARGs before the first FROM. */
  metaArgs: ArgInstruction[];
  stages: Stage[];
}

/** A Dockerfile error, reported as dockerd 20.10 does: 400 with "dockerfile parse error line N: …". */
export class DockerfileParseError extends InvalidParameterError {
  constructor(line: number, message: string) {
    super(`dockerfile parse error line ${line}: ${message}`);
  }
}

const FLAGS: Record<string, readonly string[]> = {
  FROM: ['platform'],
  COPY: ['from', 'chown', 'chmod'],
  ADD: ['chown', 'chmod'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'retries'],
};

/** Parses a Dockerfile into meta ARGs and stages. Throws DockerfileParseError/InvalidParameterError. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const doc = DockerfileParser.parse(text);
  const escape = doc.getEscapeCharacter() || '\\';
  const lines = text.split(/\r?\n/);
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const logicalLines = doc.getInstructions().flatMap((ins) => {
    const range = ins.getRange();
    return splitLogical(lines.slice(range.start.line, range.end.line + 1), range.start.line + 1, escape);
  });
  for (const { text: logical, line } of logicalLines) {
    const parsed = parseLine(logical, line, escape);
    if (parsed.kind === 'FROM') stages.push({ from: parsed, commands: [] });
    else if (stages.length === 0) {
      if (parsed.kind !== 'ARG') throw new InvalidParameterError('no build stage in current context');
      metaArgs.push(parsed);
    } else stages.at(-1)!.commands.push(parsed);
  }
  if (stages.length === 0) throw new InvalidParameterError('dockerfile contains no stages to build');
  return { escape, metaArgs, stages };
}

/**
 * moby's logical lines in `physical` (first one numbered `first`): a trailing escape character
 * joins the next line, continuation lines lose their leading whitespace, and blank and comment
 * lines inside a continuation are dropped. A line without a trailing escape ends the instruction,
 * so what dockerfile-ast reads as a heredoc is, as in the classic builder, more instructions.
 */
function splitLogical(physical: string[], first: number, escape: string): { text: string; line: number }[] {
  const cont = new RegExp(`${escapeRegExp(escape)}[ \\t]*$`);
  const out: { text: string; line: number }[] = [];
  let cur: { text: string; line: number } | undefined;
  physical.forEach((raw, i) => {
    if (cur === undefined) {
      if (raw.trim() === '' || raw.trimStart().startsWith('#')) return;
      cur = { text: '', line: first + i };
    } else {
      const t = raw.replace(/^[ \t]+/, '');
      if (t.trim() === '' || t.startsWith('#')) return;
      raw = t;
    }
    if (cont.test(raw)) cur.text += raw.replace(cont, '');
    else {
      cur.text += raw;
      out.push({ text: cur.text.trim(), line: cur.line });
      cur = undefined;
    }
  });
  if (cur !== undefined && cur.text.trim() !== '') out.push({ text: cur.text.trim(), line: cur.line });
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Parses one logical line (also an ONBUILD trigger). */
export function parseLine(logical: string, line: number, escape = '\\'): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(logical.trim());
  if (!m) throw new DockerfileParseError(line, 'empty instruction');
  const keyword = m[1]!.toUpperCase();
  try {
    return parseInstruction(keyword, m[2]!, { line, original: logical.trim() }, escape);
  } catch (err) {
    if (err instanceof DockerfileParseError) throw err;
    throw new DockerfileParseError(line, (err as Error).message);
  }
}

function parseInstruction(keyword: string, rest0: string, src: Source, escape: string): Instruction {
  const known = [
    'FROM',
    'RUN',
    'CMD',
    'ENTRYPOINT',
    'SHELL',
    'COPY',
    'ADD',
    'ENV',
    'LABEL',
    'ARG',
    'WORKDIR',
    'USER',
    'STOPSIGNAL',
    'MAINTAINER',
    'EXPOSE',
    'VOLUME',
    'HEALTHCHECK',
    'ONBUILD',
  ];
  if (!known.includes(keyword)) throw new Error(`unknown instruction: ${keyword}`);
  const { flags, rest } = keyword === 'ONBUILD' ? { flags: new Map(), rest: rest0 } : extractFlags(rest0);
  const allowed = FLAGS[keyword] ?? [];
  for (const name of flags.keys()) if (!allowed.includes(name)) throw new Error(`Unknown flag: ${name}`);
  const flag = (n: string): string | undefined => flags.get(n);
  switch (keyword) {
    case 'FROM': {
      const args = rest.split(/\s+/).filter(Boolean);
      let stageName: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        stageName = args[2]!.toLowerCase();
        if (!/^[a-z][a-z0-9-_.]*$/.test(stageName))
          throw new Error(
            `invalid name for build stage: "${stageName}", name can't start with a number or contain symbols`,
          );
      } else if (args.length !== 1) throw new Error('FROM requires either one or three arguments');
      const platform = flag('platform');
      return {
        kind: 'FROM',
        ...src,
        image: args[0]!,
        ...(stageName ? { stageName } : {}),
        ...(platform ? { platform } : {}),
      };
    }
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT': {
      const { json, args } = maybeJson(rest);
      return { kind: keyword, ...src, json, args };
    }
    case 'SHELL': {
      const { json, args } = maybeJson(rest);
      if (args.length === 0) throw new Error('SHELL requires at least one argument');
      if (!json) throw new Error(`SHELL requires the arguments to be in JSON form`);
      return { kind: 'SHELL', ...src, args };
    }
    case 'COPY':
    case 'ADD': {
      const list = maybeJsonList(rest);
      if (list.length < 2)
        throw new Error(
          `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`,
        );
      const chmod = flag('chmod');
      if (chmod !== undefined && !/^[0-7]+$/.test(chmod)) throw new Error(`Error parsing chmod ${chmod}`);
      const from = flag('from');
      const chown = flag('chown');
      return {
        kind: keyword,
        ...src,
        sources: list.slice(0, -1),
        dest: list.at(-1)!,
        ...(from !== undefined ? { from } : {}),
        ...(chown ? { chown } : {}),
        ...(chmod ? { chmod } : {}),
      };
    }
    case 'ENV':
    case 'LABEL':
      return { kind: keyword, ...src, pairs: nameValues(keyword, rest, escape) };
    case 'ARG': {
      const words = splitWords(rest, escape);
      if (words.length !== 1) throw new Error('ARG requires exactly one argument');
      const w = words[0]!;
      const i = w.indexOf('=');
      if (i === 0) throw new Error('ARG names can not be blank');
      return i < 0
        ? { kind: 'ARG', ...src, key: w }
        : { kind: 'ARG', ...src, key: w.slice(0, i), value: w.slice(i + 1) };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER':
      if (rest.trim() === '') throw new Error(`${keyword} requires exactly one argument`);
      return { kind: keyword, ...src, value: rest.trim() };
    case 'EXPOSE': {
      const values = rest.split(/\s+/).filter(Boolean);
      if (values.length === 0) throw new Error('EXPOSE requires at least one argument');
      return { kind: 'EXPOSE', ...src, values };
    }
    case 'VOLUME': {
      const values = maybeJsonList(rest).map((v) => v.trim());
      if (values.length === 0) throw new Error('VOLUME requires at least one argument');
      if (values.some((v) => v === '')) throw new Error('VOLUME specified can not be an empty string');
      return { kind: 'VOLUME', ...src, values };
    }
    case 'HEALTHCHECK':
      return healthcheck(rest, flag, src);
    default: {
      // ONBUILD
      if (rest.trim() === '') throw new Error('ONBUILD requires at least one argument');
      const trigger = rest.trim().split(/\s+/, 1)[0]!.toUpperCase();
      if (trigger === 'ONBUILD') throw new Error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM')
        throw new Error(`${trigger} isn't allowed as an ONBUILD trigger`);
      parseInstruction(trigger, rest.trim().slice(trigger.length).trim(), src, escape);
      return { kind: 'ONBUILD', ...src, expression: rest.trim() };
    }
  }
}

/** moby's extractBuilderFlags: leading `--name=value` words. */
function extractFlags(rest: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let s = rest;
  for (;;) {
    const m = /^--([^\s=]*)(?:=("[^"]*"|'[^']*'|\S*))?(?:\s+|$)/.exec(s);
    if (!m) break;
    s = s.slice(m[0].length);
    if (m[1] === '') break;
    if (m[2] === undefined) throw new Error(`Missing a value on flag: ${m[1]}`);
    flags.set(m[1]!, m[2].replace(/^(["'])(.*)\1$/s, '$2'));
  }
  return { flags, rest: s };
}

/** RUN/CMD/ENTRYPOINT/SHELL: a JSON array of strings, else one shell command line. */
function maybeJson(rest: string): { json: boolean; args: string[] } {
  const t = rest.trim();
  if (t.startsWith('[')) {
    const arr = jsonStrings(t);
    if (arr) return { json: true, args: arr };
  }
  return { json: false, args: t === '' ? [] : [t] };
}

function maybeJsonList(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    const arr = jsonStrings(t);
    if (arr) return arr;
  }
  return t.split(/\s+/).filter(Boolean);
}

function jsonStrings(t: string): string[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x) => typeof x === 'string'))
    throw new Error('when using JSON array syntax, arrays must be comprised of strings only');
  return v as string[];
}

/** moby's parseWords: splits on unquoted whitespace, keeping quotes and escapes for later processing. */
export function splitWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | undefined;
  let blank = true;
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i]!;
    if (blank) {
      if (/\s/.test(ch)) continue;
      blank = false;
    }
    if (!quote && /\s/.test(ch)) {
      words.push(word);
      word = '';
      blank = true;
      continue;
    }
    if (ch === escape && quote !== "'" && i + 1 < rest.length) {
      word += ch + rest[i + 1]!;
      i++;
      continue;
    }
    if (quote === ch) quote = undefined;
    else if (!quote && (ch === '"' || ch === "'")) quote = ch;
    word += ch;
  }
  if (!blank) words.push(word);
  return words;
}

function nameValues(keyword: string, rest: string, escape: string): { key: string; value: string }[] {
  const words = splitWords(rest, escape);
  if (words.length === 0) throw new Error(`${keyword} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 2) throw new Error(`${keyword} must have two arguments`);
    const key = parts[0]!;
    return [{ key, value: rest.trim().slice(key.length).trim() }];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i < 0) throw new Error(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (i === 0) throw new Error(`${keyword} names can not be blank`);
    return { key: w.slice(0, i), value: w.slice(i + 1) };
  });
}

function healthcheck(rest: string, flag: (n: string) => string | undefined, src: Source): HealthcheckInstruction {
  const t = rest.trim();
  if (t === '') throw new Error('HEALTHCHECK requires at least one argument');
  const type = t.split(/\s+/, 1)[0]!.toUpperCase();
  const after = t.slice(type.length).trim();
  const base = { kind: 'HEALTHCHECK' as const, ...src, interval: 0, timeout: 0, startPeriod: 0, retries: 0 };
  if (type === 'NONE') {
    if (after !== '') throw new Error('HEALTHCHECK NONE takes no arguments');
    return { ...base, test: ['NONE'] };
  }
  if (type !== 'CMD') throw new Error(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const { json, args } = maybeJson(after);
  if (args.length === 0) throw new Error('Missing command after HEALTHCHECK CMD');
  const interval = (name: string): number => {
    const v = flag(name);
    if (v === undefined || v === '') return 0;
    const ns = parseGoDuration(v);
    if (ns < 1_000_000) throw new Error(`Interval "${name}" cannot be less than 1ms`);
    return ns;
  };
  let retries = 0;
  const r = flag('retries');
  if (r !== undefined && r !== '') {
    if (!/^[+-]?\d+$/.test(r)) throw new Error(`strconv.ParseInt: parsing "${r}": invalid syntax`);
    retries = Number(r);
    if (retries < 1) throw new Error(`--retries must be at least 1 (not ${retries})`);
  }
  return {
    ...base,
    test: json ? ['CMD', ...args] : ['CMD-SHELL', ...args],
    interval: interval('interval'),
    timeout: interval('timeout'),
    startPeriod: interval('start-period'),
    retries,
  };
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string): number {
  const bad = () => new Error(`time: invalid duration "${s}"`);
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  const body = s.replace(/^[+]/, '');
  while ((m = re.exec(body)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    end = re.lastIndex;
  }
  if (end === 0 || end !== body.length) throw bad();
  return Math.round(total);
}
