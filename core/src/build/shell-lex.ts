import { InvalidParameterError } from '../plugin-api/errors.js';

/** Looks a variable up: undefined when it is not set (an empty value is set). */
export type EnvLookup = (name: string) => string | undefined;

/** Builds a lookup over `KEY=value` lists; the first list that has the key wins, as in moby's shlex. */
export function envLookup(...lists: readonly (readonly string[])[]): EnvLookup {
  const map = new Map<string, string>();
  for (const list of lists) {
    for (const e of list) {
      const i = e.indexOf('=');
      const k = i < 0 ? e : e.slice(0, i);
      if (!map.has(k)) map.set(k, i < 0 ? '' : e.slice(i + 1));
    }
  }
  return (name) => map.get(name);
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * Docker's Dockerfile word processing (moby's shell lexer): quotes are removed, the escape
 * character escapes the next character outside single quotes, and `$v`, `${v}`, `${v:-word}`
 * and `${v:+word}` are substituted from `env`. Whitespace is kept (one word in, one word out).
 */
export function processWord(word: string, env: EnvLookup, escape = '\\'): string {
  return new Lexer(word, env, escape).words(false).join('');
}

/** Like processWord but splits on unquoted whitespace (EXPOSE, ONBUILD's words), as ProcessWords. */
export function processWords(word: string, env: EnvLookup, escape = '\\'): string[] {
  return new Lexer(word, env, escape).words(true);
}

class Lexer {
  private pos = 0;
  constructor(
    private readonly src: string,
    private readonly env: EnvLookup,
    private readonly escape: string,
  ) {}

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  words(split: boolean): string[] {
    const out: string[] = [];
    let cur = '';
    let started = false;
    while (this.pos < this.src.length) {
      const ch = this.src[this.pos]!;
      if (split && (ch === ' ' || ch === '\t' || ch === '\n')) {
        this.pos++;
        if (started) out.push(cur);
        cur = '';
        started = false;
        continue;
      }
      started = true;
      if (ch === this.escape) {
        this.pos++;
        const next = this.src[this.pos];
        if (next === undefined) {
          cur += ch;
        } else {
          cur += next;
          this.pos++;
        }
      } else if (ch === "'") {
        cur += this.singleQuoted();
      } else if (ch === '"') {
        cur += this.doubleQuoted();
      } else if (ch === '$') {
        const value = this.dollar();
        if (!split) cur += value;
        else {
          // As moby's ProcessWords: an unquoted substitution is split on its whitespace.
          for (const c of value) {
            if (c === ' ' || c === '\t' || c === '\n') {
              if (started && cur !== '') out.push(cur);
              cur = '';
            } else cur += c;
          }
          started = cur !== '';
        }
      } else {
        cur += ch;
        this.pos++;
      }
    }
    if (started || !split) out.push(cur);
    return out;
  }

  private singleQuoted(): string {
    this.pos++;
    const end = this.src.indexOf("'", this.pos);
    if (end < 0) throw new InvalidParameterError('unexpected end of statement while looking for matching single-quote');
    const s = this.src.slice(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  private doubleQuoted(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined)
        throw new InvalidParameterError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch === '$') {
        out += this.dollar();
      } else if (ch === this.escape) {
        const next = this.src[this.pos + 1];
        this.pos += 2;
        if (next === undefined) out += ch;
        else if (next === '"' || next === '$' || next === this.escape) out += next;
        else out += ch + next;
      } else {
        out += ch;
        this.pos++;
      }
    }
  }

  /** At a `$`: a substitution, or a literal `$` when no name follows. */
  private dollar(): string {
    this.pos++;
    const ch = this.peek();
    if (ch === '{') {
      this.pos++;
      const name = this.name();
      const c = this.peek();
      if (c === '}') {
        this.pos++;
        return this.env(name) ?? '';
      }
      if (c === ':') {
        this.pos++;
        const mod = this.peek();
        this.pos++;
        const word = this.until('}');
        const value = this.env(name);
        if (mod === '-') return value === undefined || value === '' ? word : value;
        if (mod === '+') return value === undefined || value === '' ? '' : word;
        throw new InvalidParameterError(`unsupported modifier (${mod ?? ''}) in substitution`);
      }
      if (c === undefined) throw new InvalidParameterError("missing '}' in substitution");
      throw new InvalidParameterError(`missing ':' in substitution`);
    }
    if (ch !== undefined && NAME_START.test(ch)) return this.env(this.name()) ?? '';
    return '$';
  }

  private name(): string {
    const start = this.pos;
    while (this.pos < this.src.length && NAME_CHAR.test(this.src[this.pos]!)) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** The processed word up to the unescaped `stop` (consumed). */
  private until(stop: string): string {
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new InvalidParameterError(`missing '${stop}' in substitution`);
      if (ch === stop) {
        this.pos++;
        return out;
      }
      if (ch === this.escape) {
        const next = this.src[this.pos + 1];
        this.pos += 2;
        out += next ?? '';
      } else if (ch === "'") out += this.singleQuoted();
      else if (ch === '"') out += this.doubleQuoted();
      else if (ch === '$') out += this.dollar();
      else {
        out += ch;
        this.pos++;
      }
    }
  }
}
