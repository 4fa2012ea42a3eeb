/** A Docker-shaped event (GET /events): Type, Action, Actor. */
export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'plugin';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
}

export interface EventBus {
  publish(event: Omit<EngineEvent, 'time' | 'timeNano' | 'scope'> & { scope?: 'local' | 'swarm' }): void;
  subscribe(listener: (event: EngineEvent) => void): () => void;
}
