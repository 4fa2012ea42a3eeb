// .dockerignore patterns, matched like moby's patternmatcher: Go filepath.Match syntax plus "**",
// "!" exceptions, the last matching pattern wins, and a pattern that matches a parent directory
// matches everything below it.

import { posix } from 'node:path';

interface Pattern {
  exclusion: boolean;
  regex: RegExp;
  /** Number of path components (a pattern "a/b" is tried against "a/b" of "a/b/c/d"). */
  dirs: number;
}

export class IgnorePatternError extends Error {
  constructor(pattern: string, why: string) {
    super(`syntax error in pattern ${JSON.stringify(pattern)}: ${why}`);
    this.name = 'IgnorePatternError';
  }
}

function escapeRegex(ch: string): string {
  return /[.+^${}()|[\]\\*?]/.test(ch) ? `\\${ch}` : ch;
}

function compile(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // "**/" also matches nothing at all (a/**/b matches a/b).
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new IgnorePatternError(pattern, 'trailing backslash');
      re += escapeRegex(next);
      i++;
    } else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new IgnorePatternError(pattern, 'unterminated character class');
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRegex(ch);
  }
  return new RegExp(`${re}$`);
}

/** Parses the file's text: one pattern a line, "#" comments, blank lines ignored. */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    let neg = false;
    if (p.startsWith('!')) {
      neg = true;
      p = p.slice(1).trim();
      if (p === '') continue;
    }
    // filepath.Clean: no "." or ".." segments, no leading or trailing slash.
    p = posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
    if (p === '' || p === '.') p = '.';
    out.push(neg ? `!${p}` : p);
  }
  return out;
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((p) => {
      const exclusion = p.startsWith('!');
      const body = exclusion ? p.slice(1) : p;
      return { exclusion, regex: compile(body), dirs: body.split('/').length };
    });
  }

  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** Whether `rel` (slash-separated, relative to the context root) is excluded. */
  excludes(rel: string): boolean {
    const parts = rel.split('/');
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let hit = p.regex.test(rel);
      if (!hit && p.dirs <= parts.length) hit = p.regex.test(parts.slice(0, p.dirs).join('/'));
      if (hit) matched = !p.exclusion;
    }
    return matched;
  }
}
