import { readFileSync } from 'node:fs';
import type { PortMapping } from '../plugin-api/network-driver.js';

type Proto = PortMapping['protocol'];

/** dockerd's range where the kernel's cannot be read. */
const FALLBACK_RANGE = { low: 49153, high: 65535 };

/** The kernel's ephemeral port range (of skiffd's network namespace), where dockerd takes host ports. */
export function ephemeralRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): { low: number; high: number } {
  try {
    const [low, high] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (low && high && low >= 1 && low <= high && high <= 65535) return { low, high };
  } catch {
    // Not Linux, or /proc not mounted.
  }
  return FALLBACK_RANGE;
}

/**
 * Host ports for publications that name none, handed out as dockerd's port allocator does: per
 * protocol, counting up from where the last one left off (a port just freed is not handed out
 * again at once) through the ephemeral range, wrapping at its end — so `docker run -P` gets 32768,
 * then 32769. A port is passed over while a publication of skiffd holds it (its DNAT rule binds no
 * socket the kernel would report) or something else on the host has it bound.
 */
export class HostPortAllocator {
  private readonly last = new Map<Proto, number>();
  /** Handed out and not yet recorded with their endpoint (a start in progress): skipped too. */
  private readonly pending = new Set<string>();

  constructor(private readonly range = ephemeralRange()) {}

  /**
   * The next port that is not `held` and that `isFree` confirms, or undefined when the whole range
   * is taken. It stays pending (skipped by concurrent calls) until `settle`.
   */
  async allocate(
    protocol: Proto,
    held: ReadonlySet<number>,
    isFree: (port: number) => Promise<boolean>,
  ): Promise<number | undefined> {
    const { low, high } = this.range;
    let port = this.last.get(protocol) ?? high;
    for (let i = 0; i <= high - low; i++) {
      port = port >= high ? low : port + 1;
      const key = `${protocol}/${port}`;
      if (held.has(port) || this.pending.has(key)) continue;
      // Claimed before the check: a concurrent allocation goes on to the next port.
      this.pending.add(key);
      if (await isFree(port)) {
        this.last.set(protocol, port);
        return port;
      }
      this.pending.delete(key);
    }
    return undefined;
  }

  /** The ports of `mappings` are recorded with their endpoint (or were never used): no longer pending. */
  settle(mappings: readonly Pick<PortMapping, 'protocol' | 'hostPort'>[]): void {
    for (const m of mappings) this.pending.delete(`${m.protocol}/${m.hostPort}`);
  }
}
