import { isIP } from 'node:net';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** An IPv4 or IPv6 prefix with BigInt arithmetic (one code path for both families). */
export interface Prefix {
  v6: boolean;
  /** Network address (host bits cleared). */
  base: bigint;
  bits: number;
}

const width = (v6: boolean) => (v6 ? 128 : 32);

export function parseIp(text: string): { v6: boolean; value: bigint } | undefined {
  const fam = isIP(text);
  if (fam === 4) {
    const value = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { v6: false, value };
  }
  if (fam !== 6) return undefined;
  // Expand `::` and an embedded dotted quad into eight 16-bit groups.
  let t = text.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (dotted) {
    const v4 = parseIp(dotted[1]!)!.value;
    t = `${t.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = t.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

export function formatIp(v6: boolean, value: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups becomes `::` (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Parses `a.b.c.d/n` (or v6); host bits must be clear unless `allowHostBits`. */
export function parsePrefix(text: string, what = 'subnet', allowHostBits = false): Prefix {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const ip = m ? parseIp(m[1]!) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  if (!ip || !(bits >= 0 && bits <= width(ip.v6))) {
    throw new InvalidParameterError(`Invalid ${what} ${text} : invalid CIDR address: ${text}`);
  }
  const base = ip.value & mask(ip.v6, bits);
  if (base !== ip.value && !allowHostBits) {
    throw new InvalidParameterError(
      `Invalid ${what} ${text} : it should be ${formatIp(ip.v6, base)}/${bits} (host bits are set)`,
    );
  }
  return { v6: ip.v6, base, bits };
}

export function mask(v6: boolean, bits: number): bigint {
  const w = BigInt(width(v6));
  return ((1n << w) - 1n) ^ ((1n << (w - BigInt(bits))) - 1n);
}

export function formatPrefix(p: Prefix): string {
  return `${formatIp(p.v6, p.base)}/${p.bits}`;
}

export function size(p: Prefix): bigint {
  return 1n << BigInt(width(p.v6) - p.bits);
}

export function last(p: Prefix): bigint {
  return p.base + size(p) - 1n;
}

export function contains(p: Prefix, v6: boolean, value: bigint): boolean {
  return p.v6 === v6 && value >= p.base && value <= last(p);
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.v6 === b.v6 && a.base <= last(b) && b.base <= last(a);
}

/** `10.0.0.5/24` → the address and its prefix length. */
export function splitCidr(cidr: string): { ip: string; bits: number } {
  const [ip, bits] = cidr.split('/');
  return { ip: ip!, bits: Number(bits) };
}
