import type { FastifyPluginAsync } from 'fastify';
import type { EngineEvent } from '../../plugin-api/events.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { engineHeaders } from '../api-version.js';
import type { ApiDeps } from '../deps.js';
import { parseFilters } from '../query.js';

/** Unix seconds (possibly fractional, or an RFC 3339 time) → nanoseconds. */
function toNanos(v: string | undefined, name: string): bigint | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, frac = ''] = v.split('.');
    return BigInt(s!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
  }
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidParameterError(`invalid value for ${name}: ${v}`);
  return BigInt(ms) * 1_000_000n;
}

const FILTER_KEYS = new Set([
  'type',
  'event',
  'container',
  'image',
  'label',
  'network',
  'volume',
  'daemon',
  'plugin',
  'scope',
]);

function matcher(filters: Map<string, string[]>): (e: EngineEvent) => boolean {
  for (const k of filters.keys()) if (!FILTER_KEYS.has(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
  const any = (key: string, test: (v: string) => boolean) => {
    const vs = filters.get(key);
    return !vs || vs.length === 0 || vs.some(test);
  };
  return (e) =>
    any('type', (v) => v === e.Type) &&
    any('event', (v) => v === e.Action || e.Action.startsWith(`${v}:`)) &&
    any('scope', (v) => v === e.scope) &&
    any('container', (v) => e.Type === 'container' && (e.Actor.ID.startsWith(v) || e.Actor.Attributes.name === v)) &&
    any('image', (v) => e.Actor.Attributes.image === v || (e.Type === 'image' && e.Actor.ID === v)) &&
    any('network', (v) => e.Type === 'network' && (e.Actor.ID.startsWith(v) || e.Actor.Attributes.name === v)) &&
    any('volume', (v) => e.Type === 'volume' && e.Actor.ID === v) &&
    any('label', (v) => {
      const [k, val] = v.split(/=(.*)/s, 2);
      return k! in e.Actor.Attributes && (val === undefined || e.Actor.Attributes[k!] === val);
    });
}

/** The wire form: container and image events also carry the legacy status/id/from fields. */
/** Node 21+'s JSON.rawJSON: a value JSON.stringify writes verbatim (not in TypeScript's lib yet). */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

function wire(e: EngineEvent): Record<string, unknown> {
  const legacy =
    e.Type === 'container' || e.Type === 'image'
      ? { status: e.Action, id: e.Actor.ID, ...(e.Actor.Attributes.image ? { from: e.Actor.Attributes.image } : {}) }
      : {};
  return {
    ...legacy,
    Type: e.Type,
    Action: e.Action,
    Actor: e.Actor,
    scope: e.scope,
    time: e.time,
    // Every digit, as dockerd's int64 (JSON.stringify cannot write a bigint itself).
    timeNano: rawJSON(String(e.timeNano)),
  };
}

export const eventRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get('/events', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const match = matcher(parseFilters(q.filters));
    const since = toNanos(q.since, 'since');
    const until = toNanos(q.until, 'until');
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...engineHeaders(), 'Content-Type': 'application/json' });
    res.flushHeaders();
    const send = (e: EngineEvent) => {
      if (!match(e)) return;
      const ns = e.timeNano;
      if (since !== undefined && ns < since) return;
      if (until !== undefined && ns > until) return;
      res.write(`${JSON.stringify(wire(e))}\n`);
    };
    if (since !== undefined) for (const e of deps.events.history()) send(e);
    if (until !== undefined && until <= nowNs) {
      res.end();
      return reply;
    }
    const unsubscribe = deps.events.subscribe(send);
    const timer =
      until !== undefined ? setTimeout(() => res.end(), Number((until - nowNs) / 1_000_000n)).unref() : undefined;
    res.on('close', () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    });
    return reply;
  });
};
