import type { NetworkSpec } from '../plugin-api/network-driver.js';
import type { NetworkRecord } from './network-store.js';

/** What a driver is told about a network. */
export function specOf(n: NetworkRecord): NetworkSpec {
  return {
    id: n.Id,
    name: n.Name,
    driver: n.Driver,
    internal: n.Internal,
    ipv6: n.EnableIPv6,
    options: { ...n.Options },
    labels: { ...n.Labels },
  };
}

/** A simple FIFO lock per key (network operations per container, network create/remove). */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.tails.set(key, next);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === next) this.tails.delete(key);
    }
  }
}
