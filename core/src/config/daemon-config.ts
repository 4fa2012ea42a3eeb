import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseDetachKeys } from '../api/detach-keys.js';
import { InvalidParameterError } from '../plugin-api/errors.js';

export interface RuntimeEntry {
  /** The OCI runtime binary (runc, crun). */
  path?: string;
  runtimeArgs?: string[];
  /** The runtime plugin that runs it (`linux` unless said otherwise). */
  runtimeType?: string;
}

export interface DaemonConfig {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  /** Unset = the driver holding the data root's images, else the first available of the preferred ones. */
  storageDriver?: string;
  /** Start with another storage driver than the one holding images and containers (they stay aside). */
  allowStorageDriverSwitch: boolean;
  storageOpts: string[];
  /**
   * Unset = the first of PREFERRED_RUNTIMES that can run containers on this host, set at start-up:
   * runc, as dockerd (its containers' mounts are dockerd's to the letter), else crun.
   */
  defaultRuntime?: string;
  runtimes: Record<string, RuntimeEntry>;
  insecureRegistries: string[];
  /** Per-registry CA and client certificates, as docker's certs.d (`<dir>/<host:port>/`). */
  certsDir: string;
  /** Layer downloads at once per pull (dockerd's key). */
  maxConcurrentDownloads: number;
  /** Tries per blob download before a pull fails (dockerd's key). */
  maxDownloadAttempts: number;
  /** Seconds a registry may stay silent (connect, headers, between body bytes) before a request fails. */
  registryTimeout: number;
  /** Extra plugin packages (names resolvable from the plugin search paths, or absolute package dirs). */
  plugins: string[];
  /** Plugin packages the daemon must not start without. */
  requiredPlugins: string[];
  pluginConfig: Record<string, Record<string, unknown>>;
  /** Seconds a plugin's import and register() may take before it is reported failed. */
  pluginRegisterTimeout: number;
  /** Network of `docker run` without --network; unset = `bridge` when that network exists, else `none`. */
  defaultNetwork?: string;
  /** The firewall plugin network drivers use (masquerade, isolation, published ports). */
  firewallDriver: string;
  /** Driver of new networks whose create request names none; existing networks keep theirs. */
  defaultNetworkDriver: string;
  /** IPAM driver of new networks whose request names none; `default` is skiffd's own. */
  defaultIpamDriver: string;
  /** Driver of new volumes that name none (API creates, `-v name:/path`, image volumes). */
  defaultVolumeDriver: string;
  /** Linux bridge of the default `bridge` network (dockerd's `bridge` key names one); `none` = no default bridge. */
  bridge: string;
  /** Address and prefix of the default bridge (`172.26.0.1/16`). */
  bip?: string;
  /** Part of the default bridge's subnet containers get addresses from. */
  fixedCidr?: string;
  mtu?: number;
  /** Where networks without a subnet get theirs (dockerd's shape: `[{"base": "10.10.0.0/16", "size": 24}]`). */
  defaultAddressPools: { base: string; size: number }[];
  debug: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Default detach sequence of TTY attaches and execs that name none (dockerd's: ctrl-p,ctrl-q). */
  detachKeys?: string;
  /** Cluster store of multi-host networks: `etcd://host:port[,host:port]` (dockerd's key, etcd only). */
  clusterStore?: string;
  /** Address (or interface whose address) other hosts reach this one on (VXLAN tunnels). */
  clusterAdvertise?: string;
  /** dockerd's `cluster-store-opts`: `kv.cacertfile`, `kv.certfile`, `kv.keyfile`. */
  clusterStoreOpts: Record<string, string>;
}

export class ConfigError extends InvalidParameterError {}

export const DEFAULT_CONFIG_FILE = '/etc/skiff/daemon.json';

/** The default runtime when daemon.json names none: the first of these that starts. */
export const PREFERRED_RUNTIMES = ['runc', 'crun'];

/** The default runtime's name, once start-up has chosen it (see startDefaultRuntime). */
export function defaultRuntimeName(cfg: DaemonConfig): string {
  if (cfg.defaultRuntime === undefined) throw new Error('the default runtime is chosen at start-up, before it is read');
  return cfg.defaultRuntime;
}

const DEFAULTS: DaemonConfig = {
  dataRoot: '/var/lib/skiff',
  execRoot: '/run/skiff',
  hosts: ['unix:///run/skiff/skiff.sock'],
  storageOpts: [],
  // `vm` runs each container in a qemu VM when @skiff/runtime-vm loaded (qemu and its assets present).
  runtimes: { runc: { path: 'runc' }, crun: { path: 'crun' }, vm: { runtimeType: 'vm' } },
  insecureRegistries: [],
  certsDir: '/etc/skiff/certs.d',
  maxConcurrentDownloads: 3,
  maxDownloadAttempts: 5,
  registryTimeout: 30,
  plugins: [],
  requiredPlugins: [],
  pluginConfig: {},
  pluginRegisterTimeout: 10,
  allowStorageDriverSwitch: false,
  firewallDriver: 'nftables',
  defaultNetworkDriver: 'bridge',
  defaultIpamDriver: 'default',
  defaultVolumeDriver: 'local',
  bridge: 'skiff0',
  defaultAddressPools: [],
  clusterStoreOpts: {},
  debug: false,
  logLevel: 'info',
};

/** daemon.json keys (dockerd's spelling where dockerd has the key) → config fields. */
const FILE_KEYS: Record<string, keyof DaemonConfig> = {
  'data-root': 'dataRoot',
  'exec-root': 'execRoot',
  hosts: 'hosts',
  'storage-driver': 'storageDriver',
  'storage-opts': 'storageOpts',
  // Not a dockerd key: dockerd switches silently; skiffd asks for this first.
  'allow-storage-driver-switch': 'allowStorageDriverSwitch',
  'default-runtime': 'defaultRuntime',
  runtimes: 'runtimes',
  'insecure-registries': 'insecureRegistries',
  // Not a dockerd key (dockerd's certs.d path is fixed); lets tests and admins move it.
  'certs-dir': 'certsDir',
  'max-concurrent-downloads': 'maxConcurrentDownloads',
  'max-download-attempts': 'maxDownloadAttempts',
  // Not a dockerd key: dockerd's registry timeouts are fixed; this lets admins (and tests) shorten them.
  'registry-timeout': 'registryTimeout',
  plugins: 'plugins',
  'required-plugins': 'requiredPlugins',
  'plugin-config': 'pluginConfig',
  'plugin-register-timeout': 'pluginRegisterTimeout',
  'default-network': 'defaultNetwork',
  'firewall-driver': 'firewallDriver',
  // Not dockerd keys: which driver new objects get when they name none (skiff swaps drivers by config).
  'default-network-driver': 'defaultNetworkDriver',
  'default-ipam-driver': 'defaultIpamDriver',
  'default-volume-driver': 'defaultVolumeDriver',
  bridge: 'bridge',
  bip: 'bip',
  'fixed-cidr': 'fixedCidr',
  mtu: 'mtu',
  'default-address-pools': 'defaultAddressPools',
  debug: 'debug',
  'log-level': 'logLevel',
  // Not a dockerd key (dockerd's default is fixed; the docker CLI's config.json has `detachKeys`).
  'detach-keys': 'detachKeys',
  'cluster-store': 'clusterStore',
  'cluster-advertise': 'clusterAdvertise',
  'cluster-store-opts': 'clusterStoreOpts',
};

export interface CommandLine {
  configFile?: string;
  overrides: Partial<DaemonConfig>;
  help: boolean;
  version: boolean;
}

export const USAGE = `Usage: skiffd [OPTIONS]

A container engine that speaks the Docker Engine API.

Options:
      --config-file string        Daemon configuration file (default "${DEFAULT_CONFIG_FILE}")
      --root, --data-root string  Root directory of persistent state (default "${DEFAULTS.dataRoot}")
      --exec-root string          Root directory for execution state (default "${DEFAULTS.execRoot}")
  -H, --host list                 Daemon socket to listen on (unix://path)
  -s, --storage-driver string     Storage driver to use (overlay, vfs, …)
      --default-runtime string    Default OCI runtime for containers (default: runc, or crun
                                  where runc cannot run containers)
      --insecure-registry list    Registry to reach over plain HTTP (127.0.0.0/8 always is)
      --plugin list               Extra plugin package to load
      --cluster-store string      Cluster store of overlay networks (etcd://host:port[,host:port])
      --cluster-advertise string  Address or interface other hosts reach this one on
  -D, --debug                     Enable debug mode
  -l, --log-level string          debug, info, warn or error (default "info")
  -v, --version                   Print version information and quit
  -h, --help                      Print usage`;

export function parseCommandLine(argv: string[]): CommandLine {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'config-file': { type: 'string' },
        root: { type: 'string' },
        'data-root': { type: 'string' },
        'exec-root': { type: 'string' },
        host: { type: 'string', short: 'H', multiple: true },
        'storage-driver': { type: 'string', short: 's' },
        'default-runtime': { type: 'string' },
        'insecure-registry': { type: 'string', multiple: true },
        plugin: { type: 'string', multiple: true },
        'cluster-store': { type: 'string' },
        'cluster-advertise': { type: 'string' },
        debug: { type: 'boolean', short: 'D' },
        'log-level': { type: 'string', short: 'l' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const o: Partial<DaemonConfig> = {};
  const root = (values['data-root'] ?? values.root) as string | undefined;
  if (root) o.dataRoot = root;
  if (values['exec-root']) o.execRoot = values['exec-root'] as string;
  if (values.host) o.hosts = values.host as string[];
  if (values['storage-driver']) o.storageDriver = values['storage-driver'] as string;
  if (values['default-runtime']) o.defaultRuntime = values['default-runtime'] as string;
  if (values['insecure-registry']) o.insecureRegistries = values['insecure-registry'] as string[];
  if (values.plugin) o.plugins = values.plugin as string[];
  if (values['cluster-store']) o.clusterStore = values['cluster-store'] as string;
  if (values['cluster-advertise']) o.clusterAdvertise = values['cluster-advertise'] as string;
  if (values.debug) o.debug = true;
  if (values['log-level']) o.logLevel = values['log-level'] as DaemonConfig['logLevel'];
  return {
    configFile: values['config-file'] as string | undefined,
    overrides: o,
    help: values.help === true,
    version: values.version === true,
  };
}

/** Parses daemon.json text; unknown keys are an error, as in dockerd. */
export function parseConfigFile(text: string, file: string): Partial<DaemonConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`unable to configure the skiff daemon with file ${file}: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`unable to configure the skiff daemon with file ${file}: the top level must be an object`);
  }
  const unknown = Object.keys(raw).filter((k) => !(k in FILE_KEYS));
  if (unknown.length > 0) {
    throw new ConfigError(
      `unable to configure the skiff daemon with file ${file}: the following directives don't match any configuration option: ${unknown.join(', ')}`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) out[FILE_KEYS[k]!] = v;
  return out as Partial<DaemonConfig>;
}

function check(cfg: DaemonConfig): DaemonConfig {
  const str = (k: keyof DaemonConfig) => {
    if (typeof cfg[k] !== 'string' || (cfg[k] as string) === '')
      throw new ConfigError(`${k} must be a non-empty string`);
  };
  const list = (k: keyof DaemonConfig) => {
    const v = cfg[k];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
      throw new ConfigError(`${k} must be a list of strings`);
  };
  str('dataRoot');
  str('execRoot');
  if (cfg.defaultRuntime !== undefined) str('defaultRuntime');
  if (cfg.defaultNetwork !== undefined) str('defaultNetwork');
  str('firewallDriver');
  str('defaultNetworkDriver');
  str('defaultIpamDriver');
  str('defaultVolumeDriver');
  str('bridge');
  if (cfg.bip !== undefined) str('bip');
  if (cfg.fixedCidr !== undefined) str('fixedCidr');
  if (cfg.mtu !== undefined && (!Number.isSafeInteger(cfg.mtu) || cfg.mtu < 68 || cfg.mtu > 65535))
    throw new ConfigError(`mtu must be an integer from 68 to 65535 (got ${JSON.stringify(cfg.mtu)})`);
  if (
    !Array.isArray(cfg.defaultAddressPools) ||
    cfg.defaultAddressPools.some(
      (p) => !p || typeof p !== 'object' || typeof p.base !== 'string' || !Number.isInteger(p.size),
    )
  )
    throw new ConfigError('default-address-pools must be a list of {"base": "<cidr>", "size": <prefix length>}');
  str('certsDir');
  const count = (
    k: 'maxConcurrentDownloads' | 'maxDownloadAttempts' | 'registryTimeout' | 'pluginRegisterTimeout',
    max: number,
  ) => {
    const v = cfg[k];
    if (!Number.isSafeInteger(v) || v < 1 || v > max) {
      throw new ConfigError(`${k} must be an integer from 1 to ${max} (got ${JSON.stringify(v)})`);
    }
  };
  count('maxConcurrentDownloads', 64);
  count('maxDownloadAttempts', 100);
  count('registryTimeout', 3600);
  count('pluginRegisterTimeout', 3600);
  for (const k of ['hosts', 'storageOpts', 'insecureRegistries', 'plugins', 'requiredPlugins'] as const) list(k);
  if (cfg.storageDriver !== undefined) str('storageDriver');
  if (typeof cfg.allowStorageDriverSwitch !== 'boolean')
    throw new ConfigError(
      `allow-storage-driver-switch must be true or false (got ${JSON.stringify(cfg.allowStorageDriverSwitch)})`,
    );
  if (cfg.detachKeys !== undefined) {
    str('detachKeys');
    try {
      parseDetachKeys(cfg.detachKeys);
    } catch (err) {
      throw new ConfigError(`detach-keys ${JSON.stringify(cfg.detachKeys)}: ${(err as Error).message}`);
    }
  }
  checkCluster(cfg);
  if (!['debug', 'info', 'warn', 'error'].includes(cfg.logLevel)) {
    throw new ConfigError(`log-level must be one of debug, info, warn, error (got ${JSON.stringify(cfg.logLevel)})`);
  }
  for (const h of cfg.hosts) {
    if (!h.startsWith('unix://')) throw new ConfigError(`unsupported host ${h}: only unix:// sockets are served`);
  }
  if (cfg.defaultRuntime !== undefined && !cfg.runtimes[cfg.defaultRuntime]) {
    throw new ConfigError(
      `default runtime ${cfg.defaultRuntime} is not among the configured runtimes: ${Object.keys(cfg.runtimes).join(', ')}`,
    );
  }
  return cfg;
}

/** Defaults ← config file ← command-line flags. A missing default file is fine; a missing named one is not. */
export async function loadConfig(cl: CommandLine): Promise<DaemonConfig> {
  const file = cl.configFile ?? DEFAULT_CONFIG_FILE;
  let fromFile: Partial<DaemonConfig> = {};
  try {
    fromFile = parseConfigFile(await readFile(file, 'utf8'), file);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || cl.configFile) {
      throw err instanceof ConfigError
        ? err
        : new ConfigError(`unable to read config file ${file}: ${(err as Error).message}`);
    }
  }
  const merged = { ...DEFAULTS, ...fromFile, ...cl.overrides } as DaemonConfig;
  merged.runtimes = { ...DEFAULTS.runtimes, ...fromFile.runtimes };
  if (fromFile.insecureRegistries && cl.overrides.insecureRegistries) {
    merged.insecureRegistries = [...fromFile.insecureRegistries, ...cl.overrides.insecureRegistries];
  }
  if (fromFile.plugins && cl.overrides.plugins) merged.plugins = [...fromFile.plugins, ...cl.overrides.plugins];
  if (fromFile.debug && !cl.overrides.logLevel) merged.logLevel = 'debug';
  if (cl.overrides.debug) merged.logLevel = 'debug';
  return check(merged);
}

const CLUSTER_STORE_OPTS = ['kv.cacertfile', 'kv.certfile', 'kv.keyfile'];

function checkCluster(cfg: DaemonConfig): void {
  if (cfg.clusterStore !== undefined) {
    if (typeof cfg.clusterStore !== 'string' || !/^etcds?:\/\/[^/]+\/?$/.test(cfg.clusterStore))
      throw new ConfigError(
        `cluster-store must be etcd://host:port[,host:port] (got ${JSON.stringify(cfg.clusterStore)}); only etcd is supported`,
      );
    if (!cfg.clusterAdvertise) throw new ConfigError('cluster-store needs cluster-advertise (an address or interface)');
  }
  if (cfg.clusterAdvertise !== undefined) {
    if (typeof cfg.clusterAdvertise !== 'string' || !/^[A-Za-z0-9.:_@-]+$/.test(cfg.clusterAdvertise))
      throw new ConfigError(`cluster-advertise must be an address or an interface name`);
    if (!cfg.clusterStore) throw new ConfigError('cluster-advertise needs cluster-store');
  }
  const o = cfg.clusterStoreOpts;
  if (!o || typeof o !== 'object' || Array.isArray(o) || Object.values(o).some((v) => typeof v !== 'string'))
    throw new ConfigError('cluster-store-opts must be an object of strings');
  const unknown = Object.keys(o).filter((k) => !CLUSTER_STORE_OPTS.includes(k));
  if (unknown.length) throw new ConfigError(`unknown cluster-store-opts: ${unknown.join(', ')}`);
}
