// Go's and go-units' value syntaxes as the docker CLI parses flag values: sizes, integers,
// durations, rationals and booleans, with the same error texts.

/** A value the flag cannot take; main.ts words it as `invalid argument "V" for "--flag" flag: <message>`. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

const BINARY: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

function parseGoFloat(text: string): number {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new ValueError(`strconv.ParseFloat: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  return Number(text);
}

/** go-units RAMInBytes: "64m", "1.5GiB", "100k", "1024" (binary multiples). */
export function ramInBytes(text: string): number {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(text[i] as string)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new ValueError(`invalid size: '${text}'`);
  const num = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let suffix = text.slice(sep + 1);
  let size = parseGoFloat(num);
  if (size < 0) throw new ValueError(`invalid size: '${text}'`);
  if (suffix === '') return Math.trunc(size);
  const bad = (): ValueError => new ValueError(`invalid suffix: '${suffix}'`);
  if (suffix.length > 3) throw bad();
  suffix = suffix.toLowerCase();
  if (suffix[0] === 'b') {
    if (suffix.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = BINARY[suffix[0] as string];
  if (mul === undefined) throw bad();
  size *= mul;
  if ((suffix.length === 2 && suffix[1] !== 'b') || (suffix.length === 3 && suffix.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}

/** docker's MemSwapBytes: -1 (unlimited) or a size. */
export function memSwapBytes(text: string): number {
  return text === '-1' ? -1 : ramInBytes(text);
}

/** strconv.ParseInt(text, 0, bits) as pflag's int flags call it (decimal, 0x…, 0o…, 0b…, 0… octal). */
export function goInt(text: string, bits = 64): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9]\d*)$/.exec(text);
  if (!m) throw new ValueError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  const body = m[2] as string;
  let value = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body.toLowerCase());
  if (m[1] === '-') value = -value;
  const limit = 1n << BigInt(bits - 1);
  if (value >= limit || value < -limit) {
    throw new ValueError(`strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
  }
  return Number(value);
}

/** strconv.ParseUint(text, 0, bits). */
export function goUint(text: string, bits: number): number {
  if (text.startsWith('-') || text.startsWith('+')) {
    throw new ValueError(`strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  }
  try {
    const v = goInt(text, 64);
    if (v >= 2 ** bits) throw new ValueError(`strconv.ParseUint: parsing ${JSON.stringify(text)}: value out of range`);
    return v;
  } catch (err) {
    if (err instanceof ValueError) throw new ValueError(err.message.replace('ParseInt', 'ParseUint'));
    throw err;
  }
}

const TRUE_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseBool; undefined for anything else. */
export function goBool(text: string): boolean | undefined {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** time.ParseDuration, in nanoseconds. */
export function goDuration(text: string): number {
  const quoted = JSON.stringify(text);
  const invalid = (): ValueError => new ValueError(`time: invalid duration ${quoted}`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const num = /^(\d*)(\.(\d*))?/.exec(s) as RegExpExecArray;
    if (num[0] === '' || num[0] === '.' || (num[1] === '' && (num[3] ?? '') === '')) throw invalid();
    s = s.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw new ValueError(`time: missing unit in duration ${quoted}`);
    const scale = DURATION_UNITS[unit];
    if (scale === undefined) throw new ValueError(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    s = s.slice(unit.length);
    total += Number(`${num[1] || '0'}.${num[3] ?? ''}0`) * scale;
  }
  return sign * Math.round(total);
}

/** docker's NanoCPUs: a rational number of CPUs ("1.5", "1/2", "1e-3") as an exact count of nano-CPUs. */
export function nanoCpus(text: string): number {
  const rational = (): ValueError => new ValueError(`failed to parse ${text} as a rational number`);
  let num: bigint;
  let den: bigint;
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(text);
  const dec = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (frac) {
    num = BigInt(frac[1] as string);
    den = BigInt(frac[2] as string);
    if (den === 0n) throw rational();
  } else if (dec && ((dec[2] ?? '') !== '' || (dec[3] ?? '') !== '')) {
    const digits = `${dec[2] ?? ''}${dec[3] ?? ''}` || '0';
    const exp = Number(dec[4] ?? '0') - (dec[3] ?? '').length;
    num = BigInt(digits) * (dec[1] === '-' ? -1n : 1n);
    den = 1n;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den = 10n ** BigInt(-exp);
  } else {
    throw rational();
  }
  const nano = num * 1_000_000_000n;
  if (nano % den !== 0n) throw new ValueError('value is too precise');
  return Number(nano / den);
}
