import { InvalidParameterError } from '@skiff/core/plugin-api';

/** IPv4 arithmetic for subnets and addresses (overlay networks are IPv4 only). */
export function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Subnet {
  base: number;
  bits: number;
  /** `10.1.2.0/24`. */
  cidr: string;
}

export function parseSubnet(cidr: string): Subnet {
  const [ip, len] = cidr.split('/');
  const base = ipToInt(ip ?? '');
  const bits = Number(len);
  if (base === undefined || !/^\d{1,2}$/.test(len ?? '') || bits < 8 || bits > 30)
    throw new InvalidParameterError(`invalid overlay subnet ${JSON.stringify(cidr)} (IPv4, /8 to /30)`);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((base & mask) >>> 0 !== base) throw new InvalidParameterError(`subnet ${cidr} has host bits set`);
  return { base, bits, cidr: `${intToIp(base)}/${bits}` };
}

export function size(s: Subnet): number {
  return 2 ** (32 - s.bits);
}

export function contains(s: Subnet, ip: number): boolean {
  return ip >= s.base && ip < s.base + size(s);
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** Locally administered MAC from an IPv4 address (02:42:a:b:c:d, as Docker derives them). */
export function macOf(ip: number): string {
  return [
    '02',
    '42',
    ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0')),
  ].join(':');
}
