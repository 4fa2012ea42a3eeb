// `skiff run` flags → the container create request docker would send.

import type { FlagSpec, FlagValues } from '../cli/args.js';

export const RUN_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'entrypoint', type: 'string', description: 'Overwrite the default ENTRYPOINT of the image' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'hostname', short: 'h', type: 'string', description: 'Container host name' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'label', short: 'l', type: 'list', description: 'Set meta data on a container' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'network', type: 'string', valueName: 'network', description: 'Connect a container to a network' },
  {
    name: 'rm',
    type: 'bool',
    description: 'Automatically remove the container and its associated anonymous volumes when it exits',
  },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
];

export interface RunOptions {
  image: string;
  command: string[];
  name?: string;
  detach: boolean;
  autoRemove: boolean;
  interactive: boolean;
  tty: boolean;
  /** The body of POST /containers/create. */
  config: ContainerCreateBody;
}

export interface ContainerCreateBody {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Image: string;
  Volumes: Record<string, never>;
  WorkingDir: string;
  Entrypoint: string[] | null;
  Labels: Record<string, string>;
  HostConfig: {
    AutoRemove: boolean;
    NetworkMode: string;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    LogConfig: { Type: string; Config: Record<string, string> };
    PortBindings: Record<string, never>;
    ConsoleSize: [number, number];
    Binds: null;
  };
  NetworkingConfig: { EndpointsConfig: Record<string, Record<string, never>> };
}

export class RunOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunOptionsError';
  }
}

/** -e KEY=VALUE is sent as is; -e KEY takes KEY's value from the client's environment, if set. */
export function resolveEnv(entries: readonly string[], env: NodeJS.ProcessEnv): string[] {
  return entries.map((entry) => {
    if (entry.includes('=')) {
      if (entry.startsWith('=')) throw new RunOptionsError(`invalid environment variable: ${entry}`);
      return entry;
    }
    if (entry.trim() === '') throw new RunOptionsError('invalid environment variable: empty name');
    const value = env[entry];
    return value === undefined ? entry : `${entry}=${value}`;
  });
}

function parseLabels(entries: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    const key = eq >= 0 ? entry.slice(0, eq) : entry;
    if (key === '') throw new RunOptionsError(`invalid label '${entry}': empty name`);
    labels[key] = eq >= 0 ? entry.slice(eq + 1) : '';
  }
  return labels;
}

/** NetworkMode values that never get an endpoint config (docker sends `{}` for them). */
function endpointsFor(mode: string): Record<string, Record<string, never>> {
  if (mode === 'none' || mode === 'host' || mode.startsWith('container:')) return {};
  return { [mode]: {} };
}

export function buildRunOptions(
  flags: FlagValues,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  consoleSize: [number, number] = [0, 0],
): RunOptions {
  const [image, ...command] = args;
  if (!image) throw new RunOptionsError('requires at least 1 argument');
  const detach = flags.detach === true;
  const interactive = flags.interactive === true;
  const tty = flags.tty === true;
  const attachStdin = interactive && !detach;
  const envList = resolveEnv((flags.env as string[] | undefined) ?? [], env);
  const networkMode = (flags.network as string | undefined) || 'default';
  let entrypoint: string[] | null = null;
  if (typeof flags.entrypoint === 'string') entrypoint = [flags.entrypoint];
  const name = flags.name as string | undefined;
  const config: ContainerCreateBody = {
    Hostname: (flags.hostname as string | undefined) ?? '',
    Domainname: '',
    User: (flags.user as string | undefined) ?? '',
    AttachStdin: attachStdin,
    AttachStdout: !detach,
    AttachStderr: !detach,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: attachStdin,
    Env: envList.length > 0 ? envList : null,
    Cmd: command.length > 0 ? command : null,
    Image: image,
    Volumes: {},
    WorkingDir: (flags.workdir as string | undefined) ?? '',
    Entrypoint: entrypoint,
    Labels: parseLabels((flags.label as string[] | undefined) ?? []),
    HostConfig: {
      AutoRemove: flags.rm === true,
      NetworkMode: networkMode,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      LogConfig: { Type: '', Config: {} },
      PortBindings: {},
      ConsoleSize: tty ? consoleSize : [0, 0],
      Binds: null,
    },
    NetworkingConfig: { EndpointsConfig: endpointsFor(networkMode) },
  };
  return {
    image,
    command,
    ...(name ? { name } : {}),
    detach,
    autoRemove: flags.rm === true,
    interactive,
    tty,
    config,
  };
}

/** docker's runStartContainerErr: which exit code a start failure maps to. */
export function startErrorExitCode(message: string): number {
  if (
    message.includes('executable file not found') ||
    message.includes('no such file or directory') ||
    message.includes('system cannot find the file specified')
  ) {
    return 127;
  }
  if (message.includes('permission denied') || message.includes('is a directory')) return 126;
  return 125;
}
