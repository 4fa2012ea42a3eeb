import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { Container } from 'inversify';
import type { ApiDeps } from '../api/deps.js';
import { BuildCache } from '../build/build-cache.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import { ContainerService } from '../containers/container-service.js';
import { ContainerStore } from '../containers/container-store.js';
import { ExecService } from '../containers/exec-service.js';
import { FileContentStore } from '../content/content-store.js';
import { MemoryEventBus } from '../events/event-bus.js';
import { ImagePusher } from '../images/image-push.js';
import { ImageService } from '../images/image-service.js';
import { ImageStore } from '../images/image-store.js';
import { RegistryClient } from '../images/registry-client.js';
import type { Logger } from '../plugin-api/logger.js';
import { type Token, Tokens } from '../plugin-api/tokens.js';
import { DriverRegistry } from '../plugins/driver-registry.js';
import { driverUsers } from '../plugins/driver-usage.js';
import { hostCoreDir } from '../plugins/host-compat.js';
import { loadPlugins, type PluginHost, type PluginStatus } from '../plugins/plugin-loader.js';
import { PluginManager } from '../plugins/plugin-manager.js';
import { nodeModulesChain } from '../plugins/plugin-package.js';
import { PluginStore } from '../plugins/plugin-store.js';
import { ContainerNetworking } from '../networks/container-networking.js';
import { DefaultIpam } from '../networks/default-ipam.js';
import { NetworkService } from '../networks/network-service.js';
import { NetworkStore } from '../networks/network-store.js';
import { watchGlobalNetworks } from '../networks/global-networks.js';
import { openDatabase } from '../store/database.js';
import { ContainerVolumes } from '../volumes/container-volumes.js';
import { VolumeService } from '../volumes/volume-service.js';
import { VolumeStore } from '../volumes/volume-store.js';
import { ClusterConfigError, wireCluster } from './cluster.js';
import { CoreTokens } from './core-tokens.js';
import { DefaultRuntimeError, startDefaultRuntime } from './default-runtime.js';
import { FIRST_PARTY_PLUGINS, STORAGE_PREFERENCE } from './first-party.js';
import { chooseStorageDriver, storageDriverData } from './storage-switch.js';
import { systemInfo } from './system-info.js';

/** A start-up problem the daemon reports as one line and exits on. */
export class StartupError extends Error {}

async function daemonId(root: string): Promise<string> {
  const file = join(root, 'engine-id');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) return existing;
  const id = randomUUID();
  await writeFile(file, `${id}\n`, { mode: 0o600 });
  return id;
}

function parseStorageOpts(opts: string[]): Record<string, string> {
  return Object.fromEntries(opts.map((o) => o.split(/=(.*)/s, 2) as [string, string]));
}

/**
 * Wires the engine: loads plugins, picks drivers, binds services in the inversify container.
 * Plugins never see the container; they get a registrar (see plugins/plugin-loader.ts).
 */
export async function createEngine(config: DaemonConfig, log: Logger): Promise<Container> {
  await mkdir(config.dataRoot, { recursive: true, mode: 0o711 });
  await mkdir(config.execRoot, { recursive: true, mode: 0o700 });
  const di = new Container();
  const events = new MemoryEventBus();
  di.bind(CoreTokens.Config).toConstantValue(config);
  di.bind(Tokens.Logger).toConstantValue(log);
  di.bind(Tokens.Events).toConstantValue(events);
  const content = new FileContentStore(join(config.dataRoot, 'content'));
  di.bind(Tokens.ContentStore).toConstantValue(content);

  const drivers = new DriverRegistry((kind, instance, err) =>
    log.warn(
      `${kind} driver ${instance} failed to start and is disabled until its plugin is enabled again or skiffd restarts`,
      {
        error: err,
      },
    ),
  );
  di.bind(CoreTokens.Drivers).toConstantValue(drivers);
  // Before the plugins load: network plugins may ask for the IPAM driver.
  const db = openDatabase(join(config.dataRoot, 'skiff.db'));
  di.bind(CoreTokens.Database).toConstantValue(db);
  const ipam = new DefaultIpam(db, { defaultPools: config.defaultAddressPools });
  di.bind(Tokens.IpamDriver).toConstantValue(ipam);
  const here = dirname(fileURLToPath(import.meta.url));
  const required = new Set(config.requiredPlugins);
  // Installed with `skiff plugin install`; searched after skiffd's own node_modules (no shadowing).
  const store = new PluginStore(join(config.dataRoot, 'plugins'), hostCoreDir);
  await store.open().catch((err: Error) => {
    throw new StartupError(err.message);
  });
  const searchPaths = [...nodeModulesChain(here), store.nodeModules];
  const pluginHost: PluginHost = {
    dataRoot: config.dataRoot,
    execRoot: config.execRoot,
    log,
    settings: (pkg) => config.pluginConfig[pkg.packageName] ?? config.pluginConfig[pkg.field.name] ?? {},
    service: <T>(t: Token<T>) => (di.isBound(t) ? di.get<T>(t) : undefined),
    registerTimeoutMs: config.pluginRegisterTimeout * 1000,
  };
  const status = await loadPlugins(
    [
      ...FIRST_PARTY_PLUGINS.map((spec) => ({ spec, missingOk: true })),
      ...[...config.plugins, ...config.requiredPlugins].map((spec) => ({ spec, missingOk: false })),
      ...store.list().flatMap((p) => (p.enabled ? [{ spec: p.package, missingOk: false }] : [])),
    ],
    searchPaths,
    drivers,
    pluginHost,
  );
  di.bind(CoreTokens.PluginStatus).toConstantValue(status);
  reportPlugins(status, required, log);

  const storageName = pickStorage(config, drivers, status, db);
  const graph = await drivers.get('storage', storageName, parseStorageOpts(config.storageOpts)).catch((err: Error) => {
    throw new StartupError(`storage driver "${storageName}" failed to start: ${err.message}`);
  });
  di.bind(Tokens.GraphDriver).toConstantValue(graph);
  const runtime = await startDefaultRuntime(config, drivers, log, whyMissing('runtime', status)).catch((err: Error) => {
    throw err instanceof DefaultRuntimeError ? new StartupError(err.message) : err;
  });
  di.bind(Tokens.Runtime).toConstantValue(runtime);

  const cluster = await wireCluster(config, drivers, di, log).catch((err: Error) => {
    throw err instanceof ClusterConfigError ? new StartupError(err.message) : err;
  });
  const networking = await wireNetworking(config, drivers, db, ipam, events, log, di);
  if (cluster) await watchGlobalNetworks(networking.networks, drivers, log.child('networks'));
  const vlog = log.child('volumes');
  const volumes = new ContainerVolumes(
    new VolumeService(new VolumeStore(db), drivers, events, vlog, config.defaultVolumeDriver),
    vlog,
  );
  const pluginManager = new PluginManager({
    store,
    registry: drivers,
    host: pluginHost,
    status,
    searchPaths,
    configSpecs: new Set([...config.plugins, ...config.requiredPlugins]),
    usersOf: (kind, name) =>
      driverUsers(
        { config, storageDriver: graph.name, networks: networking.networks, volumes: volumes.volumes },
        kind,
        name,
      ),
  });
  const registry = new RegistryClient({
    insecureRegistries: config.insecureRegistries,
    userAgent: 'skiff/0.1.0',
    timeoutMs: config.registryTimeout * 1000,
    blobRetries: config.maxDownloadAttempts - 1,
    certsDir: config.certsDir,
  });
  di.bind(CoreTokens.RegistryClient).toConstantValue(registry);
  di.bind(CoreTokens.ImageService)
    .toResolvedValue(
      () =>
        new ImageService(new ImageStore(db, graph.name), content, graph, registry, events, log.child('images'), {
          maxConcurrentDownloads: config.maxConcurrentDownloads,
        }),
    )
    .inSingletonScope();
  di.bind(CoreTokens.ContainerService)
    .toResolvedValue(
      (images: ImageService) =>
        new ContainerService(
          config,
          new ContainerStore(db),
          images,
          graph,
          drivers,
          events,
          log.child('containers'),
          networking.containers,
          volumes,
        ),
      [CoreTokens.ImageService],
    )
    .inSingletonScope();
  const id = await daemonId(config.dataRoot);
  di.bind(CoreTokens.ApiDeps)
    .toResolvedValue(
      (images: ImageService, containers: ContainerService): ApiDeps => ({
        config,
        images,
        containers,
        events,
        execs: new ExecService(containers, config.execRoot, events, log.child('exec')),
        registry,
        pusher: new ImagePusher(images, content, registry, events, log.child('push')),
        log: log.child('api'),
        storageDriver: graph.name,
        networking,
        volumes,
        buildCache: new BuildCache(db, graph.name),
        plugins: () => pluginManager.list(),
        pluginManager,
        info: async () =>
          systemInfo({
            id,
            config,
            storageDriver: graph.name,
            driverStatus: (await graph.status?.()) ?? [],
            images,
            containers,
            drivers: {
              network: drivers.names('network'),
              storage: drivers.names('storage'),
              runtime: drivers.names('runtime'),
              volume: drivers.names('volume'),
            },
          }),
      }),
      [CoreTokens.ImageService, CoreTokens.ContainerService],
    )
    .inSingletonScope();
  return di;
}

/** The firewall (for network drivers), the network service with its builtin networks, container networking. */
async function wireNetworking(
  config: DaemonConfig,
  drivers: DriverRegistry,
  db: DatabaseSync,
  ipam: DefaultIpam,
  events: MemoryEventBus,
  log: Logger,
  di: Container,
): Promise<{ networks: NetworkService; containers: ContainerNetworking }> {
  if (drivers.has('firewall', config.firewallDriver)) {
    try {
      di.bind(Tokens.Firewall).toConstantValue(await drivers.get('firewall', config.firewallDriver));
    } catch (err) {
      log.error(`firewall driver "${config.firewallDriver}" failed to start: ${(err as Error).message}`);
    }
  } else {
    log.warn(`firewall driver "${config.firewallDriver}" is not available: networks that need one will not work`);
  }
  const store = new NetworkStore(db);
  const nlog = log.child('networks');
  const networks = new NetworkService(
    store,
    ipam,
    drivers,
    events,
    {
      bridgeName: config.bridge,
      bip: config.bip,
      fixedCidr: config.fixedCidr,
      mtu: config.mtu,
      defaultDriver: config.defaultNetworkDriver,
      defaultIpamDriver: config.defaultIpamDriver,
    },
    nlog,
  );
  await networks.init();
  return { networks, containers: new ContainerNetworking(networks, store, nlog, config.defaultNetwork) };
}

function reportPlugins(status: PluginStatus[], required: Set<string>, log: Logger): void {
  for (const s of status) {
    if (s.state === 'failed') {
      const line = `plugin ${s.packageName}: ${s.reason}`;
      if (required.has(s.spec)) throw new StartupError(`required ${line}`);
      log.error(line);
    } else if (s.state === 'skipped') {
      if (required.has(s.spec))
        throw new StartupError(`required plugin ${s.packageName} is unsupported here: ${s.reason}`);
      log.info(`plugin ${s.packageName} skipped: ${s.reason}`);
    }
  }
}

function whyMissing(kind: string, status: PluginStatus[]): string {
  const related = status.flatMap((s) => (s.state !== 'loaded' && s.packageName.includes(kind) ? [s] : []));
  return related.length ? ` (${related.map((s) => `${s.packageName}: ${s.reason}`).join('; ')})` : '';
}

function pickStorage(config: DaemonConfig, drivers: DriverRegistry, status: PluginStatus[], db: DatabaseSync): string {
  const available = drivers.names('storage');
  if (config.storageDriver && !drivers.has('storage', config.storageDriver)) {
    throw new StartupError(
      `unknown storage driver "${config.storageDriver}" (available: ${available.join(', ') || 'none'})${whyMissing('storage', status)}`,
    );
  }
  let pick: string | undefined;
  try {
    pick = chooseStorageDriver({
      configured: config.storageDriver,
      available,
      preference: STORAGE_PREFERENCE,
      data: storageDriverData(db),
      allowSwitch: config.allowStorageDriverSwitch,
    });
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  if (!pick) throw new StartupError(`no storage driver is available${whyMissing('storage', status)}`);
  return pick;
}
