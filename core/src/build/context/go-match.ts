/**
 * Go's `filepath.Match` on slash paths, as moby's builder uses it for COPY/ADD wildcards: `*`
 * and `?` never match `/`, `[...]` classes with `^` negation and ranges, `\` escapes. A malformed
 * pattern matches nothing (moby ignores the error).
 */

/** Whether `name` has an unescaped `*`, `?` or `[` (moby's containsWildcards). */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

const cache = new Map<string, RegExp | null>();

function escapeRe(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

function escapeClass(ch: string): string {
  return ch === '\\' || ch === '^' || ch === ']' || ch === '[' || ch === '-' ? `\\${ch}` : ch;
}

/** Translates one Go pattern to an anchored RegExp; null when the pattern is malformed. */
function compile(pattern: string): RegExp | null {
  let re = '^';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      i++;
      if (i >= chars.length) return null;
      re += escapeRe(chars[i] as string);
    } else if (ch === '[') {
      i++;
      let cls = '';
      if (chars[i] === '^') {
        cls += '^';
        i++;
      }
      let n = 0;
      for (;;) {
        if (i >= chars.length) return null;
        if (chars[i] === ']' && n > 0) break;
        let lo = chars[i] as string;
        if (lo === '\\') {
          i++;
          if (i >= chars.length) return null;
          lo = chars[i] as string;
        } else if (lo === '-' || lo === ']') {
          return null; // Go's getEsc: these must be escaped inside a class
        }
        i++;
        let range = escapeClass(lo);
        if (chars[i] === '-') {
          i++;
          let hi = chars[i];
          if (hi === undefined || hi === ']' || hi === '-') return null;
          if (hi === '\\') {
            i++;
            hi = chars[i];
            if (hi === undefined) return null;
          }
          i++;
          if ((hi.codePointAt(0) as number) < (lo.codePointAt(0) as number)) return null;
          range += `-${escapeClass(hi)}`;
        }
        cls += range;
        n++;
      }
      // A class never matches the separator.
      re += cls.startsWith('^') ? `[${cls}/]` : `(?!/)[${cls}]`;
    } else re += escapeRe(ch);
  }
  try {
    return new RegExp(`${re}$`, 'su');
  } catch {
    return null;
  }
}

/** Go `path.Match(pattern, name)`; false for malformed patterns. */
export function goMatch(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (re === undefined) {
    re = compile(pattern);
    if (cache.size > 1024) cache.clear();
    cache.set(pattern, re);
  }
  return re !== null && re.test(name);
}

/**
 * Splits a wildcard pattern at its unescaped slashes, so a tree walk can match one level at a
 * time (`*` never crosses `/`, so a path matches iff each of its components matches in turn).
 */
export function splitPattern(pattern: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\' && i + 1 < pattern.length) {
      cur += ch + (pattern[i + 1] as string);
      i++;
    } else if (ch === '/') {
      if (cur !== '' && cur !== '.') out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur !== '' && cur !== '.') out.push(cur);
  return out;
}
