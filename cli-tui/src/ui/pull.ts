// `:pull REF` in the dashboard: POST /images/create with the layer progress folded into one
// status line ("3/5 layers, 12.5MB/40MB").

import type { ApiClient } from '../api/client.js';
import { readJSONStream } from '../api/json-stream.js';
import { JSONMessageError, type JSONMessage } from '../format/progress.js';
import { type ImageReference, parseNormalizedNamed, referenceString, tagNameOnly } from '../format/reference.js';
import { humanSize } from '../format/units.js';
import { pullQuery } from '../commands/pull.js';

interface LayerState {
  status: string;
  current: number;
  total: number;
}

const DONE = /^(Pull complete|Already exists|Download complete)$/;

/** Folds the progress messages seen so far into one line. */
export class PullProgress {
  private readonly layers = new Map<string, LayerState>();
  private last = '';

  constructor(readonly ref: string) {}

  add(m: JSONMessage): void {
    if (m.errorDetail || m.error) throw new JSONMessageError(m.errorDetail?.message ?? m.error ?? 'pull failed');
    if (
      m.id &&
      m.status &&
      !m.id.includes(':') &&
      m.status !== 'Pulling fs layer' &&
      !m.status.startsWith('Pulling from')
    ) {
      const prev = this.layers.get(m.id) ?? { status: '', current: 0, total: 0 };
      this.layers.set(m.id, {
        status: m.status,
        current: m.progressDetail?.current ?? (DONE.test(m.status) ? prev.total : prev.current),
        total: m.progressDetail?.total ?? prev.total,
      });
    } else if (m.id && m.status === 'Pulling fs layer') {
      this.layers.set(m.id, { status: m.status, current: 0, total: 0 });
    } else if (m.status) {
      this.last = m.status;
    }
  }

  text(): string {
    const layers = [...this.layers.values()];
    if (layers.length === 0) return `pulling ${this.ref}: ${this.last || 'resolving'}`;
    const done = layers.filter((l) => DONE.test(l.status)).length;
    const current = layers.reduce((s, l) => s + l.current, 0);
    const total = layers.reduce((s, l) => s + l.total, 0);
    const bytes = total > 0 ? `, ${humanSize(current)}/${humanSize(total)}` : '';
    return `pulling ${this.ref}: ${done}/${layers.length} layers${bytes}`;
  }

  /** The final status line of the daemon ("Status: Downloaded newer image for …"). */
  get summary(): string {
    return this.last;
  }
}

export class PullReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PullReferenceError';
  }
}

export function pullReference(text: string): ImageReference {
  try {
    const ref = parseNormalizedNamed(text);
    return ref.tag || ref.digest ? ref : tagNameOnly(ref);
  } catch (err) {
    throw new PullReferenceError((err as Error).message);
  }
}

/** Pulls `ref`; `onProgress` gets the folded line at most every 100 ms. Resolves with the summary. */
export async function pullWithProgress(
  client: ApiClient,
  ref: ImageReference,
  authHeader: string,
  onProgress: (text: string) => void,
): Promise<string> {
  const name = referenceString(ref);
  const res = await client.stream('POST', '/images/create', {
    query: pullQuery(ref),
    headers: { 'X-Registry-Auth': authHeader },
  });
  const progress = new PullProgress(name);
  let lastReport = 0;
  for await (const m of readJSONStream<JSONMessage>(res)) {
    progress.add(m);
    const now = Date.now();
    if (now - lastReport >= 100) {
      lastReport = now;
      onProgress(progress.text());
    }
  }
  return progress.summary || `pulled ${name}`;
}
