import type { ContainerRecord } from '../containers/container-types.js';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** What the filters of `GET /containers/json` look at: the record and its list view. */
export interface FilterTarget {
  c: ContainerRecord;
  view: { Ports: unknown[]; NetworkSettings: { Networks: Record<string, unknown> }; Mounts: unknown[] };
}

const KEYS = new Set([
  'ancestor',
  'before',
  'exited',
  'health',
  'id',
  'label',
  'name',
  'network',
  'publish',
  'expose',
  'since',
  'status',
  'volume',
]);

/** `8080`, `8080/udp`, `8000-8100/tcp` → a port test (moby's publish/expose filters). */
function portTest(spec: string): (port: number | undefined, proto: string | undefined) => boolean {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(spec);
  if (!m) throw new InvalidParameterError(`invalid port filter ${JSON.stringify(spec)}`);
  const [lo, hi, proto] = [Number(m[1]), Number(m[2] ?? m[1]), m[3] ?? 'tcp'];
  return (port, p) => port !== undefined && port >= lo && port <= hi && (p ?? 'tcp') === proto;
}

/**
 * The filters of `GET /containers/json` as moby's daemon/list.go applies them: values of one key
 * are alternatives (labels must all match), keys must all match. `before`/`since` name a
 * container by ID, name or prefix (`lookup`).
 */
export function containerFilter(
  filters: Map<string, string[]>,
  lookup: (ref: string) => ContainerRecord,
): (t: FilterTarget) => boolean {
  for (const k of filters.keys()) if (!KEYS.has(k)) throw new InvalidParameterError(`invalid filter '${k}'`);
  const createdOf = (key: string) => filters.get(key)?.map((ref) => lookup(ref).Created);
  const before = createdOf('before');
  const since = createdOf('since');
  const exited = filters.get('exited')?.map((v) => {
    // dockerd passes Go's strconv error through.
    if (!/^[-+]?\d+$/.test(v))
      throw new InvalidParameterError(`strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
    return Number(v);
  });
  const publish = filters.get('publish')?.map(portTest);
  const expose = filters.get('expose')?.map(portTest);

  return ({ c, view }) => {
    const ports = view.Ports as Array<{ PrivatePort?: number; PublicPort?: number; Type?: string }>;
    const networks = view.NetworkSettings.Networks as Record<string, { NetworkID?: string }>;
    const mounts = view.Mounts as Array<{ Name?: string; Destination?: string }>;
    if (before && !before.some((t) => c.Created < t)) return false;
    if (since && !since.some((t) => c.Created > t)) return false;
    if (exited && (c.State.Running || !exited.includes(c.State.ExitCode))) return false;
    if (publish && !ports.some((p) => publish.some((f) => f(p.PublicPort, p.Type)))) return false;
    if (expose && !ports.some((p) => expose.some((f) => f(p.PrivatePort, p.Type)))) return false;
    for (const [key, values] of filters) {
      if (values.length === 0) continue;
      // Label filters must all match (compose lists a service's containers by four labels); others are alternatives.
      const ok = (key === 'label' ? values.every.bind(values) : values.some.bind(values))((v) => {
        switch (key) {
          case 'status':
            return c.State.Status === v;
          case 'health':
            return (c.State.Health?.Status ?? 'none') === v;
          case 'name':
            return c.Name.slice(1).includes(v.replace(/^\//, ''));
          case 'id':
            return c.Id.startsWith(v);
          case 'label': {
            const [k, val] = v.split(/=(.*)/s, 2);
            return k! in c.Config.Labels && (val === undefined || c.Config.Labels[k!] === val);
          }
          case 'ancestor':
            return c.Config.Image === v || c.Image === v || c.Image.slice(7).startsWith(v);
          case 'network':
            return Object.entries(networks).some(([name, n]) => name === v || n.NetworkID === v);
          case 'volume':
            return mounts.some((m) => m.Name === v || m.Destination === v);
          default:
            return true; // checked above
        }
      });
      if (!ok) return false;
    }
    return true;
  };
}
