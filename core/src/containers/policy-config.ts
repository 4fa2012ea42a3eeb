import { InvalidParameterError } from '../plugin-api/errors.js';
import type { HealthConfig } from './container-types.js';

export interface RestartPolicy {
  Name: string;
  MaximumRetryCount: number;
}

const POLICIES = ['no', 'always', 'on-failure', 'unless-stopped'];

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `HostConfig.RestartPolicy`, validated with moby's messages (container.ValidateRestartPolicy). */
export function parseRestartPolicy(v: unknown): RestartPolicy {
  if (v === undefined || v === null) return { Name: 'no', MaximumRetryCount: 0 };
  if (!isObj(v)) throw new InvalidParameterError('HostConfig.RestartPolicy must be an object');
  if (v.Name !== undefined && v.Name !== null && typeof v.Name !== 'string')
    throw new InvalidParameterError('HostConfig.RestartPolicy.Name must be a string');
  const max = v.MaximumRetryCount ?? 0;
  if (typeof max !== 'number' || !Number.isInteger(max))
    throw new InvalidParameterError('HostConfig.RestartPolicy.MaximumRetryCount must be an integer');
  // An empty name is what API clients before v25 sent for "no policy".
  const name = v.Name || 'no';
  if (!POLICIES.includes(name)) {
    throw new InvalidParameterError(
      `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
    );
  }
  if (name === 'on-failure') {
    if (max < 0) throw new InvalidParameterError('invalid restart policy: maximum retry count cannot be negative');
  } else if (max !== 0 && v.Name) {
    throw new InvalidParameterError(
      `invalid restart policy: maximum retry count can only be used with 'on-failure'${max < 0 ? ' and cannot be negative' : ''}`,
    );
  }
  return { Name: name, MaximumRetryCount: name === 'on-failure' ? max : 0 };
}

const DURATIONS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const;
/** moby's containertypes.MinimumDuration (1 ms), in nanoseconds. */
const MINIMUM_DURATION = 1_000_000;

/** `Config.Healthcheck` of a create body (or an image config), validated like moby's validateHealthCheck. */
export function parseHealthcheck(v: unknown, where = 'Healthcheck'): HealthConfig | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new InvalidParameterError(`${where} must be an object`);
  const test = v.Test ?? [];
  if (!Array.isArray(test) || test.some((x) => typeof x !== 'string'))
    throw new InvalidParameterError(`${where}.Test must be a list of strings`);
  const out: HealthConfig = { Test: test as string[] };
  for (const k of DURATIONS) {
    const d = v[k] ?? 0;
    if (typeof d !== 'number' || !Number.isInteger(d))
      throw new InvalidParameterError(`${where}.${k} must be an integer`);
    if (d !== 0 && d < MINIMUM_DURATION) throw new InvalidParameterError(`${k} in Healthcheck cannot be less than 1ms`);
    if (d) out[k] = d;
  }
  const retries = v.Retries ?? 0;
  if (typeof retries !== 'number' || !Number.isInteger(retries))
    throw new InvalidParameterError(`${where}.Retries must be an integer`);
  if (retries < 0) throw new InvalidParameterError('Retries in Healthcheck cannot be negative');
  if (retries) out.Retries = retries;
  return out;
}

/**
 * The container's healthcheck: the image's, with every field the request sets overriding it
 * (moby's merge in daemon/commit.go); `undefined` when there is none.
 */
export function mergeHealthcheck(user?: HealthConfig, image?: HealthConfig): HealthConfig | undefined {
  if (!user) return image;
  if (!image) return user;
  return {
    ...image,
    ...Object.fromEntries(Object.entries(user).filter(([, val]) => (Array.isArray(val) ? val.length > 0 : !!val))),
    Test: user.Test.length > 0 ? user.Test : image.Test,
  };
}

/** An image's healthcheck; one that does not parse is ignored rather than failing every create. */
export function imageHealthcheck(v: unknown): HealthConfig | undefined {
  try {
    return parseHealthcheck(v);
  } catch {
    return undefined;
  }
}
