import { readFileSync } from 'node:fs';
import { CAPS_BY_NUMBER } from '../host/capabilities.js';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** Docker's default set, in moby's order (`daemon/pkg/oci/caps/defaults.go`). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

let hostCaps: readonly string[] | undefined;

/**
 * Every capability the running kernel knows that the daemon itself may hold (what `--privileged`
 * grants): the runtime cannot give a container a capability outside its own bounding set, and
 * skiffd may run somewhere that trimmed it.
 */
export function allCapabilities(): readonly string[] {
  if (!hostCaps) {
    let last = CAPS_BY_NUMBER.length - 1;
    let bounding = (1n << BigInt(CAPS_BY_NUMBER.length)) - 1n;
    try {
      last = Math.min(last, Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'), 10));
      const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) bounding = BigInt(`0x${m[1]}`);
    } catch {
      // Not Linux, or /proc hidden: assume every capability we know of.
    }
    hostCaps = CAPS_BY_NUMBER.slice(0, last + 1).filter((_, i) => (bounding >> BigInt(i)) & 1n);
  }
  return hostCaps;
}

/** `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`. */
function normalize(names: readonly string[], what: 'CapAdd' | 'CapDrop'): string[] {
  const out: string[] = [];
  for (const raw of names) {
    const upper = raw.trim().toUpperCase();
    const name = upper === 'ALL' ? 'ALL' : upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
    if (name !== 'ALL' && !(CAPS_BY_NUMBER as readonly string[]).includes(name)) {
      throw new InvalidParameterError(`invalid ${what}: unknown capability: ${JSON.stringify(raw)}`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** moby's `caps.TweakCapabilities`: defaults minus drops plus adds; `ALL` on either side wins. */
export function tweakCapabilities(
  add: readonly string[] = [],
  drop: readonly string[] = [],
  privileged = false,
): string[] {
  if (privileged) return [...allCapabilities()];
  if (add.length === 0 && drop.length === 0) return [...DEFAULT_CAPABILITIES];
  const adds = normalize(add, 'CapAdd');
  const drops = normalize(drop, 'CapDrop');
  let base: readonly string[];
  if (adds.includes('ALL')) base = allCapabilities();
  else if (drops.includes('ALL')) return adds.filter((c) => c !== 'ALL');
  else base = DEFAULT_CAPABILITIES;
  const out = base.filter((c) => !drops.includes(c));
  for (const c of adds) if (c !== 'ALL' && !out.includes(c)) out.push(c);
  return out;
}
