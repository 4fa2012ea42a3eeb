// Small string helpers matching docker CLI behaviour.

/** stringid.TruncateID: drops an "algo:" prefix and keeps 12 characters. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  const bare = colon >= 0 ? id.slice(colon + 1) : id;
  return bare.length > 12 ? bare.slice(0, 12) : bare;
}

/** formatter.Ellipsis for text without wide characters: keep `max` runes including "…". */
export function ellipsis(text: string, max: number): string {
  if (max <= 0) return '';
  const runes = [...text];
  if (runes.length <= max) return text;
  if (max === 1) return runes[0] ?? '';
  return `${runes.slice(0, max - 1).join('')}…`;
}

const GO_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** strconv.Quote for printable text; control characters use Go's escapes. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const escaped = GO_ESCAPES[ch];
    if (escaped) out += escaped;
    else {
      const code = ch.codePointAt(0) ?? 0;
      if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else out += ch;
    }
  }
  return `${out}"`;
}
