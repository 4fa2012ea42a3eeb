// docker's formatter.ContainerContext: the fields `ps --format` templates see, their column
// titles, and the default table.

import { displayablePorts } from '../format/ports.js';
import { templateStruct } from '../format/template.js';
import { ellipsis, goQuote, truncateId } from '../format/text.js';
import { humanSizeWithPrecision, timeAgo } from '../format/units.js';
import { type ContainerSummary, displayImage } from './ps.js';

export interface ContainerListEntry extends ContainerSummary {
  Labels?: Record<string, string> | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts?: { Name?: string; Source?: string; Driver?: string }[] | null;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
}

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Platform: 'PLATFORM',
};

export const DEFAULT_CONTAINER_TABLE =
  'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

export const CONTAINER_RAW_FORMAT = `container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
`;

/** Go's time.Time.String() for a unix time in the local zone: "2026-11-23 08:45:36 +0000 UTC". */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const offText = `${sign}${p(Math.trunc(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  const zone =
    off === 0
      ? 'UTC'
      : (new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
          .formatToParts(d)
          .find((x) => x.type === 'timeZoneName')?.value ?? offText);
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${offText} ${zone}`;
}

export interface ContextOptions {
  trunc: boolean;
  now: number;
  /** Records which fields a template used (docker runs the template once to decide on ?size=1). */
  used?: Set<string>;
}

/** One row for a container template; every field is a method, like docker's. */
export function containerContext(c: ContainerListEntry, opts: ContextOptions): object {
  const { trunc } = opts;
  const names = (c.Names ?? []).map((n) => (n.startsWith('/') ? n.slice(1) : n));
  const labels = c.Labels ?? {};
  const fields: Record<string, (...args: unknown[]) => unknown> = {
    Command: () => goQuote(trunc ? ellipsis(c.Command ?? '', 20) : (c.Command ?? '')),
    CreatedAt: () => goTimeString(c.Created ?? 0),
    ID: () => (trunc ? truncateId(c.Id ?? '') : (c.Id ?? '')),
    Image: () => (trunc ? displayImage(c) : c.Image || '<no image>'),
    Labels: () =>
      Object.keys(labels)
        .sort()
        .map((k) => `${k}=${labels[k]}`)
        .join(','),
    LocalVolumes: () => String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Mounts: () =>
      (c.Mounts ?? [])
        .map((m) => {
          const name = m.Name || m.Source || '';
          return trunc ? ellipsis(name, 15) : name;
        })
        .join(','),
    Names: () => {
      const plain = trunc ? names.find((n) => !n.includes('/')) : undefined;
      return plain !== undefined ? plain : names.join(',');
    },
    Networks: () =>
      Object.keys(c.NetworkSettings?.Networks ?? {})
        .sort()
        .join(','),
    Platform: () => null,
    Ports: () => displayablePorts(c.Ports),
    RunningFor: () => timeAgo(c.Created ?? 0, opts.now),
    Size: () => {
      const rw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
      return (c.SizeRootFs ?? 0) > 0 ? `${rw} (virtual ${humanSizeWithPrecision(c.SizeRootFs ?? 0, 3)})` : rw;
    },
    State: () => c.State ?? '',
    Status: () => c.Status ?? '',
  };
  const ctx: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(fields)) {
    ctx[name] = opts.used
      ? () => {
          opts.used?.add(name);
          return fn();
        }
      : fn;
  }
  // Label takes an argument, so `{{json .}}` leaves it out (docker's MarshalJSON does too).
  ctx.Label = (name: unknown) => {
    opts.used?.add('Label');
    return labels[String(name)] ?? '';
  };
  return templateStruct('*formatter.ContainerContext', ctx);
}
