import { InvalidParameterError } from '../plugin-api/errors.js';
import type { ContainerConfig, HostConfig } from './container-types.js';
import { type NetworkingRequest, parseNetworking } from '../networks/create-options.js';
import { parseHostOptions } from './host-options.js';
import { parseHealthcheck, parseRestartPolicy } from './policy-config.js';

type Json = Record<string, unknown>;

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function isObj(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function strList(body: Json, key: string, where = ''): string[] | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new InvalidParameterError(`${where}${key} must be a list of strings`);
  }
  return v as string[];
}

function str(body: Json, key: string, where = ''): string {
  const v = body[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new InvalidParameterError(`${where}${key} must be a string`);
  return v;
}

function bool(body: Json, key: string, where = ''): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new InvalidParameterError(`${where}${key} must be a boolean`);
  return v;
}

function strMap(body: Json, key: string, where = ''): Record<string, string> {
  const v = body[key];
  if (v === undefined || v === null) return {};
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new InvalidParameterError(`${where}${key} must be an object of strings`);
  }
  return v as Record<string, string>;
}

function objMap(body: Json, key: string, where = ''): Record<string, object> | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (!isObj(v)) throw new InvalidParameterError(`${where}${key} must be an object`);
  return v as Record<string, object>;
}

export function validateName(name: string): string {
  if (!NAME.test(name)) {
    throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.startsWith('/') ? name : `/${name}`;
}

/** Validates a `POST /containers/create` body into a container config and host config. */
export function parseCreateBody(body: unknown): {
  config: ContainerConfig;
  hostConfig: HostConfig;
  networking: NetworkingRequest;
} {
  if (!isObj(body)) throw new InvalidParameterError('config cannot be empty in order to create a container');
  const image = str(body, 'Image');
  if (!image) throw new InvalidParameterError('No command specified');
  const env = strList(body, 'Env') ?? [];
  for (const e of env) {
    if (e === '' || e.startsWith('=')) throw new InvalidParameterError(`invalid environment variable: ${e}`);
  }
  const config: ContainerConfig = {
    Hostname: str(body, 'Hostname'),
    Domainname: str(body, 'Domainname'),
    User: str(body, 'User'),
    AttachStdin: bool(body, 'AttachStdin'),
    AttachStdout: bool(body, 'AttachStdout'),
    AttachStderr: bool(body, 'AttachStderr'),
    ExposedPorts: objMap(body, 'ExposedPorts'),
    Tty: bool(body, 'Tty'),
    OpenStdin: bool(body, 'OpenStdin'),
    StdinOnce: bool(body, 'StdinOnce'),
    Env: env,
    Cmd: strList(body, 'Cmd'),
    Image: image,
    Volumes: objMap(body, 'Volumes'),
    WorkingDir: str(body, 'WorkingDir'),
    Entrypoint: strList(body, 'Entrypoint'),
    OnBuild: strList(body, 'OnBuild'),
    Labels: strMap(body, 'Labels'),
  };
  if (typeof body.StopSignal === 'string' && body.StopSignal) config.StopSignal = body.StopSignal;
  if (typeof body.StopTimeout === 'number') config.StopTimeout = body.StopTimeout;
  const healthcheck = parseHealthcheck(body.Healthcheck);
  if (healthcheck) config.Healthcheck = healthcheck;
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) {
    throw new InvalidParameterError(
      `the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`,
    );
  }

  const hc = body.HostConfig ?? {};
  if (!isObj(hc)) throw new InvalidParameterError('HostConfig must be an object');
  const w = 'HostConfig.';
  const log = isObj(hc.LogConfig) ? hc.LogConfig : {};
  const hostConfig: HostConfig = {
    ...hc,
    NetworkMode: str(hc, 'NetworkMode', w) || 'default',
    AutoRemove: bool(hc, 'AutoRemove', w),
    Binds: strList(hc, 'Binds', w),
    Privileged: bool(hc, 'Privileged', w),
    ReadonlyRootfs: bool(hc, 'ReadonlyRootfs', w),
    CapAdd: strList(hc, 'CapAdd', w),
    CapDrop: strList(hc, 'CapDrop', w),
    RestartPolicy: parseRestartPolicy(hc.RestartPolicy),
    LogConfig: {
      Type: typeof log.Type === 'string' && log.Type ? log.Type : 'json-file',
      Config: isObj(log.Config) ? (log.Config as Record<string, string>) : {},
    },
  };
  if (typeof hc.Runtime === 'string' && hc.Runtime) hostConfig.Runtime = hc.Runtime;
  if (hostConfig.AutoRemove && hostConfig.RestartPolicy.Name !== 'no') {
    throw new InvalidParameterError("can't create 'AutoRemove' container with restart policy");
  }
  if (typeof hc.ShmSize === 'number' && hc.ShmSize < 0)
    throw new InvalidParameterError('SHM size can not be less than 0');
  Object.assign(hostConfig, parseHostOptions(hc, hostConfig.NetworkMode, config.Hostname));
  const networking = parseNetworking(body, hc);
  return { config, hostConfig, networking };
}
