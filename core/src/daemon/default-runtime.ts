import { type DaemonConfig, PREFERRED_RUNTIMES } from '../config/daemon-config.js';
import type { Logger } from '../plugin-api/logger.js';
import type { Runtime } from '../plugin-api/runtime.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';

export class DefaultRuntimeError extends Error {}

/** Starts the runtime driver instance of one configured runtime name. */
async function startRuntime(
  config: DaemonConfig,
  drivers: DriverRegistry,
  name: string,
  whyMissing: string,
): Promise<Runtime> {
  const entry = config.runtimes[name]!;
  const type = entry.runtimeType ?? 'linux';
  if (!drivers.has('runtime', type))
    throw new DefaultRuntimeError(
      `default runtime "${name}" needs the "${type}" runtime driver, which is not available${whyMissing}`,
    );
  return drivers.get('runtime', type, { ...entry }, name).catch((err: Error) => {
    throw new DefaultRuntimeError(`runtime "${name}" failed to start: ${err.message}`);
  });
}

/**
 * Starts the default runtime: the one daemon.json names, else the first of PREFERRED_RUNTIMES
 * that is configured and starts here (runc; crun where runc cannot start). Records the choice in
 * `config.defaultRuntime`, where containers, `docker info` and the logs read it. `whyMissing`
 * explains an absent runtime driver (its plugin's load failure).
 */
export async function startDefaultRuntime(
  config: DaemonConfig,
  drivers: DriverRegistry,
  log: Logger,
  whyMissing = '',
): Promise<Runtime> {
  if (config.defaultRuntime !== undefined) return startRuntime(config, drivers, config.defaultRuntime, whyMissing);
  const candidates = PREFERRED_RUNTIMES.filter((n) => config.runtimes[n]);
  const passedOver: string[] = [];
  for (const name of candidates) {
    try {
      const runtime = await startRuntime(config, drivers, name, whyMissing);
      config.defaultRuntime = name;
      if (passedOver.length) log.info(`default runtime ${name}; passed over: ${passedOver.join('; ')}`);
      return runtime;
    } catch (err) {
      if (name === candidates.at(-1)) throw err;
      passedOver.push((err as Error).message);
    }
  }
  throw new DefaultRuntimeError(`no default runtime: none of ${PREFERRED_RUNTIMES.join(', ')} is configured`);
}
