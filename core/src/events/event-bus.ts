import type { EngineEvent, EventBus } from '../plugin-api/events.js';

/** In-process event bus with a bounded backlog so `GET /events?since=` can replay. */
export class MemoryEventBus implements EventBus {
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private readonly backlog: EngineEvent[] = [];

  constructor(private readonly backlogSize = 1024) {}

  publish(event: Omit<EngineEvent, 'time' | 'timeNano' | 'scope'> & { scope?: 'local' | 'swarm' }): void {
    const ns = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const full: EngineEvent = {
      ...event,
      scope: event.scope ?? 'local',
      time: Number(ns / 1_000_000_000n),
      timeNano: ns,
    };
    this.backlog.push(full);
    if (this.backlog.length > this.backlogSize) this.backlog.shift();
    for (const l of this.listeners) {
      try {
        l(full);
      } catch {
        // a broken listener must not break publishers
      }
    }
  }

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events already published, oldest first. */
  history(): readonly EngineEvent[] {
    return this.backlog;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
