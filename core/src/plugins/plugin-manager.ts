// Installs, enables, disables, upgrades and removes store plugins (skiff plugin …, the native
// /skiff/v1/plugins routes). Enabling loads the plugin into the running daemon at once; disabling
// drops its driver at once (refused while anything uses it); an upgrade replaces the files, but a
// package already imported by this process keeps running its old code until skiffd restarts.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, InvalidParameterError, NotFoundError, PluginSkipError } from '../plugin-api/errors.js';
import type { PluginKind } from '../plugin-api/tokens.js';
import type { DriverRegistry } from './driver-registry.js';
import { checkHostRange } from './host-compat.js';
import { loadPlugin, type PluginHost, type PluginStatus } from './plugin-loader.js';
import { type PluginPackage, PluginLoadError, parsePluginPackage, readPluginPackage } from './plugin-package.js';
import { type PluginReportEntry, pluginReport } from './plugin-report.js';
import type { PluginStore, PulledTarball, StoredPlugin } from './plugin-store.js';

/** What a user confirms before installing: nothing of the package has run yet. */
export interface PluginPreview {
  Package: string;
  Version: string;
  Integrity: string;
  Kind: PluginKind;
  /** The driver name (its `skiff.name`). */
  Name: string;
  /** The @skiff/core versions it declares it works with. */
  HostRange: string;
  Spec: string;
}

/** `pending`: enabled, but loads only when skiffd restarts (this process already imported another version). */
export type PluginState = PluginStatus['state'] | 'disabled' | 'pending';

/** One entry of GET /skiff/v1/plugins (the loader's report plus where it came from). */
export interface PluginListEntry extends Omit<PluginReportEntry, 'State'> {
  State: PluginState;
  /** `builtin`: first-party, found next to skiffd; `config`: named in daemon.json; `store`: installed with skiff plugin install. */
  Source: 'builtin' | 'config' | 'store';
  Enabled: boolean;
  Integrity: string;
}

/** GET /skiff/v1/plugins/{name} and the result of every change. */
export interface PluginInfo extends PluginListEntry {
  Spec: string;
  InstalledAt: string;
  /** The running daemon still runs other code than what is installed (an upgrade of an imported package). */
  RestartRequired: boolean;
  /** One line about what happened, for the CLI to print. */
  Message: string;
}

export interface PluginManagerDeps {
  store: PluginStore;
  registry: DriverRegistry;
  host: PluginHost;
  /** The loader's outcomes at start-up (first-party, config and enabled store packages). */
  status: readonly PluginStatus[];
  /** Search paths of first-party and config plugins (for their report). */
  searchPaths: string[];
  /** Config-named plugin specs (so the report can tell them from first-party ones). */
  configSpecs: ReadonlySet<string>;
  /** What uses a driver; non-empty blocks disable and removal. */
  usersOf(kind: PluginKind, name: string): string[];
}

/** A spec npm may take: no option injection, no relative paths (the daemon's cwd is not the client's). */
export function checkSpec(spec: unknown): string {
  if (typeof spec !== 'string' || spec.trim() === '') throw new InvalidParameterError('spec is required');
  if (spec.length > 1024 || [...spec].some((c) => c < ' ' || c === '\x7f')) {
    throw new InvalidParameterError('invalid spec');
  }
  if (spec.startsWith('-')) throw new InvalidParameterError(`invalid spec ${JSON.stringify(spec)}`);
  if (/^\.\.?(\/|$)/.test(spec)) {
    throw new InvalidParameterError(`relative path ${JSON.stringify(spec)}: give the daemon an absolute path`);
  }
  return spec;
}

function statusName(s: PluginStatus): string {
  return s.state === 'loaded' ? s.pkg.packageName : s.packageName;
}

const RESTART_NOTE = 'it loads when skiffd restarts (this skiffd already runs another version of it)';

export class PluginManager {
  /** Outcomes of store packages, live. */
  private readonly storeStatus = new Map<string, PluginStatus>();
  private readonly builtinStatus: PluginStatus[];
  /**
   * Integrity of the version of each store package this process imported. Node keeps an imported
   * module for the life of the process, so another version of it only runs after a restart.
   */
  private readonly importedIntegrity = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: PluginManagerDeps) {
    const stored = new Set(deps.store.list().map((p) => p.package));
    this.builtinStatus = [];
    for (const s of deps.status) {
      if (stored.has(s.spec) || stored.has(statusName(s))) {
        this.storeStatus.set(s.spec, s);
        this.importedIntegrity.set(s.spec, deps.store.get(s.spec)?.integrity ?? '');
      } else this.builtinStatus.push(s);
    }
  }

  /** Changes run one at a time (npm shares one prefix). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Packs `spec` and validates its manifest; nothing is installed or run. */
  async pull(spec: unknown): Promise<PluginPreview> {
    const s = checkSpec(spec);
    return this.serial(async () => {
      const { preview, tarball } = await this.pullChecked(s);
      // install packs the spec again (and compares); nothing is kept from a preview.
      await this.deps.store.removeTarball(tarball.file.split('/').pop()!);
      return preview;
    });
  }

  private async pullChecked(spec: string): Promise<{ preview: PluginPreview; tarball: PulledTarball }> {
    const { store } = this.deps;
    const tarball = await store.pack(spec);
    try {
      const name = typeof tarball.pkg.name === 'string' ? tarball.pkg.name : spec;
      let parsed: PluginPackage;
      let range: string;
      try {
        parsed = parsePluginPackage(name, tarball.pkg, '');
        range = checkHostRange(parsed.packageName, tarball.pkg);
      } catch (err) {
        if (err instanceof PluginLoadError) throw new InvalidParameterError(`refused: ${err.message}`);
        throw err;
      }
      return {
        tarball,
        preview: {
          Package: parsed.packageName,
          Version: parsed.version,
          Integrity: tarball.integrity,
          Kind: parsed.field.kind,
          Name: parsed.field.name,
          HostRange: range,
          Spec: spec,
        },
      };
    } catch (err) {
      await store.removeTarball(tarball.file.split('/').pop()!);
      throw err;
    }
  }

  /** Installs `spec` if it still is what the user confirmed (`integrity` from pull), and enables it. */
  async install(spec: unknown, integrity: unknown): Promise<PluginInfo> {
    const s = checkSpec(spec);
    if (typeof integrity !== 'string' || !integrity) {
      throw new InvalidParameterError('integrity is required: pull the spec first and confirm what it shows');
    }
    return this.serial(async () => {
      const { preview, tarball } = await this.pullChecked(s);
      const tarName = tarball.file.split('/').pop()!;
      const refuse = async (err: Error) => {
        await this.deps.store.removeTarball(tarName);
        return err;
      };
      if (preview.Integrity !== integrity) {
        throw await refuse(
          new ConflictError(
            `${preview.Package}@${preview.Version} changed since it was shown: integrity is now ${preview.Integrity}, not ${integrity}`,
          ),
        );
      }
      if (this.deps.store.get(preview.Package)) {
        throw await refuse(
          new ConflictError(`plugin ${preview.Package} is already installed (use upgrade to change its version)`),
        );
      }
      try {
        this.checkNoClash(preview);
      } catch (err) {
        throw await refuse(err as Error);
      }
      await this.installTarball(preview, tarball);
      const entry: StoredPlugin = {
        package: preview.Package,
        version: preview.Version,
        integrity: preview.Integrity,
        kind: preview.Kind,
        driver: preview.Name,
        enabled: true,
        spec: s,
        tarball: tarName,
        installedAt: new Date().toISOString(),
      };
      await this.deps.store.put(entry);
      const status = await this.load(entry);
      if (status === 'pending') {
        return this.info(entry.package, `installed ${entry.package}@${entry.version}; ${RESTART_NOTE}`);
      }
      if (status.state !== 'loaded') {
        // Reported, and left disabled so the next start does not try it again.
        await this.deps.store.put({ ...entry, enabled: false });
        return this.info(
          entry.package,
          `installed ${entry.package}@${entry.version} but it did not load: ${status.reason}`,
        );
      }
      return this.info(entry.package, `installed and enabled ${entry.package}@${entry.version}`);
    });
  }

  /** Another package already provides this kind/name, or the name is a built-in plugin's. */
  private checkNoClash(p: PluginPreview, replacing?: string): void {
    if (this.builtinStatus.some((s) => statusName(s) === p.Package || s.spec === p.Package)) {
      throw new ConflictError(`plugin ${p.Package} is built in or named in the daemon config; it cannot be installed`);
    }
    const owner = this.deps.registry.packageOf(p.Kind, p.Name);
    if (owner && owner !== p.Package && owner !== replacing) {
      throw new ConflictError(`a ${p.Kind} driver named "${p.Name}" is already provided by ${owner}`);
    }
    const other = this.deps.store
      .list()
      .find((e) => e.kind === p.Kind && e.driver === p.Name && e.package !== p.Package);
    if (other) throw new ConflictError(`a ${p.Kind} driver named "${p.Name}" is already installed by ${other.package}`);
  }

  /** npm install, then the installed files are checked again (never trusted from the preview alone). */
  private async installTarball(preview: PluginPreview, tarball: PulledTarball): Promise<void> {
    const { store } = this.deps;
    await store.install(tarball.file);
    try {
      const dir = store.packageDir(preview.Package);
      const pkg = await readPluginPackage(preview.Package, dir);
      const json = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
      checkHostRange(pkg.packageName, json);
      const locked = await store.lockIntegrity(preview.Package);
      if (locked !== undefined && locked !== preview.Integrity) {
        throw new PluginLoadError(preview.Package, `npm installed integrity ${locked}, not ${preview.Integrity}`);
      }
      if (pkg.field.kind !== preview.Kind || pkg.field.name !== preview.Name || pkg.version !== preview.Version) {
        throw new PluginLoadError(preview.Package, 'the installed package is not the one that was shown');
      }
    } catch (err) {
      await store.uninstall(preview.Package).catch(() => {});
      await store.removeTarball(tarball.file.split('/').pop()!);
      if (err instanceof PluginLoadError) throw new InvalidParameterError(`refused: ${err.message}`);
      throw err;
    }
  }

  private staleImport(entry: StoredPlugin): boolean {
    const imported = this.importedIntegrity.get(entry.package);
    return imported !== undefined && imported !== entry.integrity;
  }

  /** Imports and registers an installed store package now; records the outcome. `pending`: only after a restart. */
  private async load(entry: StoredPlugin): Promise<PluginStatus | 'pending'> {
    const { store, registry, host } = this.deps;
    if (this.staleImport(entry)) return 'pending';
    let status: PluginStatus;
    try {
      const pkg = await readPluginPackage(entry.package, store.packageDir(entry.package));
      this.importedIntegrity.set(entry.package, entry.integrity);
      await loadPlugin(pkg, registry, host);
      status = { state: 'loaded', spec: entry.package, pkg };
    } catch (err) {
      if (err instanceof PluginSkipError) {
        status = { state: 'skipped', spec: entry.package, packageName: entry.package, reason: err.message };
      } else {
        const reason = err instanceof PluginLoadError ? err.reason : ((err as Error)?.message ?? String(err));
        status = { state: 'failed', spec: entry.package, packageName: entry.package, reason };
      }
      this.deps.host.log.error(`plugin ${entry.package}: ${status.reason}`);
    }
    this.storeStatus.set(entry.package, status);
    return status;
  }

  private require(name: string): StoredPlugin {
    const entry = this.deps.store.get(name);
    if (entry) return entry;
    if (this.builtinStatus.some((s) => statusName(s) === name)) {
      throw new ConflictError(`plugin ${name} is built in or named in the daemon config, not installed in the store`);
    }
    throw new NotFoundError(`plugin ${name} is not installed`);
  }

  /** Refuses (409) while the driver of a loaded store plugin is in use. */
  private checkUnused(entry: StoredPlugin, action: string): void {
    if (this.storeStatus.get(entry.package)?.state !== 'loaded') return;
    const users = this.deps.usersOf(entry.kind, entry.driver);
    if (users.length) {
      throw new ConflictError(
        `cannot ${action} plugin ${entry.package}: its ${entry.kind} driver "${entry.driver}" is in use (${users.join(', ')})`,
      );
    }
  }

  /** Drops a loaded store plugin's driver from the running daemon. */
  private async unload(entry: StoredPlugin): Promise<void> {
    if (this.storeStatus.get(entry.package)?.state === 'loaded') {
      const dropped = this.deps.registry.remove(entry.kind, entry.driver);
      const settled = await Promise.allSettled(dropped);
      for (const s of settled) {
        const inst = s.status === 'fulfilled' ? (s.value as { close?: () => Promise<void> }) : undefined;
        await inst?.close?.().catch(() => {});
      }
    }
    this.storeStatus.delete(entry.package);
  }

  enable(name: string): Promise<PluginInfo> {
    return this.serial(async () => {
      const entry = this.require(name);
      if (entry.enabled && this.storeStatus.get(name)?.state === 'loaded') {
        return this.info(name, `${name} is already enabled`);
      }
      this.checkNoClash(this.previewOf(entry));
      const status = await this.load(entry);
      if (status === 'pending') {
        await this.deps.store.put({ ...entry, enabled: true });
        return this.info(name, `enabled ${name}; ${RESTART_NOTE}`);
      }
      if (status.state !== 'loaded') {
        await this.deps.store.put({ ...entry, enabled: false });
        return this.info(name, `${name} did not load: ${status.reason}`);
      }
      await this.deps.store.put({ ...entry, enabled: true });
      return this.info(name, `enabled ${name}`);
    });
  }

  disable(name: string): Promise<PluginInfo> {
    return this.serial(async () => {
      const entry = this.require(name);
      this.checkUnused(entry, 'disable');
      await this.unload(entry);
      await this.deps.store.put({ ...entry, enabled: false });
      return this.info(name, `disabled ${name}`);
    });
  }

  remove(name: string): Promise<{ Package: string; Message: string }> {
    return this.serial(async () => {
      const entry = this.require(name);
      this.checkUnused(entry, 'remove');
      await this.unload(entry);
      await this.deps.store.uninstall(name);
      await this.deps.store.delete(name);
      await this.deps.store.removeTarball(entry.tarball);
      return { Package: name, Message: `removed ${name}` };
    });
  }

  /** Replaces an installed package by `spec` (default: its name, i.e. the newest on the registry). */
  async upgrade(name: string, spec: unknown, integrity: unknown): Promise<PluginInfo> {
    const entry0 = this.require(name);
    const s = checkSpec(spec === undefined || spec === '' ? entry0.package : spec);
    return this.serial(async () => {
      const entry = this.require(name);
      const { preview, tarball } = await this.pullChecked(s);
      const tarName = tarball.file.split('/').pop()!;
      const refuse = async (err: Error) => {
        await this.deps.store.removeTarball(tarName);
        return err;
      };
      if (preview.Package !== entry.package) {
        throw await refuse(new InvalidParameterError(`${s} is ${preview.Package}, not ${entry.package}`));
      }
      if (typeof integrity === 'string' && integrity && integrity !== preview.Integrity) {
        throw await refuse(
          new ConflictError(
            `${preview.Package}@${preview.Version} changed since it was shown: integrity is now ${preview.Integrity}, not ${integrity}`,
          ),
        );
      }
      if (preview.Kind !== entry.kind || preview.Name !== entry.driver) {
        throw await refuse(
          new InvalidParameterError(
            `${preview.Package}@${preview.Version} provides ${preview.Kind}/${preview.Name}, not ${entry.kind}/${entry.driver}: remove and install it instead`,
          ),
        );
      }
      if (preview.Integrity === entry.integrity)
        return this.info(name, `${name}@${entry.version} is already installed`);
      await this.installTarball(preview, tarball);
      const next: StoredPlugin = {
        ...entry,
        version: preview.Version,
        integrity: preview.Integrity,
        spec: s,
        tarball: tarName,
        installedAt: new Date().toISOString(),
      };
      await this.deps.store.put(next);
      await this.deps.store.removeTarball(entry.tarball);
      if (this.staleImport(next)) {
        return this.info(name, `upgraded ${name} to ${preview.Version}; takes effect when skiffd restarts`);
      }
      return this.info(name, `upgraded ${name} to ${preview.Version}`);
    });
  }

  private previewOf(e: StoredPlugin): PluginPreview {
    return {
      Package: e.package,
      Version: e.version,
      Integrity: e.integrity,
      Kind: e.kind,
      Name: e.driver,
      HostRange: '',
      Spec: e.spec,
    };
  }

  private async storeEntry(e: StoredPlugin): Promise<PluginListEntry> {
    const s = this.storeStatus.get(e.package);
    let caps: Record<string, unknown> | null = null;
    if (s?.state === 'loaded') {
      const [r] = await pluginReport([s], this.deps.registry, []);
      caps = r?.Capabilities ?? null;
    }
    return {
      Package: e.package,
      Kind: e.kind,
      Name: e.driver,
      Version: e.version,
      State: s ? s.state : e.enabled ? 'pending' : 'disabled',
      Reason: s && s.state !== 'loaded' ? s.reason : '',
      Capabilities: caps,
      Source: 'store',
      Enabled: e.enabled,
      Integrity: e.integrity,
    };
  }

  /** Every plugin: built-in and config ones as the loader reported them, then the store's. */
  async list(): Promise<PluginListEntry[]> {
    const builtin = await pluginReport(this.builtinStatus, this.deps.registry, this.deps.searchPaths);
    const fromBuiltin = builtin.map((r, i): PluginListEntry => ({
      ...r,
      Source: this.deps.configSpecs.has(this.builtinStatus[i]!.spec) ? 'config' : 'builtin',
      Enabled: true,
      Integrity: '',
    }));
    const stored = await Promise.all(
      this.deps.store
        .list()
        .sort((a, b) => a.package.localeCompare(b.package))
        .map((e) => this.storeEntry(e)),
    );
    return [...fromBuiltin, ...stored];
  }

  /** One plugin by package name (or by driver name, when only one plugin has it). */
  async inspect(ref: string): Promise<PluginInfo> {
    const entry = this.deps.store.get(ref);
    if (entry) return this.info(ref, '');
    const all = await this.list();
    const byPackage = all.find((p) => p.Package === ref);
    const byName = all.filter((p) => p.Name === ref);
    const hit = byPackage ?? (byName.length === 1 ? byName[0] : undefined);
    if (!hit) {
      if (byName.length > 1) {
        throw new InvalidParameterError(`"${ref}" names several drivers: ${byName.map((p) => p.Package).join(', ')}`);
      }
      throw new NotFoundError(`plugin ${ref} not found`);
    }
    if (hit.Source === 'store') return this.info(hit.Package, '');
    return { ...hit, Spec: hit.Package, InstalledAt: '', RestartRequired: false, Message: '' };
  }

  private async info(name: string, message: string): Promise<PluginInfo> {
    const e = this.require(name);
    return {
      ...(await this.storeEntry(e)),
      Spec: e.spec,
      InstalledAt: e.installedAt,
      RestartRequired: this.staleImport(e),
      Message: message,
    };
  }
}
