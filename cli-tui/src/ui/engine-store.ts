// Engine data for the dashboard, kept outside React: the four lists, the events timeline and the
// engine view. One /events stream drives the list refreshes (throttled, per kind); when the stream
// breaks the store reports the endpoint down and reconnects with backoff, reloading everything.

import type { ApiClient } from '../api/client.js';
import { ApiError, ConnectionError } from '../api/errors.js';
import { readJSONStream } from '../api/json-stream.js';
import type { ContainerSummary, EngineEvent, ImageSummary, NetworkSummary, VolumeSummary } from './types.js';

export type ListKind = 'containers' | 'images' | 'volumes' | 'networks';

export interface PluginEntry {
  Package: string;
  Kind: string;
  Name: string;
  Version: string;
  State: string;
  Reason: string;
  Capabilities: Record<string, unknown> | null;
}

export interface EngineSnapshot {
  status: 'connecting' | 'connected' | 'down';
  error?: string;
  endpoint: string;
  containers: readonly ContainerSummary[];
  images: readonly ImageSummary[];
  volumes: readonly VolumeSummary[];
  networks: readonly NetworkSummary[];
  events: readonly EngineEvent[];
  version?: Record<string, unknown>;
  info?: Record<string, unknown>;
  plugins?: readonly PluginEntry[];
}

export const MAX_EVENTS = 500;
const REFRESH_THROTTLE_MS = 100;
const MAX_BACKOFF_MS = 5000;
/**
 * One list request now and then, whatever the number of containers: heals a missed event and
 * refreshes the daemon-computed "Up 5 minutes" texts, which change without any event.
 */
const RESYNC_MS = 30_000;

/** Which lists an event makes stale. */
export function kindsForEvent(ev: EngineEvent): ListKind[] {
  switch (ev.Type) {
    case 'container':
      // A container's image "Containers" count and its network attachments change with it.
      return ev.Action === 'destroy' || ev.Action === 'create' ? ['containers', 'images'] : ['containers'];
    case 'image':
      return ['images'];
    case 'volume':
      return ['volumes'];
    case 'network':
      return ev.Action === 'connect' || ev.Action === 'disconnect' ? ['networks', 'containers'] : ['networks'];
    default:
      return [];
  }
}

export function describeFailure(err: unknown): string {
  if (err instanceof ConnectionError) return err.message;
  if (err instanceof ApiError) return `Error response from daemon: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export class EngineStore {
  private snapshot: EngineSnapshot;
  private readonly listeners = new Set<() => void>();
  private client: ApiClient | undefined;
  private stream: { destroy(): void } | undefined;
  private pending = new Set<ListKind>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private generation = 0;

  constructor(
    private makeClient: () => ApiClient,
    endpoint: string,
  ) {
    this.snapshot = {
      status: 'connecting',
      endpoint,
      containers: [],
      images: [],
      volumes: [],
      networks: [],
      events: [],
    };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): EngineSnapshot => this.snapshot;

  /** The client of the current connection (undefined while down). */
  get api(): ApiClient | undefined {
    return this.snapshot.status === 'connected' ? this.client : undefined;
  }

  /** Replaces parts of the snapshot (also how tests and the benchmark feed data). */
  update(patch: Partial<EngineSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of this.listeners) l();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect(0);
    this.resyncTimer = setInterval(() => {
      if (this.snapshot.status === 'connected') this.invalidate('containers');
    }, RESYNC_MS);
    this.resyncTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    this.stream?.destroy();
    this.stream = undefined;
    this.client?.close();
    this.client = undefined;
  }

  /** Points the store at another endpoint and reconnects. */
  switchEndpoint(makeClient: () => ApiClient, endpoint: string): void {
    this.stop();
    this.makeClient = makeClient;
    this.update({
      status: 'connecting',
      endpoint,
      error: undefined,
      containers: [],
      images: [],
      volumes: [],
      networks: [],
      events: [],
      version: undefined,
      info: undefined,
      plugins: undefined,
    });
    this.start();
  }

  /** Asks for a refresh of some lists soon (coalesced). */
  invalidate(...kinds: ListKind[]): void {
    for (const k of kinds) this.pending.add(k);
    if (this.refreshTimer || this.stopped) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      const kinds = [...this.pending];
      this.pending.clear();
      void this.reload(kinds, this.generation);
    }, REFRESH_THROTTLE_MS);
  }

  private async connect(attempt: number): Promise<void> {
    const gen = this.generation;
    this.client?.close();
    // A fresh client each time: version negotiation is fixed per client.
    const client = this.makeClient();
    this.client = client;
    try {
      // Subscribe first so nothing that happens during the initial load is missed.
      const res = await client.stream('GET', '/events');
      if (gen !== this.generation) {
        res.destroy();
        return;
      }
      this.stream = res;
      await this.reload(['containers', 'images', 'volumes', 'networks'], gen);
      if (gen !== this.generation) return;
      this.update({ status: 'connected', error: undefined });
      void this.loadEngine(gen);
      attempt = 0;
      for await (const ev of readJSONStream<EngineEvent>(res)) {
        if (gen !== this.generation) return;
        this.onEvent(ev);
      }
      throw new Error('the events stream ended');
    } catch (err) {
      if (gen !== this.generation || this.stopped) return;
      this.stream?.destroy();
      this.stream = undefined;
      this.update({ status: 'down', error: describeFailure(err) });
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt);
      this.retryTimer = setTimeout(() => void this.connect(attempt + 1), delay);
    }
  }

  private onEvent(ev: EngineEvent): void {
    const events = [...this.snapshot.events, ev];
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
    this.update({ events });
    const kinds = kindsForEvent(ev);
    if (kinds.length > 0) this.invalidate(...kinds);
  }

  private async reload(kinds: readonly ListKind[], gen: number): Promise<void> {
    const client = this.client;
    if (!client) return;
    const patch: Partial<EngineSnapshot> = {};
    await Promise.all(
      kinds.map(async (kind) => {
        switch (kind) {
          case 'containers':
            patch.containers = await client.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: 1 } });
            break;
          case 'images':
            patch.images = await client.json<ImageSummary[]>('GET', '/images/json');
            break;
          case 'volumes':
            patch.volumes = (await client.json<{ Volumes?: VolumeSummary[] | null }>('GET', '/volumes')).Volumes ?? [];
            break;
          case 'networks':
            patch.networks = await client.json<NetworkSummary[]>('GET', '/networks');
            break;
        }
      }),
    ).catch((err: unknown) => {
      // The events stream notices a dead daemon; a failed refresh of one list is only reported.
      if (gen === this.generation) this.update({ error: describeFailure(err) });
    });
    if (gen === this.generation && Object.keys(patch).length > 0) this.update(patch);
  }

  /** Version, info and (skiffd only) plugins for the engine view. */
  private async loadEngine(gen: number): Promise<void> {
    const client = this.client;
    if (!client) return;
    const [version, info, plugins] = await Promise.all([
      client.json<Record<string, unknown>>('GET', '/version').catch(() => undefined),
      client.json<Record<string, unknown>>('GET', '/info').catch(() => undefined),
      client
        .json<{ Plugins?: PluginEntry[] }>('GET', '/skiff/v1/plugins', { unversioned: true })
        .then((r) => r.Plugins ?? [])
        .catch(() => undefined),
    ]);
    if (gen === this.generation) this.update({ version, info, plugins });
  }
}
