export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

/** In-memory waiters per container for exits and removals. */
export class ExitWaiters {
  private readonly exits = new Map<string, Set<(r: WaitResult) => void>>();
  private readonly removals = new Map<string, Set<(r: WaitResult) => void>>();

  wait(id: string, kind: 'exit' | 'removed', signal?: AbortSignal): Promise<WaitResult> {
    const map = kind === 'exit' ? this.exits : this.removals;
    return new Promise((resolve, reject) => {
      let set = map.get(id);
      if (!set) {
        set = new Set<(r: WaitResult) => void>();
        map.set(id, set);
      }
      const done = (r: WaitResult) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = () => {
        set.delete(done);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(done);
    });
  }

  notify(id: string, kind: 'exit' | 'removed', r: WaitResult): void {
    const map = kind === 'exit' ? this.exits : this.removals;
    const set = map.get(id);
    map.delete(id);
    for (const fn of set ?? []) fn(r);
  }
}
