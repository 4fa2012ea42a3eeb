import { readFile } from 'node:fs/promises';
import type { Prefix } from './cidr.js';

/**
 * The destinations of the host's routes (this network namespace), default routes left out: what a
 * new default pool must not overlap. /proc is read instead of spawning `ip -j route`.
 */
export async function hostRoutes(): Promise<Prefix[]> {
  const out: Prefix[] = [];
  const v4 = await readFile('/proc/net/route', 'utf8').catch(() => '');
  for (const line of v4.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    // Destination and mask are little-endian hex.
    const dst = leHex(f[1]!);
    const m = leHex(f[7]!);
    const bits = popcount(m);
    if (bits === 0) continue;
    out.push({ v6: false, base: BigInt(dst), bits });
  }
  const v6 = await readFile('/proc/net/ipv6_route', 'utf8').catch(() => '');
  for (const line of v6.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const bits = parseInt(f[1]!, 16);
    if (bits === 0 || f[9] === 'lo') continue;
    out.push({ v6: true, base: BigInt(`0x${f[0]}`), bits });
  }
  return out;
}

function leHex(h: string): number {
  const n = parseInt(h, 16);
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}
