import { InvalidParameterError, NotImplementedError } from '../plugin-api/errors.js';
import type { LogRotation } from '../plugin-api/runtime.js';

/** `HostConfig.LogConfig` as stored. */
export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** Options every driver takes (moby's logger.builtInLogOpts) and each supported driver's own. */
const BUILT_IN_OPTS = new Set(['mode', 'max-buffer-size']);
const DRIVER_OPTS: Record<string, Set<string>> = {
  'json-file': new Set(['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']),
  local: new Set(['max-file', 'max-size', 'compress']),
};
/** Drivers dockerd has built in that skiff does not implement. */
const OTHER_DOCKER_DRIVERS = new Set([
  'syslog',
  'journald',
  'gelf',
  'fluentd',
  'awslogs',
  'splunk',
  'etwlogs',
  'gcplogs',
  'logentries',
]);

/** `local`'s defaults (moby daemon/logger/local: 20 MiB files, 5 of them). */
const LOCAL_DEFAULTS: LogRotation = { maxSize: 20 * 1024 * 1024, maxFiles: 5 };
/** With `none` the log is only the buffer attach reads from: kept small, never served by `logs`. */
const NONE_BUFFER: LogRotation = { maxSize: 1024 * 1024, maxFiles: 1 };

const DECIMAL = 1000;
const BINARY = 1024;

/**
 * go-units' size parsing: `FromHumanSize` (json-file: k = 1000) or `RAMInBytes` (local: k = 1024).
 * `1.5m`, `10 kb`, `2G`, `512` (bytes).
 */
export function parseSize(s: string, base: number): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(s);
  if (!m) throw new InvalidParameterError(`invalid size: '${s}'`);
  const exp = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number.parseFloat(m[1]!) * base ** exp);
}

function parseMaxFile(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new InvalidParameterError(`strconv.Atoi: parsing "${s}": invalid syntax`);
  const n = Number(s);
  if (n < 1) throw new InvalidParameterError('max-file cannot be less than 1');
  return n;
}

/**
 * Checks a container's LogConfig at create, as dockerd does (an unknown driver or option, a bad
 * size or file count is the request's fault: 400).
 */
export function validateLogConfig(lc: LogConfig): void {
  if (lc.Type === 'none') return;
  for (const [k, v] of Object.entries(lc.Config)) {
    if (typeof v !== 'string') throw new InvalidParameterError(`log opt '${k}' must be a string`);
  }
  const mode = lc.Config.mode;
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking')
    throw new InvalidParameterError(`logger: logging mode not supported: ${mode}`);
  const opts = DRIVER_OPTS[lc.Type];
  if (!opts) {
    if (OTHER_DOCKER_DRIVERS.has(lc.Type)) {
      throw new NotImplementedError(
        `logging driver '${lc.Type}' is not supported (supported: ${[...Object.keys(DRIVER_OPTS), 'none'].join(', ')})`,
      );
    }
    throw new InvalidParameterError(`logger: no log driver named '${lc.Type}' is registered`);
  }
  for (const key of Object.keys(lc.Config)) {
    if (BUILT_IN_OPTS.has(key) || opts.has(key)) continue;
    throw new InvalidParameterError(
      lc.Type === 'local'
        ? `unknown log opt '${key}' for log driver local`
        : `unknown log opt '${key}' for ${lc.Type} log driver`,
    );
  }
  logRotationOf(lc);
}

/** How the runtime should rotate the log of a container with this LogConfig (undefined: it grows). */
export function logRotationOf(lc: LogConfig): LogRotation | undefined {
  if (lc.Type === 'none') return NONE_BUFFER;
  const base = lc.Type === 'local' ? BINARY : DECIMAL;
  const defaults = lc.Type === 'local' ? LOCAL_DEFAULTS : undefined;
  const sizeOpt = lc.Config['max-size'];
  const fileOpt = lc.Config['max-file'];
  const maxSize = sizeOpt !== undefined && sizeOpt !== '' ? parseSize(sizeOpt, base) : defaults?.maxSize;
  if (maxSize !== undefined && maxSize <= 0) throw new InvalidParameterError('max-size must be a positive number');
  const maxFiles = fileOpt !== undefined && fileOpt !== '' ? parseMaxFile(fileOpt) : (defaults?.maxFiles ?? 1);
  if (maxSize === undefined) return undefined;
  return { maxSize, maxFiles };
}

/** `docker logs` of a container whose driver keeps nothing to read (dockerd: 501, the same words). */
export function assertLogsReadable(lc: LogConfig): void {
  if (lc.Type === 'none') throw new NotImplementedError('configured logging driver does not support reading');
}
