/** A Docker-shaped event (GET /events): Type, Action, Actor. */
export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'plugin';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  /** Nanoseconds since the epoch (a bigint: a double keeps only about 16 of its 19 digits). */
  timeNano: bigint;
}

export interface EventBus {
  publish(event: Omit<EngineEvent, 'time' | 'timeNano' | 'scope'> & { scope?: 'local' | 'swarm' }): void;
  subscribe(listener: (event: EngineEvent) => void): () => void;
}
