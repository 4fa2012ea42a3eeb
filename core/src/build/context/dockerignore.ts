import { InvalidParameterError } from '../../plugin-api/errors.js';

/**
 * .dockerignore handling with the semantics of moby/patternmatcher (ignorefile.ReadAll and
 * PatternMatcher.MatchesOrParentMatches), which both the docker CLI and dockerd use.
 */

/** Go's path.Clean on a slash path. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else out.push(c);
  }
  const s = out.join('/');
  return rooted ? `/${s}` : s || '.';
}

/** The patterns of a .dockerignore file: BOM stripped, `#` comments and blank lines skipped, paths cleaned, leading `/` dropped. */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
  }
  return out;
}

type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

const ESCAPE = new Set([...'.+()|{}$']);

class Pattern {
  readonly type: MatchType;
  readonly re: RegExp | undefined;

  constructor(
    readonly cleaned: string,
    readonly exclusion: boolean,
  ) {
    let re = '^';
    let type: MatchType = 'exact';
    const chars = [...cleaned];
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i] as string;
      if (ch === '*') {
        if (chars[i + 1] === '*') {
          const start = i;
          i++;
          if (chars[i + 1] === '/') i++;
          if (i + 1 >= chars.length) {
            if (type === 'exact') type = 'prefix';
            else {
              re += '.*';
              type = 'regexp';
            }
          } else {
            re += '(.*/)?';
            type = 'regexp';
          }
          if (start === 0) type = 'suffix';
        } else {
          re += '[^/]*';
          type = 'regexp';
        }
      } else if (ch === '?') {
        re += '[^/]';
        type = 'regexp';
      } else if (ESCAPE.has(ch)) {
        re += `\\${ch}`;
      } else if (ch === '\\') {
        if (i + 1 < chars.length) {
          re += `\\${chars[++i] as string}`;
          type = 'regexp';
        } else re += '\\\\';
      } else if (ch === '[' || ch === ']') {
        re += ch;
        type = 'regexp';
      } else re += ch;
    }
    this.type = type;
    if (type === 'regexp') {
      try {
        this.re = new RegExp(`${re}$`, 's');
      } catch (e) {
        throw new InvalidParameterError(`syntax error in pattern: ${cleaned}`, { cause: e });
      }
    }
  }

  match(path: string): boolean {
    switch (this.type) {
      case 'exact':
        return path === this.cleaned;
      case 'prefix':
        return path.startsWith(this.cleaned.slice(0, -2));
      case 'suffix': {
        const suffix = this.cleaned.slice(2);
        if (path.endsWith(suffix)) return true;
        return suffix.startsWith('/') && path === suffix.slice(1);
      }
      case 'regexp':
        return (this.re as RegExp).test(path);
    }
  }
}

/** moby's PatternMatcher: later patterns win, `!` patterns re-include. */
export class PatternMatcher {
  private readonly compiled: Pattern[] = [];
  /** Whether any pattern is an exception (`!…`): excluded directories must then be walked. */
  readonly hasExclusions: boolean;

  constructor(patterns: readonly string[]) {
    let exclusions = false;
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new InvalidParameterError('illegal exclusion pattern: "!"');
        exclusion = true;
        exclusions = true;
        p = p.slice(1);
      }
      this.compiled.push(new Pattern(p, exclusion));
    }
    this.hasExclusions = exclusions;
  }

  get empty(): boolean {
    return this.compiled.length === 0;
  }

  /** MatchesOrParentMatches: whether `file` (slash path relative to the context) is excluded. */
  matches(file: string): boolean {
    const path = cleanPath(file);
    if (path === '.') return false;
    const slash = path.lastIndexOf('/');
    const parentDirs = slash < 0 ? [] : path.slice(0, slash).split('/');
    let matched = false;
    for (const pattern of this.compiled) {
      if (pattern.exclusion !== matched) continue;
      let match = pattern.match(path);
      if (!match) {
        for (let i = 0; i < parentDirs.length && !match; i++) {
          match = pattern.match(parentDirs.slice(0, i + 1).join('/'));
        }
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }
}
