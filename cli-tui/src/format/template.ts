// The subset of Go's text/template that people use with `docker … --format`, with the docker
// CLI's functions (cli/templates): fields and field chains, method-like fields with arguments,
// pipelines, parenthesised pipelines, variables, if/else if/else, range (with else, break,
// continue), with, comments and trim markers. Values print the way Go's fmt does.

/** A bad template text: docker reports it as "template parsing error: …". */
export class TemplateParseError extends Error {
  constructor(message: string) {
    super(`template: :${message}`);
    this.name = 'TemplateParseError';
  }
}

/** The template failed while running over the data. */
export class TemplateExecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateExecError';
  }
}

export type TemplateFunction = (...args: unknown[]) => unknown;

export interface ExecuteOptions {
  /**
   * Go's missingkey option: "default" prints "<no value>", "error" fails. "inspect" is docker
   * inspect's typed-then-raw behaviour: a missing field of an API object (a map whose keys are all
   * capitalised, i.e. a Go struct) fails, a missing key of a real map (labels…) prints "<no value>".
   */
  missingKey?: 'default' | 'error' | 'inspect';
  /**
   * With "inspect": fields the API leaves out when empty (omitempty) or sends as null, with the
   * zero value of their Go type ({} prints map[], [] prints [], null prints <nil>).
   */
  omittedFields?: Readonly<Record<string, unknown>>;
  /** Replaces functions of the same name (docker's HeaderFunctions for table headers). */
  functions?: Record<string, TemplateFunction>;
}

const STRUCT_TYPE = Symbol('templateStructType');

/** A Go nil map or slice: prints "map[]" / "[]", marshals to null, is empty and false. */
export class GoNil {
  constructor(readonly kind: 'map' | 'slice') {}
}
export const NIL_MAP = new GoNil('map');
export const NIL_SLICE = new GoNil('slice');

/**
 * Marks an object as a Go struct (a docker formatter context): a missing field is an error
 * ("can't evaluate field X in type T") instead of "<no value>".
 */
export function templateStruct<T extends object>(typeName: string, value: T): T {
  Object.defineProperty(value, STRUCT_TYPE, { value: typeName, enumerable: false });
  return value;
}

function structType(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null
    ? ((value as Record<symbol, unknown>)[STRUCT_TYPE] as string | undefined)
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// Printing and truth, as Go's fmt and text/template do it.

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof GoNil)
  );
}

function printNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  return String(n);
}

/**
 * fmt.Sprint of one value (%v). With `apiStructs`, maps whose keys are all capitalised print as
 * the Go structs they were decoded from (docker inspect): `{v1 v2 …}`.
 */
export function printValue(value: unknown, nested = false, apiStructs = false): string {
  if (value === undefined) return nested ? '<nil>' : '<no value>';
  if (value === null) return '<nil>';
  if (value instanceof GoNil) return value.kind === 'map' ? 'map[]' : '[]';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return printNumber(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return printValue(callValue(value as TemplateFunction, [], '<function>'), nested);
  if (Array.isArray(value)) return `[${value.map((v) => printValue(v, true, apiStructs)).join(' ')}]`;
  if (value instanceof Date) return value.toISOString();
  if (isPlainMap(value)) {
    if (apiStructs && looksLikeStruct(value)) {
      return `{${Object.values(value)
        .map((v) => printValue(v, true, apiStructs))
        .join(' ')}}`;
    }
    if (structType(value) !== undefined) {
      return `{${Object.values(value)
        .filter((v) => typeof v !== 'function')
        .map((v) => printValue(v, true))
        .join(' ')}}`;
    }
    const keys = Object.keys(value).sort();
    return `map[${keys.map((k) => `${k}:${printValue(value[k], true, apiStructs)}`).join(' ')}]`;
  }
  return String(value);
}

/** text/template's truth: false, 0, nil, and empty strings, slices and maps are false. */
export function isTrue(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (value instanceof GoNil) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainMap(value) && structType(value) === undefined) return Object.keys(value).length > 0;
  return true;
}

function callValue(fn: TemplateFunction, args: unknown[], name: string): unknown {
  try {
    return fn(...args);
  } catch (err) {
    if (err instanceof TemplateExecError || err instanceof BreakSignal || err instanceof ContinueSignal) throw err;
    throw new TemplateExecError(`error calling ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Functions: Go's builtins and docker's cli/templates basicFunctions.

/** encoding/json with SetEscapeHTML(false), trailing newline trimmed (docker's "json"). */
export function goJson(value: unknown): string {
  const text = JSON.stringify(value === undefined ? null : value, (_k, v: unknown) => {
    if (v === undefined || v instanceof GoNil) return null;
    if (v instanceof Map) return Object.fromEntries(v);
    // A formatter context marshals like docker's MarshalJSON: its fields, keys sorted.
    if (structType(v) !== undefined) {
      const obj = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(obj)
          .filter((k) => typeof obj[k] !== 'function' || (obj[k] as TemplateFunction).length === 0)
          .sort()
          .map((k) => [k, typeof obj[k] === 'function' ? (obj[k] as TemplateFunction)() : obj[k]]),
      );
    }
    return v;
  });
  const out = (text ?? 'null').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  // A formatter context's MarshalJSON uses json.Marshal, which escapes HTML characters.
  if (structType(value) === undefined) return out;
  return escapeHtmlJson(out);
}

/** What json.Marshal (escapeHTML on) does beyond JSON.stringify: <, > and & (and U+2028/9) as \u escapes. */
export function escapeHtmlJson(text: string): string {
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function str(value: unknown, fn: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateExecError(`wrong type for value; expected string; got ${goTypeName(value)} (calling ${fn})`);
}

function int(value: unknown, fn: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  throw new TemplateExecError(`wrong type for value; expected int; got ${goTypeName(value)} (calling ${fn})`);
}

function goTypeName(value: unknown): string {
  if (value === undefined || value === null) return '<nil>';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float64';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return '[]interface {}';
  return structType(value) ?? 'map[string]interface {}';
}

/** strings.Title: upper-cases the first letter of each word (Go's separators, apostrophe included). */
export function goTitle(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = /[\s]/u.test(prev) || (prev.charCodeAt(0) < 0x80 && !/[A-Za-z0-9_]/.test(prev));
    out += sep ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

function length(value: unknown): number {
  if (value instanceof GoNil) return 0;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Array.isArray(value)) return value.length;
  if (isPlainMap(value)) return Object.keys(value).length;
  throw new TemplateExecError(`error calling len: len of type ${goTypeName(value)}`);
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let current = item;
  for (const key of keys) {
    if (Array.isArray(current) || typeof current === 'string') {
      const i = int(key, 'index');
      const len = Array.isArray(current) ? current.length : current.length;
      if (i < 0 || i >= len) throw new TemplateExecError(`error calling index: index out of range: ${i}`);
      current = Array.isArray(current) ? current[i] : current.charCodeAt(i);
    } else if (isPlainMap(current)) {
      current = Object.hasOwn(current, String(key)) ? current[String(key)] : undefined;
    } else if (current instanceof GoNil && current.kind === 'map') {
      current = undefined;
    } else if (current === undefined || current === null) {
      throw new TemplateExecError('error calling index: index of untyped nil');
    } else {
      throw new TemplateExecError(`error calling index: can't index item of type ${goTypeName(current)}`);
    }
  }
  return current;
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateExecError(`error calling ${name}: incompatible types for comparison`);
}

function basicEq(a: unknown, b: unknown): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if ((typeof a === 'object' && a !== null) || (typeof b === 'object' && b !== null)) {
    if (a === null || b === null) return a === b;
    throw new TemplateExecError('error calling eq: non-comparable types');
  }
  if (a !== null && b !== null && typeof a !== typeof b) {
    throw new TemplateExecError('error calling eq: incompatible types for comparison');
  }
  return a === b;
}

/** fmt.Sprint: a space between operands when neither side is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += printValue(a, true);
  });
  return out;
}

/** fmt.Sprintf with the verbs people use: %s %v %d %q %t %x %f %%, flags '-' '0' and widths. */
export function sprintf(format: string, ...args: unknown[]): string {
  let argIndex = 0;
  return format.replace(
    /%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])/g,
    (_whole, flags: string, w: string, p: string | undefined, verb: string) => {
      if (verb === '%') return '%';
      if (argIndex >= args.length) return `%!${verb}(MISSING)`;
      const arg = args[argIndex++];
      let text: string;
      switch (verb) {
        case 'd':
          text = typeof arg === 'number' ? String(Math.trunc(arg)) : `%!d(${goTypeName(arg)}=${printValue(arg, true)})`;
          break;
        case 'q':
          text = JSON.stringify(printValue(arg, true));
          break;
        case 'x':
          text =
            typeof arg === 'number' ? arg.toString(16) : Buffer.from(printValue(arg, true), 'utf8').toString('hex');
          break;
        case 'f':
          text = typeof arg === 'number' ? arg.toFixed(p === undefined ? 6 : Number(p)) : `%!f(${goTypeName(arg)})`;
          break;
        default:
          text = printValue(arg, true);
          if ((verb === 's' || verb === 'v') && p !== undefined) text = [...text].slice(0, Number(p)).join('');
      }
      const width = w === '' ? 0 : Number(w);
      const pad = Math.max(0, width - [...text].length);
      if (pad === 0) return text;
      if (flags.includes('-')) return text + ' '.repeat(pad);
      return (flags.includes('0') && verb !== 's' ? '0' : ' ').repeat(pad) + text;
    },
  );
}

export const BUILTIN_FUNCTIONS: Record<string, TemplateFunction> = {
  and: (...args) => {
    for (const a of args) if (!isTrue(a)) return a;
    return args[args.length - 1];
  },
  or: (...args) => {
    for (const a of args) if (isTrue(a)) return a;
    return args[args.length - 1];
  },
  not: (a) => !isTrue(a),
  len: (a) => length(a),
  index: (item, ...keys) => index(item, ...keys),
  slice: (item, ...bounds) => {
    const n = bounds.map((b) => int(b, 'slice'));
    if (typeof item === 'string' || Array.isArray(item)) return item.slice(n[0] ?? 0, n[1] ?? item.length);
    throw new TemplateExecError(`error calling slice: can't slice item of type ${goTypeName(item)}`);
  },
  print: (...args) => sprint(args),
  printf: (format, ...args) => sprintf(str(format, 'printf'), ...args),
  println: (...args) => `${args.map((a) => printValue(a, true)).join(' ')}\n`,
  eq: (a, ...rest) => {
    if (rest.length === 0) throw new TemplateExecError('error calling eq: missing argument for comparison');
    return rest.some((b) => basicEq(a, b));
  },
  ne: (a, b) => !basicEq(a, b),
  lt: (a, b) => compare('lt', a, b) < 0,
  le: (a, b) => compare('le', a, b) <= 0,
  gt: (a, b) => compare('gt', a, b) > 0,
  ge: (a, b) => compare('ge', a, b) >= 0,
  html: (...args) =>
    sprint(args).replace(
      /[<>&'"\0]/g,
      (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&#34;', '\0': '\uFFFD' })[c] ?? c,
    ),
  js: (...args) =>
    sprint(args).replace(/[\\'"<>&=]/g, (c) =>
      `\\u00${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`.replace(/^\\u005C$/, '\\\\'),
    ),
  urlquery: (...args) => encodeURIComponent(sprint(args)).replace(/%20/g, '+'),
  call: (fn, ...args) => {
    if (typeof fn !== 'function') throw new TemplateExecError('error calling call: non-function');
    return (fn as TemplateFunction)(...args);
  },
};

/** docker's cli/templates basicFunctions. */
export const DOCKER_FUNCTIONS: Record<string, TemplateFunction> = {
  json: (v) => goJson(v),
  split: (s, sep) => {
    const text = str(s, 'split');
    const by = str(sep, 'split');
    return by === '' ? [...text] : text.split(by);
  },
  join: (list, sep) => {
    if (!Array.isArray(list)) {
      throw new TemplateExecError(`wrong type for value; expected []string; got ${goTypeName(list)}`);
    }
    return list.map((e) => str(e, 'join')).join(str(sep, 'join'));
  },
  title: (s) => goTitle(str(s, 'title')),
  lower: (s) => str(s, 'lower').toLowerCase(),
  upper: (s) => str(s, 'upper').toUpperCase(),
  pad: (s, prefix, suffix) => {
    const text = str(s, 'pad');
    return text === '' ? text : ' '.repeat(int(prefix, 'pad')) + text + ' '.repeat(int(suffix, 'pad'));
  },
  truncate: (s, n) => {
    const text = str(s, 'truncate');
    const len = int(n, 'truncate');
    return text.length < len ? text : text.slice(0, len);
  },
};

/** docker's templates.HeaderFunctions: table headers pass through the text functions unchanged. */
export const HEADER_FUNCTIONS: Record<string, TemplateFunction> = {
  json: (v) => v,
  split: (v) => v,
  join: (v) => v,
  title: (v) => v,
  lower: (v) => v,
  upper: (v) => v,
  truncate: (v) => v,
};

const ALL_FUNCTIONS: Record<string, TemplateFunction> = { ...BUILTIN_FUNCTIONS, ...DOCKER_FUNCTIONS };

// ---------------------------------------------------------------------------------------------
// Lexer

type TokenKind =
  | 'text'
  | 'left'
  | 'right'
  | 'field'
  | 'variable'
  | 'ident'
  | 'string'
  | 'number'
  | 'dot'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'space'
  | 'eof';

interface Token {
  kind: TokenKind;
  value: string;
  pos: number;
}

function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

function isSpaceChar(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  const fail = (at: number, message: string): never => {
    throw new TemplateParseError(`${lineOf(text, at)}: ${message}`);
  };
  while (pos < text.length) {
    const open = text.indexOf('{{', pos);
    if (open < 0) {
      tokens.push({ kind: 'text', value: text.slice(pos), pos });
      break;
    }
    let textEnd = open;
    let inner = open + 2;
    const trimLeft = text[inner] === '-' && isSpaceChar(text[inner + 1]);
    if (trimLeft) {
      while (textEnd > pos && isSpaceChar(text[textEnd - 1])) textEnd--;
      inner += 2;
    }
    if (textEnd > pos) tokens.push({ kind: 'text', value: text.slice(pos, textEnd), pos });
    pos = inner;
    // Comment: {{/* … */}}
    let afterSpace = pos;
    while (isSpaceChar(text[afterSpace]) && trimLeft) afterSpace++;
    if (text.startsWith('/*', trimLeft ? afterSpace : pos)) {
      const start = trimLeft ? afterSpace : pos;
      const close = text.indexOf('*/', start + 2);
      if (close < 0) fail(start, 'unclosed comment');
      let p = close + 2;
      let trimRight = false;
      if (isSpaceChar(text[p])) {
        let q = p;
        while (isSpaceChar(text[q])) q++;
        if (text.startsWith('-}}', q)) {
          trimRight = true;
          p = q + 1;
        }
      }
      if (!text.startsWith('}}', p)) fail(p, 'comment ends before closing delimiter');
      pos = p + 2;
      if (trimRight) while (isSpaceChar(text[pos])) pos++;
      continue;
    }
    tokens.push({ kind: 'left', value: '{{', pos: open });
    let parenDepth = 0;
    for (;;) {
      if (pos >= text.length) fail(open, 'unclosed action');
      const c = text[pos] as string;
      if (isSpaceChar(c)) {
        let q = pos;
        while (isSpaceChar(text[q])) q++;
        if (text.startsWith('-}}', q)) {
          pos = q + 3;
          tokens.push({ kind: 'right', value: '}}', pos: q });
          while (isSpaceChar(text[pos])) pos++;
          break;
        }
        tokens.push({ kind: 'space', value: ' ', pos });
        pos = q;
        continue;
      }
      if (text.startsWith('}}', pos)) {
        if (parenDepth > 0) fail(pos, 'unclosed left paren');
        tokens.push({ kind: 'right', value: '}}', pos });
        pos += 2;
        break;
      }
      const start = pos;
      if (c === '|') {
        tokens.push({ kind: 'pipe', value: c, pos });
        pos++;
      } else if (c === '(') {
        parenDepth++;
        tokens.push({ kind: 'lparen', value: c, pos });
        pos++;
      } else if (c === ')') {
        parenDepth--;
        if (parenDepth < 0) fail(pos, `unexpected right paren`);
        tokens.push({ kind: 'rparen', value: c, pos });
        pos++;
      } else if (c === ',') {
        tokens.push({ kind: 'comma', value: c, pos });
        pos++;
      } else if (text.startsWith(':=', pos)) {
        tokens.push({ kind: 'declare', value: ':=', pos });
        pos += 2;
      } else if (c === '=') {
        tokens.push({ kind: 'assign', value: '=', pos });
        pos++;
      } else if (c === '"') {
        pos++;
        while (pos < text.length && text[pos] !== '"') {
          if (text[pos] === '\\') pos++;
          if (text[pos] === '\n') fail(start, 'unterminated quoted string');
          pos++;
        }
        if (pos >= text.length) fail(start, 'unterminated quoted string');
        pos++;
        tokens.push({ kind: 'string', value: unquote(text.slice(start, pos), () => fail(start, 'bad string')), pos });
      } else if (c === '`') {
        const close = text.indexOf('`', pos + 1);
        if (close < 0) fail(start, 'unterminated raw quoted string');
        tokens.push({ kind: 'string', value: text.slice(pos + 1, close), pos });
        pos = close + 1;
      } else if (c === "'") {
        const m = /^'(\\.|[^\\'])'/.exec(text.slice(pos));
        if (!m) fail(start, 'unterminated character constant');
        const ch = unquote(`"${(m as RegExpExecArray)[1]}"`, () => fail(start, 'bad character constant'));
        tokens.push({ kind: 'number', value: String(ch.codePointAt(0)), pos });
        pos += (m as RegExpExecArray)[0].length;
      } else if (c === '.' && !/[0-9]/.test(text[pos + 1] ?? '')) {
        const m = /^(\.[A-Za-z_0-9]*)+/.exec(text.slice(pos)) as RegExpExecArray;
        if (m[0] === '.') tokens.push({ kind: 'dot', value: '.', pos });
        else tokens.push({ kind: 'field', value: m[0], pos });
        pos += m[0].length;
      } else if (c === '$') {
        const m = /^\$[A-Za-z_0-9]*((\.[A-Za-z_0-9]+)*)/.exec(text.slice(pos)) as RegExpExecArray;
        tokens.push({ kind: 'variable', value: m[0], pos });
        pos += m[0].length;
      } else if (/[-+0-9.]/.test(c)) {
        const m = /^[-+]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?)/.exec(
          text.slice(pos),
        ) as RegExpExecArray;
        if (m[0] === '' || m[0] === '-' || m[0] === '+' || /[A-Za-z_]/.test(text[pos + m[0].length] ?? '')) {
          fail(start, `bad number syntax: "${text.slice(pos, pos + Math.max(1, m[0].length + 1))}"`);
        }
        tokens.push({ kind: 'number', value: m[0], pos });
        pos += m[0].length;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_0-9]+/.exec(text.slice(pos)) as RegExpExecArray;
        tokens.push({ kind: 'ident', value: m[0], pos });
        pos += m[0].length;
      } else {
        fail(pos, `unexpected "${c}" in command`);
      }
    }
  }
  tokens.push({ kind: 'eof', value: '', pos: text.length });
  return tokens;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** strconv.Unquote for a double-quoted Go string. */
function unquote(quoted: string, bad: () => never): string {
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i] ?? '';
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) out += simple;
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) bad();
      out += String.fromCodePoint(parseInt(hex, 16));
      i += n;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) bad();
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else bad();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parser

type Arg =
  | { kind: 'dot'; pos: number }
  | { kind: 'field'; path: string[]; pos: number; text: string }
  | { kind: 'variable'; name: string; path: string[]; pos: number; text: string }
  | { kind: 'ident'; name: string; pos: number }
  | { kind: 'literal'; value: unknown; pos: number }
  | { kind: 'pipe'; pipe: Pipeline; path: string[]; pos: number; text: string };

interface Cmd {
  args: Arg[];
  pos: number;
}

interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  pos: number;
}

interface ControlNode {
  kind: 'if' | 'with' | 'range';
  pipe: Pipeline;
  list: Node[];
  elseList?: Node[];
}

type Node =
  { kind: 'text'; text: string } | { kind: 'action'; pipe: Pipeline } | ControlNode | { kind: 'break' | 'continue' };

class Parser {
  private i = 0;
  private rangeDepth = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
    private readonly functions: Record<string, TemplateFunction>,
  ) {}

  private fail(pos: number, message: string): never {
    throw new TemplateParseError(`${lineOf(this.text, pos)}: ${message}`);
  }

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private next(): Token {
    return this.tokens[this.i++] as Token;
  }

  private peekNonSpace(): Token {
    while (this.peek().kind === 'space') this.i++;
    return this.peek();
  }

  private nextNonSpace(): Token {
    this.peekNonSpace();
    return this.next();
  }

  parse(): Node[] {
    const { list, end } = this.parseList();
    if (end) this.fail(end.pos, `unexpected {{${end.word}}}`);
    return list;
  }

  /** Parses nodes until EOF or a control word ({{end}}, {{else}}, …) which it returns. */
  private parseList(): { list: Node[]; end?: { word: string; pos: number } } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') return { list };
      if (t.kind === 'text') {
        list.push({ kind: 'text', text: t.value });
        continue;
      }
      // t is '{{'
      const word = this.peekNonSpace();
      if (word.kind === 'ident') {
        switch (word.value) {
          case 'end':
          case 'else':
            this.next();
            return { list, end: { word: word.value, pos: word.pos } };
          case 'if':
          case 'with':
          case 'range':
            this.next();
            list.push(this.parseControl(word.value, word.pos));
            continue;
          case 'break':
          case 'continue': {
            this.next();
            if (this.rangeDepth === 0) this.fail(word.pos, `{{${word.value}}} outside {{range}}`);
            this.expectRight(word.value);
            list.push({ kind: word.value });
            continue;
          }
          case 'define':
          case 'template':
          case 'block':
            this.fail(word.pos, `{{${word.value}}} is not supported`);
        }
      }
      list.push({ kind: 'action', pipe: this.parsePipeline('command', true) });
    }
  }

  private expectRight(context: string): void {
    const t = this.nextNonSpace();
    if (t.kind !== 'right') this.fail(t.pos, `unexpected ${describe(t)} in ${context}`);
  }

  private parseControl(word: 'if' | 'with' | 'range', pos: number): Node {
    const pipe = this.parsePipeline(word, true);
    if (word === 'range') this.rangeDepth++;
    const body = this.parseList();
    if (word === 'range') this.rangeDepth--;
    if (!body.end) this.fail(pos, 'unexpected EOF');
    const node: Node = { kind: word, pipe, list: body.list };
    if (body.end.word === 'else') {
      // {{else if …}} / {{else with …}}: a nested control that shares our {{end}}.
      const nextWord = this.peekNonSpace();
      if ((word === 'if' || word === 'with') && nextWord.kind === 'ident' && nextWord.value === word) {
        this.next();
        node.elseList = [this.parseControl(word, nextWord.pos)];
        return node;
      }
      this.expectRight('else');
      const elseBody = this.parseList();
      if (!elseBody.end) this.fail(pos, 'unexpected EOF');
      if (elseBody.end.word !== 'end') this.fail(elseBody.end.pos, `expected end; found {{${elseBody.end.word}}}`);
      node.elseList = elseBody.list;
    }
    this.expectRight('end');
    return node;
  }

  private parsePipeline(context: string, inAction: boolean): Pipeline {
    const start = this.peekNonSpace();
    const pipe: Pipeline = { decl: [], assign: false, cmds: [], pos: start.pos };
    // Declarations: $x := …, $i, $e := …
    const save = this.i;
    const vars: string[] = [];
    for (;;) {
      const v = this.peekNonSpace();
      if (v.kind !== 'variable' || v.value.includes('.')) break;
      this.next();
      vars.push(v.value);
      const sep = this.peekNonSpace();
      if (sep.kind === 'declare' || sep.kind === 'assign') {
        this.next();
        pipe.decl = vars;
        pipe.assign = sep.kind === 'assign';
        break;
      }
      if (sep.kind === 'comma' && context === 'range' && vars.length === 1) {
        this.next();
        continue;
      }
      vars.length = 0;
      break;
    }
    if (pipe.decl.length === 0) this.i = save;
    const end: TokenKind = inAction ? 'right' : 'rparen';
    for (;;) {
      const t = this.peekNonSpace();
      if (t.kind === end) {
        this.next();
        break;
      }
      if (t.kind === 'eof' || t.kind === 'right' || t.kind === 'rparen') {
        this.fail(t.pos, `unexpected ${describe(t)} in ${context}`);
      }
      pipe.cmds.push(this.parseCommand());
    }
    if (pipe.cmds.length === 0) this.fail(start.pos, `missing value for ${context}`);
    pipe.cmds.forEach((cmd, n) => {
      if (n === 0) return;
      const first = cmd.args[0];
      if (first && first.kind === 'literal') {
        this.fail(cmd.pos, `non executable command in pipeline stage ${n + 1}`);
      }
    });
    return pipe;
  }

  private parseCommand(): Cmd {
    const cmd: Cmd = { args: [], pos: this.peekNonSpace().pos };
    for (;;) {
      const t = this.peek();
      if (t.kind === 'space') {
        this.next();
        continue;
      }
      if (t.kind === 'right' || t.kind === 'rparen') break;
      if (t.kind === 'pipe') {
        this.next();
        if (cmd.args.length === 0) this.fail(t.pos, 'missing command');
        break;
      }
      cmd.args.push(this.parseOperand());
      const after = this.peek();
      if (after.kind !== 'space' && after.kind !== 'right' && after.kind !== 'rparen' && after.kind !== 'pipe') {
        this.fail(after.pos, `unexpected ${describe(after)} in operand`);
      }
    }
    if (cmd.args.length === 0) this.fail(cmd.pos, 'empty command');
    return cmd;
  }

  private parseOperand(): Arg {
    const t = this.next();
    switch (t.kind) {
      case 'dot':
        return { kind: 'dot', pos: t.pos };
      case 'field':
        return { kind: 'field', path: t.value.slice(1).split('.'), pos: t.pos, text: t.value };
      case 'variable': {
        const [name = '$', ...path] = t.value.split('.');
        return { kind: 'variable', name, path, pos: t.pos, text: t.value };
      }
      case 'string':
        return { kind: 'literal', value: t.value, pos: t.pos };
      case 'number':
        return {
          kind: 'literal',
          value: parseNumber(t.value, () => this.fail(t.pos, `bad number syntax: "${t.value}"`)),
          pos: t.pos,
        };
      case 'ident':
        if (t.value === 'true' || t.value === 'false')
          return { kind: 'literal', value: t.value === 'true', pos: t.pos };
        if (t.value === 'nil') return { kind: 'literal', value: null, pos: t.pos };
        if (!Object.hasOwn(this.functions, t.value)) this.fail(t.pos, `function "${t.value}" not defined`);
        return { kind: 'ident', name: t.value, pos: t.pos };
      case 'lparen': {
        const pipe = this.parsePipeline('parenthesized pipeline', false);
        const f = this.peek();
        if (f.kind === 'field') {
          this.next();
          return { kind: 'pipe', pipe, path: f.value.slice(1).split('.'), pos: t.pos, text: `(…)${f.value}` };
        }
        return { kind: 'pipe', pipe, path: [], pos: t.pos, text: '(…)' };
      }
      default:
        return this.fail(t.pos, `unexpected ${describe(t)} in operand`);
    }
  }
}

function parseNumber(text: string, bad: () => never): number {
  const clean = text.replace(/_/g, '');
  const sign = clean.startsWith('-') ? -1 : 1;
  const body = clean.replace(/^[-+]/, '');
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (/^0[bB]/.test(body)) n = parseInt(body.slice(2), 2);
  else if (/^0[oO]/.test(body)) n = parseInt(body.slice(2), 8);
  else n = Number(body);
  if (!Number.isFinite(n)) bad();
  return sign * n;
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'EOF';
    case 'right':
      return '"}}"';
    case 'rparen':
      return '")"';
    case 'lparen':
      return '"("';
    default:
      return `<${t.value}>`;
  }
}

// ---------------------------------------------------------------------------------------------
// Execution

function looksLikeStruct(map: Record<string, unknown>): boolean {
  const keys = Object.keys(map);
  return keys.length > 0 && keys.every((k) => /^[A-Z]/.test(k));
}

class BreakSignal {}
class ContinueSignal {}

interface Scope {
  vars: Map<string, unknown>[];
}

class Executor {
  private out = '';

  constructor(
    private readonly text: string,
    private readonly functions: Record<string, TemplateFunction>,
    private readonly missingKey: 'default' | 'error' | 'inspect',
    private readonly omittedFields: Readonly<Record<string, unknown>>,
  ) {}

  private fail(pos: number, what: string, message: string): never {
    const line = lineOf(this.text, pos);
    const col = pos - (this.text.lastIndexOf('\n', pos - 1) + 1);
    throw new TemplateExecError(`template: :${line}:${col}: executing "" at <${what}>: ${message}`);
  }

  run(nodes: Node[], data: unknown): string {
    this.walkList(nodes, data, { vars: [new Map([['$', data]])] });
    return this.out;
  }

  private walkList(nodes: Node[], dot: unknown, scope: Scope): void {
    for (const node of nodes) this.walk(node, dot, scope);
  }

  private walk(node: Node, dot: unknown, scope: Scope): void {
    switch (node.kind) {
      case 'text':
        this.out += node.text;
        return;
      case 'action': {
        const value = this.evalPipeline(node.pipe, dot, scope);
        if (node.pipe.decl.length === 0) this.out += printValue(value, false, this.missingKey === 'inspect');
        return;
      }
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'if':
      case 'with': {
        const inner: Scope = { vars: [...scope.vars, new Map()] };
        const value = this.evalPipeline(node.pipe, dot, inner);
        if (isTrue(value)) this.walkList(node.list, node.kind === 'with' ? value : dot, inner);
        else if (node.elseList) this.walkList(node.elseList, dot, inner);
        return;
      }
      case 'range':
        this.walkRange(node, dot, scope);
        return;
    }
  }

  private walkRange(node: ControlNode, dot: unknown, scope: Scope): void {
    const inner: Scope = { vars: [...scope.vars, new Map()] };
    const pipe = { ...node.pipe, decl: [] };
    const value = this.evalPipeline(pipe, dot, inner);
    let entries: [unknown, unknown][];
    if (Array.isArray(value)) entries = value.map((v, i) => [i, v]);
    else if (typeof value === 'number' && Number.isInteger(value)) {
      entries = Array.from({ length: Math.max(0, value) }, (_v, i) => [i, i]);
    } else if (isPlainMap(value) && structType(value) === undefined) {
      entries = Object.keys(value)
        .sort()
        .map((k) => [k, value[k]]);
    } else if (value === undefined || value === null || value instanceof GoNil) entries = [];
    else this.fail(node.pipe.pos, 'range', `range can't iterate over ${printValue(value)}`);
    if (entries.length === 0) {
      if (node.elseList) this.walkList(node.elseList, dot, inner);
      return;
    }
    const frame = inner.vars[inner.vars.length - 1] as Map<string, unknown>;
    for (const [key, elem] of entries) {
      const [first, second] = node.pipe.decl;
      if (first !== undefined) frame.set(first, second === undefined ? elem : key);
      if (second !== undefined) frame.set(second, elem);
      try {
        this.walkList(node.list, elem, { vars: [...inner.vars, new Map()] });
      } catch (err) {
        if (err instanceof BreakSignal) break;
        if (err instanceof ContinueSignal) continue;
        throw err;
      }
    }
  }

  private lookupVar(scope: Scope, name: string, pos: number): unknown {
    for (let i = scope.vars.length - 1; i >= 0; i--) {
      const frame = scope.vars[i] as Map<string, unknown>;
      if (frame.has(name)) return frame.get(name);
    }
    return this.fail(pos, name, `undefined variable: ${name}`);
  }

  private evalPipeline(pipe: Pipeline, dot: unknown, scope: Scope): unknown {
    let value: unknown;
    let hasFinal = false;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(cmd, dot, scope, hasFinal, value);
      hasFinal = true;
    }
    if (pipe.decl.length > 0) {
      const name = pipe.decl[0] as string;
      if (pipe.assign) {
        const frame = [...scope.vars].reverse().find((f) => f.has(name));
        if (!frame) this.fail(pipe.pos, name, `undefined variable: ${name}`);
        frame.set(name, value);
      } else {
        (scope.vars[scope.vars.length - 1] as Map<string, unknown>).set(name, value);
      }
    }
    return value;
  }

  private evalCommand(cmd: Cmd, dot: unknown, scope: Scope, hasFinal: boolean, final: unknown): unknown {
    const [first, ...rest] = cmd.args as [Arg, ...Arg[]];
    const args = (): unknown[] => {
      const values = rest.map((a) => this.evalArg(a, dot, scope));
      if (hasFinal) values.push(final);
      return values;
    };
    switch (first.kind) {
      case 'ident': {
        const fn = this.functions[first.name] as TemplateFunction;
        return this.call(fn, args(), first.name, first.pos);
      }
      case 'field':
        return this.evalPath(dot, first.path, first.pos, first.text, args, rest.length > 0 || hasFinal);
      case 'variable': {
        const base = this.lookupVar(scope, first.name, first.pos);
        if (first.path.length === 0) {
          if (rest.length > 0 || hasFinal)
            this.fail(first.pos, first.text, `can't give argument to non-function ${first.text}`);
          return base;
        }
        return this.evalPath(base, first.path, first.pos, first.text, args, rest.length > 0 || hasFinal);
      }
      case 'pipe': {
        const base = this.evalPipeline(first.pipe, dot, { vars: [...scope.vars, new Map()] });
        if (first.path.length === 0) {
          if (rest.length > 0 || hasFinal)
            this.fail(first.pos, first.text, `can't give argument to non-function ${first.text}`);
          return base;
        }
        return this.evalPath(base, first.path, first.pos, first.text, args, rest.length > 0 || hasFinal);
      }
      case 'dot':
      case 'literal':
        if (rest.length > 0 || hasFinal) {
          this.fail(
            first.pos,
            first.kind === 'dot' ? '.' : printValue(first.value),
            "can't give argument to non-function",
          );
        }
        return first.kind === 'dot' ? dot : first.value;
    }
  }

  private evalArg(arg: Arg, dot: unknown, scope: Scope): unknown {
    switch (arg.kind) {
      case 'dot':
        return dot;
      case 'literal':
        return arg.value;
      case 'ident':
        return this.call(this.functions[arg.name] as TemplateFunction, [], arg.name, arg.pos);
      case 'field':
        return this.evalPath(dot, arg.path, arg.pos, arg.text, () => [], false);
      case 'variable': {
        const base = this.lookupVar(scope, arg.name, arg.pos);
        return arg.path.length === 0 ? base : this.evalPath(base, arg.path, arg.pos, arg.text, () => [], false);
      }
      case 'pipe': {
        const base = this.evalPipeline(arg.pipe, dot, { vars: [...scope.vars, new Map()] });
        return arg.path.length === 0 ? base : this.evalPath(base, arg.path, arg.pos, arg.text, () => [], false);
      }
    }
  }

  private call(fn: TemplateFunction, args: unknown[], name: string, pos: number): unknown {
    try {
      return callValue(fn, args, name);
    } catch (err) {
      if (err instanceof TemplateExecError && !err.message.startsWith('template:')) {
        this.fail(pos, name, err.message);
      }
      throw err;
    }
  }

  /** Walks `.A.B.C` from `receiver`; only the last element receives the command's arguments. */
  private evalPath(
    receiver: unknown,
    path: string[],
    pos: number,
    text: string,
    args: () => unknown[],
    hasArgs: boolean,
  ): unknown {
    let value = receiver;
    // Go reports a chain's errors at the position of its last element.
    const at = pos + Math.max(0, text.lastIndexOf('.'));
    path.forEach((name, n) => {
      const last = n === path.length - 1;
      value = this.evalField(value, name, at, text, last ? args : () => [], last && hasArgs);
    });
    return value;
  }

  private evalField(
    receiver: unknown,
    name: string,
    pos: number,
    text: string,
    args: () => unknown[],
    hasArgs: boolean,
  ): unknown {
    if (receiver === undefined || receiver === null) {
      return this.fail(pos, text, `nil pointer evaluating interface {}.${name}`);
    }
    if (receiver instanceof GoNil) return undefined;
    if (isPlainMap(receiver)) {
      const struct = structType(receiver);
      if (Object.hasOwn(receiver, name) || (struct !== undefined && name in receiver)) {
        let value = receiver[name];
        // A JSON null may be a nil map or slice in Go, which prints "map[]" / "[]".
        if (value === null && this.missingKey === 'inspect' && this.omittedFields[name] instanceof GoNil) {
          value = this.omittedFields[name];
        }
        if (typeof value === 'function') return this.call(value as TemplateFunction, args(), name, pos);
        if (hasArgs) {
          this.fail(pos, text, `${name} has arguments but cannot be invoked as function`);
        }
        return value;
      }
      if (struct !== undefined) return this.fail(pos, text, `can't evaluate field ${name} in type ${struct}`);
      if (hasArgs) this.fail(pos, text, `${name} is not a method but has arguments`);
      if (this.missingKey === 'inspect' && looksLikeStruct(receiver) && Object.hasOwn(this.omittedFields, name)) {
        return this.omittedFields[name];
      }
      if (this.missingKey === 'error' || (this.missingKey === 'inspect' && looksLikeStruct(receiver))) {
        return this.fail(pos, text, `map has no entry for key "${name}"`);
      }
      return undefined;
    }
    return this.fail(pos, text, `can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }
}

/** A parsed template; execute() may run many times (one per row of a table). */
export class Template {
  private readonly nodes: Node[];

  constructor(
    readonly text: string,
    private readonly functions: Record<string, TemplateFunction> = ALL_FUNCTIONS,
  ) {
    this.nodes = new Parser(text, lex(text), functions).parse();
  }

  execute(data: unknown, options: ExecuteOptions = {}): string {
    const functions = options.functions ? { ...this.functions, ...options.functions } : this.functions;
    return new Executor(this.text, functions, options.missingKey ?? 'default', options.omittedFields ?? {}).run(
      this.nodes,
      data,
    );
  }
}

/** Parses with docker's functions; throws TemplateParseError. */
export function parseTemplate(text: string, extraFunctions?: Record<string, TemplateFunction>): Template {
  return new Template(text, extraFunctions ? { ...ALL_FUNCTIONS, ...extraFunctions } : ALL_FUNCTIONS);
}

/** Renders `template` over `data`; throws TemplateParseError or TemplateExecError. */
export function renderTemplate(template: string, data: unknown, options: ExecuteOptions = {}): string {
  return parseTemplate(template).execute(data, options);
}
