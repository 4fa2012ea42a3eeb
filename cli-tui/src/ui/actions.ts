// Runs the dashboard's engine actions through the Engine API, one request per target.

import type { ApiClient } from '../api/client.js';
import { humanSize } from '../format/units.js';
import { describeFailure } from './engine-store.js';
import type { EngineAction } from './state.js';
import type { ListPanelId } from './types.js';

export interface ActionOutcome {
  ok: boolean;
  message: string;
}

function request(
  action: EngineAction,
  panel: ListPanelId,
  id: string,
): { method: string; path: string; query?: Record<string, number> } {
  const enc = encodeURIComponent(id);
  if (panel === 'containers') {
    if (action === 'remove') return { method: 'DELETE', path: `/containers/${enc}`, query: { force: 1 } };
    return { method: 'POST', path: `/containers/${enc}/${action}` };
  }
  if (action !== 'remove') throw new Error(`${action} does not apply to ${panel}`);
  if (panel === 'images') return { method: 'DELETE', path: `/images/${enc}` };
  if (panel === 'volumes') return { method: 'DELETE', path: `/volumes/${enc}` };
  return { method: 'DELETE', path: `/networks/${enc}` };
}

interface PruneReport {
  ContainersDeleted?: string[] | null;
  ImagesDeleted?: unknown[] | null;
  VolumesDeleted?: string[] | null;
  NetworksDeleted?: string[] | null;
  SpaceReclaimed?: number;
}

async function prune(client: ApiClient, panel: ListPanelId): Promise<ActionOutcome> {
  const r = await client.json<PruneReport>('POST', `/${panel}/prune`);
  const count = (r?.ContainersDeleted ?? r?.ImagesDeleted ?? r?.VolumesDeleted ?? r?.NetworksDeleted ?? []).length ?? 0;
  const space = r?.SpaceReclaimed ? `, reclaimed ${humanSize(r.SpaceReclaimed)}` : '';
  return { ok: true, message: `pruned ${count} ${panel}${space}` };
}

export async function runAction(
  client: ApiClient,
  action: EngineAction,
  panel: ListPanelId,
  ids: readonly string[],
  nameOf: (id: string) => string,
): Promise<ActionOutcome> {
  if (action === 'prune') {
    try {
      return await prune(client, panel);
    } catch (err) {
      return { ok: false, message: describeFailure(err) };
    }
  }
  const failures: string[] = [];
  // Sequential: bulk actions on a few marked items, and errors are reported per item.
  for (const id of ids) {
    const { method, path, query } = request(action, panel, id);
    try {
      await client.json<unknown>(method, path, { query });
    } catch (err) {
      failures.push(`${nameOf(id)}: ${describeFailure(err)}`);
    }
  }
  const done = ids.length - failures.length;
  const what = ids.length === 1 ? nameOf(ids[0] ?? '') : `${done}/${ids.length} ${panel}`;
  if (failures.length > 0) return { ok: false, message: failures.join('; ') };
  const past: Record<EngineAction, string> = {
    start: 'started',
    stop: 'stopped',
    restart: 'restarted',
    pause: 'paused',
    unpause: 'unpaused',
    kill: 'killed',
    remove: 'removed',
    prune: 'pruned',
  };
  return { ok: true, message: `${past[action]} ${what}` };
}
