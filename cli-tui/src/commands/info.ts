// skiff info: a subset of `docker info`, same layout.

import { StatusError } from '../cli/errors.js';
import { bytesSize } from '../format/units.js';
import { CLIENT_VERSION } from '../meta.js';
import { describeError } from './report.js';
import { renderFormat } from './version.js';
import { templateStruct } from '../format/template.js';
import type { Command } from './types.js';

interface Commit {
  ID?: string;
  Expected?: string;
}

export interface SystemInfo {
  ID?: string;
  Containers?: number;
  ContainersRunning?: number;
  ContainersPaused?: number;
  ContainersStopped?: number;
  Images?: number;
  Driver?: string;
  DriverStatus?: [string, string][] | null;
  Plugins?: {
    Volume?: string[] | null;
    Network?: string[] | null;
    Authorization?: string[] | null;
    Log?: string[] | null;
  };
  LoggingDriver?: string;
  CgroupDriver?: string;
  CgroupVersion?: string;
  KernelVersion?: string;
  OperatingSystem?: string;
  OSType?: string;
  Architecture?: string;
  NCPU?: number;
  MemTotal?: number;
  Name?: string;
  DockerRootDir?: string;
  Debug?: boolean;
  HttpProxy?: string;
  HttpsProxy?: string;
  NoProxy?: string;
  Labels?: string[] | null;
  ExperimentalBuild?: boolean;
  ServerVersion?: string;
  Runtimes?: Record<string, unknown> | null;
  DefaultRuntime?: string;
  Swarm?: { LocalNodeState?: string };
  LiveRestoreEnabled?: boolean;
  InitBinary?: string;
  ContainerdCommit?: Commit;
  RuncCommit?: Commit;
  InitCommit?: Commit;
  SecurityOptions?: string[] | null;
  RegistryConfig?: {
    InsecureRegistryCIDRs?: string[] | null;
    IndexConfigs?: Record<string, { Name?: string; Secure?: boolean }> | null;
    Mirrors?: string[] | null;
  } | null;
  Warnings?: string[] | null;
}

/** Parses "name=seccomp,profile=default" entries (system.DecodeSecurityOptions). */
function securityOptions(options: readonly string[]): { name: string; profile?: string }[] {
  return options.map((opt) => {
    const fields = new Map(
      opt.split(',').map((kv) => {
        const eq = kv.indexOf('=');
        return eq >= 0 ? ([kv.slice(0, eq), kv.slice(eq + 1)] as const) : (['name', kv] as const);
      }),
    );
    return { name: fields.get('name') ?? opt, profile: fields.get('profile') };
  });
}

export function formatServerInfo(info: SystemInfo): string {
  const out: string[] = [];
  const line = (...parts: unknown[]): void => {
    out.push(parts.map((p) => String(p ?? '')).join(' '));
  };
  const nonEmpty = (label: string, value: string | undefined): void => {
    if (value) line(label, value);
  };
  line(' Containers:', info.Containers ?? 0);
  line('  Running:', info.ContainersRunning ?? 0);
  line('  Paused:', info.ContainersPaused ?? 0);
  line('  Stopped:', info.ContainersStopped ?? 0);
  line(' Images:', info.Images ?? 0);
  nonEmpty(' Server Version:', info.ServerVersion);
  nonEmpty(' Storage Driver:', info.Driver);
  for (const [key, value] of info.DriverStatus ?? []) out.push(`  ${key}: ${value}`);
  nonEmpty(' Logging Driver:', info.LoggingDriver);
  nonEmpty(' Cgroup Driver:', info.CgroupDriver);
  nonEmpty(' Cgroup Version:', info.CgroupVersion);
  line(' Plugins:');
  line('  Volume:', (info.Plugins?.Volume ?? []).join(' '));
  line('  Network:', (info.Plugins?.Network ?? []).join(' '));
  if ((info.Plugins?.Authorization ?? []).length > 0) {
    line('  Authorization:', (info.Plugins?.Authorization ?? []).join(' '));
  }
  line('  Log:', (info.Plugins?.Log ?? []).join(' '));
  line(' Swarm:', info.Swarm?.LocalNodeState ?? '');
  const runtimes = Object.keys(info.Runtimes ?? {}).sort();
  if (runtimes.length > 0) {
    line(' Runtimes:', runtimes.join(' '));
    line(' Default Runtime:', info.DefaultRuntime ?? '');
  }
  if (info.OSType === 'linux') {
    line(' Init Binary:', info.InitBinary ?? '');
    const commits: [string, Commit | undefined][] = [
      ['containerd', info.ContainerdCommit],
      ['runc', info.RuncCommit],
      ['init', info.InitCommit],
    ];
    for (const [name, commit] of commits) {
      const id = commit?.ID ?? '';
      const expected = commit?.Expected ?? '';
      out.push(` ${name} version: ${id}${id !== expected ? ` (expected: ${expected})` : ''}`);
    }
    if ((info.SecurityOptions ?? []).length > 0) {
      line(' Security Options:');
      for (const so of securityOptions(info.SecurityOptions ?? [])) {
        out.push(`  ${so.name}`);
        if (so.profile !== undefined) line('   Profile:', so.profile);
      }
    }
  }
  nonEmpty(' Kernel Version:', info.KernelVersion);
  nonEmpty(' Operating System:', info.OperatingSystem);
  nonEmpty(' OSType:', info.OSType);
  nonEmpty(' Architecture:', info.Architecture);
  line(' CPUs:', info.NCPU ?? 0);
  line(' Total Memory:', bytesSize(info.MemTotal ?? 0));
  nonEmpty(' Name:', info.Name);
  nonEmpty(' ID:', info.ID);
  line(' Docker Root Dir:', info.DockerRootDir ?? '');
  line(' Debug Mode:', info.Debug ?? false);
  nonEmpty(' HTTP Proxy:', info.HttpProxy);
  nonEmpty(' HTTPS Proxy:', info.HttpsProxy);
  nonEmpty(' No Proxy:', info.NoProxy);
  if ((info.Labels ?? []).length > 0) {
    line(' Labels:');
    for (const label of info.Labels ?? []) out.push(`  ${label}`);
  }
  line(' Experimental:', info.ExperimentalBuild ?? false);
  const registry = info.RegistryConfig;
  const indexConfigs = registry?.IndexConfigs ?? {};
  if (registry && ((registry.InsecureRegistryCIDRs ?? []).length > 0 || Object.keys(indexConfigs).length > 0)) {
    line(' Insecure Registries:');
    for (const key of Object.keys(indexConfigs).sort()) {
      const cfg = indexConfigs[key];
      if (cfg && !cfg.Secure) out.push(`  ${cfg.Name ?? key}`);
    }
    for (const cidr of registry.InsecureRegistryCIDRs ?? []) out.push(`  ${cidr}`);
  }
  if ((registry?.Mirrors ?? []).length > 0) {
    line(' Registry Mirrors:');
    for (const mirror of registry?.Mirrors ?? []) out.push(`  ${mirror}`);
  }
  line(' Live Restore Enabled:', info.LiveRestoreEnabled ?? false);
  return `${out.join('\n')}\n\n`;
}

export const infoCommand: Command = {
  name: 'info',
  usage: 'info [OPTIONS]',
  summary: 'Display system-wide information',
  interspersed: true,
  args: { max: 0 },
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  async run(ctx, { flags }) {
    const { stdout, stderr } = ctx.streams;
    const format = flags.format as string | undefined;
    if (format) {
      const info = await ctx.client.json<SystemInfo>('GET', '/info');
      const clientInfo = { Debug: false, Context: 'default', Plugins: [], Warnings: null, Version: CLIENT_VERSION };
      stdout.write(
        `${renderFormat(format, templateStruct('system.dockerInfo', { ...info, ClientInfo: clientInfo }))}\n`,
      );
      return 0;
    }
    stdout.write(`Client:\n Version:    ${CLIENT_VERSION}\n Debug Mode: false\n\nServer:\n`);
    let info: SystemInfo;
    try {
      info = await ctx.client.json<SystemInfo>('GET', '/info');
    } catch (err) {
      throw new StatusError(1, describeError(err));
    }
    stdout.write(formatServerInfo(info));
    for (const warning of info.Warnings ?? []) stderr.write(`${warning}\n`);
    return 0;
  },
};
