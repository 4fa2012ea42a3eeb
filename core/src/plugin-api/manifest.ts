import type { Logger } from './logger.js';
import type { DriverKinds, PluginKind, Token, Tokens } from './tokens.js';

/** The plugin API major version this host speaks. */
export const PLUGIN_API_VERSION = 1;

/** The `skiff` field of a plugin's package.json: read without running any code. */
export interface PluginPackageField {
  apiVersion: number;
  kind: PluginKind;
  name: string;
  /** Module path relative to the package root, e.g. `./dist/plugin.js`. */
  entry: string;
}

/** Options the host hands a driver factory (e.g. a runtime entry of `runtimes`, parsed `storage-opts`). */
export type DriverOptions = Readonly<Record<string, unknown>>;

export interface PluginRegistrar<K extends PluginKind = PluginKind> {
  readonly name: string;
  readonly kind: K;
  /** This plugin's section of daemon.json `plugin-config`. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  /** Private directories: `root` persists (under the data root), `state` does not (under the exec root). */
  readonly paths: { readonly root: string; readonly state: string };
  /** Provides the driver; the factory runs only if the config selects this driver. */
  provide(factory: (options: DriverOptions) => DriverKinds[K] | Promise<DriverKinds[K]>): void;
  /** A host service this plugin listed in `requires`. */
  get<T>(token: Token<T>): T;
  /** Declares the plugin unsupported on this host (not a failure). */
  skip(reason: string): never;
}

export interface PluginManifest<K extends PluginKind = PluginKind> {
  apiVersion: number;
  kind: K;
  name: string;
  requires?: Array<keyof typeof Tokens>;
  register(registrar: PluginRegistrar<K>): void | Promise<void>;
}

export function definePlugin<K extends PluginKind>(manifest: PluginManifest<K>): PluginManifest<K> {
  return manifest;
}
