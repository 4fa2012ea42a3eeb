// The main panel's text for each tab and view, as plain lines (the view slices the visible ones).

import { bytesSize, humanSize } from '../format/units.js';
import type { DetailSnapshot } from './detail-store.js';
import type { EngineSnapshot } from './engine-store.js';
import { sanitize } from './log-buffer.js';
import { sparkline, type StatsHistory } from './stats.js';
import type { EngineEvent } from './types.js';

export function jsonLines(value: unknown): string[] {
  if (value === undefined) return [];
  return JSON.stringify(value, null, 2).split('\n');
}

export function envLines(inspect: unknown): string[] {
  const env = (inspect as { Config?: { Env?: string[] | null } } | undefined)?.Config?.Env ?? [];
  return env.length === 0 ? ['(no environment variables)'] : env.map((e) => sanitize(e));
}

export function topLines(top: DetailSnapshot['top']): string[] {
  if (!top) return [];
  const rows = [top.Titles, ...top.Processes];
  const widths = top.Titles.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function percent(v: number): string {
  return `${v.toFixed(2)}%`;
}

/** CPU, memory, network and block I/O as sparklines over the last samples, newest on the right. */
export function statsLines(h: StatsHistory, width: number): string[] {
  const last = h.samples[h.samples.length - 1];
  if (!last) return ['waiting for the first stats sample…'];
  const graph = Math.max(10, width - 28);
  const rateText = (v: number | undefined): string => `${humanSize(v ?? 0)}/s`;
  const row = (label: string, value: string, values: readonly number[], max?: number): string =>
    `${label.padEnd(10)}${value.padStart(16)}  ${sparkline(values, graph, max)}`;
  return [
    row('CPU', percent(last.cpuPercent), h.cpu, Math.max(100, ...h.cpu)),
    row('MEM', bytesSize(last.memUsage), h.mem, last.memLimit > 0 ? last.memLimit : undefined),
    `${''.padEnd(10)}${`${percent(last.memPercent)} of ${bytesSize(last.memLimit)}`.padStart(16)}`,
    row('NET RX', rateText(h.netRxRate.at(-1)), h.netRxRate),
    row('NET TX', rateText(h.netTxRate.at(-1)), h.netTxRate),
    row('BLK READ', rateText(h.blkReadRate.at(-1)), h.blkReadRate),
    row('BLK WRITE', rateText(h.blkWriteRate.at(-1)), h.blkWriteRate),
    '',
    `PIDs ${last.pids}   NET total ${humanSize(last.netRx)} / ${humanSize(last.netTx)}   BLOCK I/O total ${humanSize(last.blkRead)} / ${humanSize(last.blkWrite)}`,
  ];
}

function clock(ev: EngineEvent): string {
  const ms = ev.timeNano ? Math.floor(ev.timeNano / 1e6) : (ev.time ?? 0) * 1000;
  return new Date(ms).toISOString().slice(11, 19);
}

export function eventLine(ev: EngineEvent): string {
  const attrs = ev.Actor?.Attributes ?? {};
  const name = attrs.name ?? ev.Actor?.ID?.slice(0, 12) ?? '';
  const extra = Object.entries(attrs)
    .filter(([k]) => k === 'exitCode' || k === 'image' || k === 'signal' || k === 'container')
    .map(([k, v]) => `${k}=${k === 'container' ? v.slice(0, 12) : v}`)
    .join(' ');
  const explain = ev.Action === 'die' && attrs.exitCode === '137' ? '  (137: SIGKILL — killed or out of memory?)' : '';
  return sanitize(
    `${clock(ev)}  ${(ev.Type ?? '').padEnd(9)} ${(ev.Action ?? '').padEnd(12)} ${name} ${extra}${explain}`,
  );
}

export function eventsLines(events: readonly EngineEvent[]): string[] {
  return events.length === 0 ? ['(no events since the dashboard connected)'] : events.map(eventLine);
}

function field(obj: Record<string, unknown> | undefined, key: string): string {
  const v = obj?.[key];
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function engineLines(s: EngineSnapshot): string[] {
  const v = s.version;
  const i = s.info;
  const lines = [`Endpoint:        ${s.endpoint}`, `Connection:      ${s.status}${s.error ? ` (${s.error})` : ''}`];
  if (v) {
    lines.push(
      '',
      'Version',
      `  Server:        ${field(v, 'Version')}`,
      `  API version:   ${field(v, 'ApiVersion')} (minimum ${field(v, 'MinAPIVersion')})`,
      `  OS/Arch:       ${field(v, 'Os')}/${field(v, 'Arch')}`,
      `  Kernel:        ${field(v, 'KernelVersion')}`,
    );
  }
  if (i) {
    const runtimes = Object.keys((i.Runtimes as Record<string, unknown> | undefined) ?? {}).join(', ');
    const plugins = i.Plugins as Record<string, string[] | null> | undefined;
    lines.push(
      '',
      'Info',
      `  Name:          ${field(i, 'Name')}`,
      `  Containers:    ${field(i, 'Containers')} (running ${field(i, 'ContainersRunning')}, paused ${field(i, 'ContainersPaused')}, stopped ${field(i, 'ContainersStopped')})`,
      `  Images:        ${field(i, 'Images')}`,
      `  Storage:       ${field(i, 'Driver')}`,
      `  Logging:       ${field(i, 'LoggingDriver')}`,
      `  Cgroup:        ${field(i, 'CgroupDriver')} v${field(i, 'CgroupVersion')}`,
      `  Runtimes:      ${runtimes} (default ${field(i, 'DefaultRuntime')})`,
      `  Networks:      ${(plugins?.Network ?? []).join(', ')}`,
      `  Volumes:       ${(plugins?.Volume ?? []).join(', ')}`,
      `  Root dir:      ${field(i, 'DockerRootDir')}`,
      `  CPUs/memory:   ${field(i, 'NCPU')} / ${bytesSize(Number(i.MemTotal ?? 0))}`,
    );
  }
  if (s.plugins && s.plugins.length > 0) {
    lines.push('', 'skiff plugins');
    for (const p of s.plugins) {
      const caps = p.Capabilities
        ? Object.entries(p.Capabilities)
            .map(([k, val]) => `${k}=${typeof val === 'object' ? JSON.stringify(val) : String(val)}`)
            .join(' ')
        : '';
      lines.push(
        `  ${`${p.Kind}/${p.Name}`.padEnd(22)} ${p.Version.padEnd(8)} ${p.State.padEnd(8)} ${p.Package}${p.Reason ? `  — ${p.Reason}` : ''}`,
      );
      if (caps) lines.push(`      ${caps}`);
    }
  }
  return lines;
}
