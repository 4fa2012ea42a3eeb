import 'reflect-metadata';
import { ENGINE_VERSION } from '../api/api-version.js';
import type { ApiDeps } from '../api/deps.js';
import { buildApiServer } from '../api/server.js';
import { ConfigError, loadConfig, parseCommandLine, USAGE } from '../config/daemon-config.js';
import type { ContainerService } from '../containers/container-service.js';
import type { DriverRegistry } from '../plugins/driver-registry.js';
import { ConsoleLogger } from '../util/logger.js';
import { CoreTokens } from './core-tokens.js';
import { createEngine, StartupError } from './engine.js';
import { listenUnix } from './listen.js';

function fatal(message: string): never {
  process.stderr.write(`skiffd: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const cl = parseCommandLine(process.argv.slice(2));
  if (cl.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (cl.version) {
    process.stdout.write(`skiffd version ${ENGINE_VERSION}\n`);
    return;
  }
  const config = await loadConfig(cl);
  const log = new ConsoleLogger(config.logLevel);
  const di = await createEngine(config, log);
  const deps = di.get<ApiDeps>(CoreTokens.ApiDeps);
  await di.get<ContainerService>(CoreTokens.ContainerService).reconcile();
  const app = await buildApiServer(deps);
  const sockets: string[] = [];
  for (const host of config.hosts) sockets.push(await listenUnix(app, host));
  log.info('skiffd is serving the Docker Engine API', {
    sockets: sockets.join(','),
    storage: deps.storageDriver,
    runtime: config.defaultRuntime,
    root: config.dataRoot,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const hardStop = setTimeout(() => process.exit(1), 15_000);
    hardStop.unref();
    try {
      await app.close();
      const drivers = di.get<DriverRegistry>(CoreTokens.Drivers);
      for (const d of await drivers.created()) await (d as { close?: () => Promise<void> }).close?.().catch(() => {});
      di.get<import('node:sqlite').DatabaseSync>(CoreTokens.Database).close();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof StartupError || err instanceof ConfigError) fatal(err.message);
  fatal(`${(err as Error)?.stack ?? String(err)}`);
});
