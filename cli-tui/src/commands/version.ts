// skiff version: client facts and the daemon's GET /version, laid out like `docker version`.

import { ConnectionError } from '../api/errors.js';
import { StatusError } from '../cli/errors.js';
import { templateText } from '../format/table-format.js';
import { tabwrite, VERSION_OPTIONS } from '../format/tabwriter.js';
import { renderTemplate, TemplateExecError, TemplateParseError, templateStruct } from '../format/template.js';
import { CLIENT_VERSION, goArch } from '../meta.js';
import { describeError } from './report.js';
import type { Command } from './types.js';

export interface ComponentVersion {
  Name: string;
  Version: string;
  Details?: Record<string, string> | null;
}

export interface VersionResponse {
  Platform?: { Name?: string };
  Components?: ComponentVersion[] | null;
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os?: string;
  Arch?: string;
  KernelVersion?: string;
  BuildTime?: string;
  Experimental?: boolean;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3339 → Go's time.ANSIC in the time's own offset ("Thu May  7 21:09:36 2026"); else unchanged. */
export function formatBuildTime(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return text;
  const [, y, mo, d, hh, mm, ss] = m as unknown as [string, string, string, string, string, string, string];
  const weekday = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDay();
  return `${DAYS[weekday]} ${MONTHS[Number(mo) - 1]} ${String(Number(d)).padStart(2, ' ')} ${hh}:${mm}:${ss} ${y}`;
}

/** Server components, adding an "Engine" from the top-level fields for daemons without one. */
function components(v: VersionResponse): ComponentVersion[] {
  const list = [...(v.Components ?? [])];
  if (!list.some((c) => c.Name === 'Engine')) {
    list.unshift({
      Name: 'Engine',
      Version: v.Version ?? '',
      Details: {
        ApiVersion: v.ApiVersion ?? '',
        MinAPIVersion: v.MinAPIVersion ?? '',
        GitCommit: v.GitCommit ?? '',
        GoVersion: v.GoVersion ?? '',
        Os: v.Os ?? '',
        Arch: v.Arch ?? '',
        BuildTime: v.BuildTime ?? '',
        KernelVersion: v.KernelVersion ?? '',
        Experimental: String(v.Experimental ?? false),
      },
    });
  }
  return list;
}

export function formatServerVersion(v: VersionResponse): string {
  const platform = v.Platform?.Name ? ` ${v.Platform.Name}` : '';
  const lines = [`Server:${platform}`];
  for (const c of components(v)) {
    const details = c.Details ?? {};
    lines.push(` ${c.Name}:`);
    if (c.Name === 'Engine') {
      lines.push(
        `  Version:\t${c.Version}`,
        `  API version:\t${details.ApiVersion ?? ''} (minimum version ${details.MinAPIVersion ?? ''})`,
        `  Go version:\t${details.GoVersion ?? ''}`,
        `  Git commit:\t${details.GitCommit ?? ''}`,
        `  Built:\t${formatBuildTime(details.BuildTime ?? '')}`,
        `  OS/Arch:\t${details.Os ?? ''}/${details.Arch ?? ''}`,
        `  Experimental:\t${details.Experimental ?? ''}`,
      );
    } else {
      lines.push(`  Version:\t${c.Version}`);
      for (const key of Object.keys(details).sort()) lines.push(`  ${key}:\t${details[key]}`);
    }
  }
  return tabwrite(lines, VERSION_OPTIONS);
}

export function formatClientVersion(apiVersion: string, clientMax: string): string {
  const downgraded = apiVersion !== clientMax ? ` (downgraded from ${clientMax})` : '';
  return tabwrite(
    [
      'Client:',
      ` Version:\t${CLIENT_VERSION}`,
      ` API version:\t${apiVersion}${downgraded}`,
      ` Node version:\t${process.version}`,
      ` OS/Arch:\t${process.platform}/${goArch()}`,
    ],
    VERSION_OPTIONS,
  );
}

/** The client half of docker's version data (`{{.Client.Version}}`, `{{json .Client}}`). */
function clientInfo(apiVersion: string, clientMax: string): Record<string, unknown> {
  return templateStruct('system.clientVersion', {
    Platform: { Name: '' },
    Version: CLIENT_VERSION,
    APIVersion: apiVersion,
    DefaultAPIVersion: clientMax,
    GitCommit: '',
    GoVersion: process.version,
    Os: process.platform,
    Arch: goArch(),
    BuildTime: '',
    Context: 'default',
  });
}

/** Renders a --format template ("json" = `{{json .}}`); a bad template is exit status 1. */
export function renderFormat(format: string, data: unknown): string {
  try {
    return renderTemplate(templateText(format), data, { missingKey: 'error' });
  } catch (err) {
    if (err instanceof TemplateParseError) throw new StatusError(1, `template parsing error: ${err.message}`);
    if (err instanceof TemplateExecError) throw new StatusError(1, err.message);
    throw err;
  }
}

export const versionCommand: Command = {
  name: 'version',
  usage: 'version [OPTIONS]',
  summary: 'Show the skiff version information',
  interspersed: true,
  args: { max: 0 },
  flags: [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }],
  async run(ctx, { flags }) {
    const { client, streams } = ctx;
    let apiVersion = client.clientVersion;
    let serverError: unknown;
    let server: VersionResponse | undefined;
    try {
      apiVersion = await client.negotiate();
      server = await client.json<VersionResponse>('GET', '/version');
    } catch (err) {
      serverError = err;
    }
    const format = flags.format as string | undefined;
    if (format) {
      // docker version --format: the template sees {Client, Server} (Server is nil when unreachable).
      streams.stdout.write(
        `${renderFormat(format, templateStruct('system.versionInfo', { Client: clientInfo(apiVersion, client.clientVersion), Server: server ?? null }))}\n`,
      );
    } else streams.stdout.write(formatClientVersion(apiVersion, client.clientVersion));
    if (server && !format) streams.stdout.write(`\n${formatServerVersion(server)}`);
    if (serverError) {
      if (serverError instanceof ConnectionError) throw new StatusError(1, serverError.message);
      throw new StatusError(1, describeError(serverError));
    }
    return 0;
  },
};
