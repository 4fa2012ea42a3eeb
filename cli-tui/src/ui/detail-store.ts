// Details of the ONE selected item, for the tab on screen: a followed log stream, a stats
// stream, inspect JSON or top. Changing the selection or tab closes the previous stream, so at
// most one logs or stats stream is open whatever the number of containers.

import type { IncomingMessage } from 'node:http';
import type { ApiClient } from '../api/client.js';
import { readJSONStream } from '../api/json-stream.js';
import { STDERR, StdcopyParser } from '../api/stdcopy.js';
import { describeFailure } from './engine-store.js';
import { appendLines, LineSplitter, type LogLine, parseLogLine } from './log-buffer.js';
import { addSample, deriveStats, EMPTY_HISTORY, type RawStats, type StatsHistory } from './stats.js';
import type { ListPanelId, Tab } from './types.js';

export interface DetailTarget {
  panel: ListPanelId;
  id: string;
  tab: Tab;
  running: boolean;
}

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

export interface DetailSnapshot {
  key: string;
  loading: boolean;
  error?: string;
  inspect?: unknown;
  logs: readonly LogLine[];
  logsEnded: boolean;
  stats: StatsHistory;
  top?: TopResult;
}

const EMPTY: DetailSnapshot = { key: '', loading: false, logs: [], logsEnded: false, stats: EMPTY_HISTORY };
const LOG_FLUSH_MS = 50;
const TOP_REFRESH_MS = 3000;

export function targetKey(t: DetailTarget | undefined): string {
  return t ? `${t.panel}/${t.id}/${t.tab}/${t.running ? 'up' : 'down'}` : '';
}

function inspectPath(t: DetailTarget): string {
  const id = encodeURIComponent(t.id);
  if (t.panel === 'containers') return `/containers/${id}/json`;
  if (t.panel === 'images') return `/images/${id}/json`;
  if (t.panel === 'volumes') return `/volumes/${id}`;
  return `/networks/${id}`;
}

export class DetailStore {
  private snapshot: DetailSnapshot = EMPTY;
  private readonly listeners = new Set<() => void>();
  private closers: (() => void)[] = [];
  private gen = 0;
  private client: ApiClient | undefined;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): DetailSnapshot => this.snapshot;

  private set(patch: Partial<DetailSnapshot>, gen: number): void {
    if (gen !== this.gen) return;
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of this.listeners) l();
  }

  /** Shows `target` (undefined: nothing), reusing the current streams if it did not change. */
  focus(client: ApiClient | undefined, target: DetailTarget | undefined): void {
    const key = client ? targetKey(target) : '';
    if (key === this.snapshot.key && client === this.client) return;
    this.close();
    this.client = client;
    const gen = ++this.gen;
    this.snapshot = { ...EMPTY, key, loading: key !== '' };
    for (const l of this.listeners) l();
    if (!client || !target) return;
    const fail = (err: unknown): void => this.set({ loading: false, error: describeFailure(err) }, gen);
    switch (target.tab) {
      case 'logs':
        this.followLogs(client, target, gen).catch(fail);
        break;
      case 'stats':
        if (!target.running) this.set({ loading: false, error: 'the container is not running' }, gen);
        else this.followStats(client, target, gen).catch(fail);
        break;
      case 'top':
        if (!target.running) this.set({ loading: false, error: 'the container is not running' }, gen);
        else this.pollTop(client, target, gen).catch(fail);
        break;
      default:
        client
          .json<unknown>('GET', inspectPath(target))
          .then((inspect) => this.set({ loading: false, inspect }, gen))
          .catch(fail);
    }
  }

  close(): void {
    this.gen++;
    for (const c of this.closers) c();
    this.closers = [];
  }

  private track(res: IncomingMessage, gen: number): void {
    if (gen !== this.gen) {
      res.destroy();
      return;
    }
    this.closers.push(() => res.destroy());
  }

  private async followLogs(client: ApiClient, t: DetailTarget, gen: number): Promise<void> {
    // Inspect first: a TTY container's log stream is raw, not stdcopy-framed. Env and inspect
    // tabs reuse this inspect.
    const inspect = await client.json<{ Config?: { Tty?: boolean } }>('GET', inspectPath(t));
    this.set({ inspect }, gen);
    const res = await client.stream('GET', `/containers/${encodeURIComponent(t.id)}/logs`, {
      query: { stdout: 1, stderr: 1, follow: 1, timestamps: 1, tail: 500 },
    });
    this.track(res, gen);
    this.set({ loading: false }, gen);
    const tty = inspect.Config?.Tty === true;
    const parser = tty ? undefined : new StdcopyParser();
    const out = new LineSplitter();
    const err = new LineSplitter();
    let batch: LogLine[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      if (batch.length === 0) return;
      const lines = batch;
      batch = [];
      this.set({ logs: appendLines(this.snapshot.logs, lines) }, gen);
    };
    this.closers.push(() => clearTimeout(timer));
    try {
      for await (const chunk of res) {
        if (gen !== this.gen) return;
        const pieces = parser ? parser.push(chunk as Buffer) : [{ stream: 1, data: chunk as Buffer }];
        for (const p of pieces) {
          const isErr = p.stream === STDERR;
          for (const raw of (isErr ? err : out).push(p.data)) batch.push(parseLogLine(raw, isErr));
        }
        timer ??= setTimeout(flush, LOG_FLUSH_MS);
      }
    } finally {
      for (const raw of out.flush()) batch.push(parseLogLine(raw, false));
      for (const raw of err.flush()) batch.push(parseLogLine(raw, true));
      clearTimeout(timer);
      flush();
      this.set({ logsEnded: true }, gen);
    }
  }

  private async followStats(client: ApiClient, t: DetailTarget, gen: number): Promise<void> {
    const res = await client.stream('GET', `/containers/${encodeURIComponent(t.id)}/stats`, { query: { stream: 1 } });
    this.track(res, gen);
    for await (const raw of readJSONStream<RawStats>(res)) {
      if (gen !== this.gen) return;
      this.set({ loading: false, stats: addSample(this.snapshot.stats, deriveStats(raw, Date.now())) }, gen);
    }
  }

  private async pollTop(client: ApiClient, t: DetailTarget, gen: number): Promise<void> {
    const load = async (): Promise<void> => {
      try {
        const top = await client.json<TopResult>('GET', `/containers/${encodeURIComponent(t.id)}/top`);
        this.set({ loading: false, top, error: undefined }, gen);
      } catch (err) {
        this.set({ loading: false, error: describeFailure(err) }, gen);
      }
    };
    await load();
    if (gen !== this.gen) return;
    // `top` is a snapshot by nature: refresh it only while this tab is on screen.
    const timer = setInterval(() => void load(), TOP_REFRESH_MS);
    this.closers.push(() => clearInterval(timer));
  }
}
