// The plugin store: an npm prefix under the data root (`<data-root>/plugins/`) with its own
// package.json and node_modules, the pulled tarballs it installs from (`tarballs/`), and a state
// file (`skiff-plugins.json`) saying which installed packages are enabled.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, symlink, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile } from '../host/fs.js';
import type { PluginKind } from '../plugin-api/tokens.js';
import { runNpm } from './npm-runner.js';
import { tarballIntegrity, tarballPackageJson } from './plugin-tarball.js';

/** One installed package, as the state file keeps it. */
export interface StoredPlugin {
  package: string;
  version: string;
  /** `sha512-…` of the tarball it was installed from (npm's package-lock records the same). */
  integrity: string;
  kind: PluginKind;
  /** The driver name from its `skiff` field. */
  driver: string;
  enabled: boolean;
  /** What the user asked for (`name@1.2.0`, `/abs/path/it.tgz`). */
  spec: string;
  /** File name under `tarballs/`. */
  tarball: string;
  installedAt: string;
}

/** A tarball `npm pack` made of a spec, with what it says about itself. */
export interface PulledTarball {
  file: string;
  integrity: string;
  pkg: Record<string, unknown>;
}

const STATE = 'skiff-plugins.json';
const NPM_FLAGS = ['--ignore-scripts', '--no-audit', '--no-fund', '--legacy-peer-deps', '--loglevel=error'];

export class PluginStore {
  private state = new Map<string, StoredPlugin>();

  constructor(
    readonly dir: string,
    /** Linked as node_modules/@skiff/core so plugins import the host's own copy (their peerDependency). */
    private readonly hostCoreDir: string,
  ) {}

  get nodeModules(): string {
    return join(this.dir, 'node_modules');
  }

  get tarballs(): string {
    return join(this.dir, 'tarballs');
  }

  packageDir(name: string): string {
    return join(this.nodeModules, ...name.split('/'));
  }

  /** Creates the prefix if needed and reads the state file (a missing one is an empty store). */
  async open(): Promise<void> {
    await mkdir(this.tarballs, { recursive: true, mode: 0o700 });
    const pj = join(this.dir, 'package.json');
    if (!existsSync(pj)) {
      await atomicWriteFile(
        pj,
        `${JSON.stringify({ name: 'skiff-plugin-store', private: true, description: 'managed by skiffd' }, null, 2)}\n`,
      );
    }
    const file = join(this.dir, STATE);
    const text = await readFile(file, 'utf8').catch(() => '');
    let list: StoredPlugin[] = [];
    try {
      if (text) list = (JSON.parse(text) as { plugins?: StoredPlugin[] }).plugins ?? [];
      if (!Array.isArray(list)) throw new Error('"plugins" is not a list');
    } catch (err) {
      throw new Error(`plugin store state ${file} is unreadable: ${(err as Error).message}`, { cause: err });
    }
    this.state = new Map(list.map((p) => [p.package, p]));
    // Pulls interrupted by a crash, and tarballs no installed package came from.
    const kept = new Set(list.map((p) => p.tarball));
    for (const f of await readdir(this.tarballs)) {
      if (!kept.has(f)) await rm(join(this.tarballs, f), { recursive: true, force: true });
    }
    await this.linkHost();
  }

  list(): StoredPlugin[] {
    return [...this.state.values()];
  }

  get(name: string): StoredPlugin | undefined {
    return this.state.get(name);
  }

  async put(entry: StoredPlugin): Promise<void> {
    this.state.set(entry.package, entry);
    await this.save();
  }

  async delete(name: string): Promise<void> {
    this.state.delete(name);
    await this.save();
  }

  private async save(): Promise<void> {
    const plugins = [...this.state.values()].sort((a, b) => a.package.localeCompare(b.package));
    await atomicWriteFile(join(this.dir, STATE), `${JSON.stringify({ plugins }, null, 2)}\n`);
  }

  /**
   * `npm pack <spec>` (no lifecycle scripts run) into `tarballs/`, named by content. npm fetches
   * registry names, and packs directories and tarballs it is given.
   */
  async pack(spec: string): Promise<PulledTarball> {
    const tmp = join(this.tarballs, `.pull-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp, { mode: 0o700 });
    try {
      await runNpm(['pack', spec, '--pack-destination', tmp, ...NPM_FLAGS], { cwd: tmp });
      const files = (await readdir(tmp)).filter((f) => f.endsWith('.tgz'));
      if (files.length !== 1) throw new Error(`npm pack left ${files.length} tarballs`);
      const made = join(tmp, files[0]!);
      const integrity = await tarballIntegrity(made);
      const pkg = await tarballPackageJson(made);
      const hex = Buffer.from(integrity.slice('sha512-'.length), 'base64').toString('hex').slice(0, 24);
      const file = join(this.tarballs, `${hex}.tgz`);
      await rename(made, file);
      return { file, integrity, pkg };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Installs (or replaces) a package from a tarball made by `pack`. */
  async install(tarball: string): Promise<void> {
    try {
      await runNpm(['install', '--prefix', this.dir, ...NPM_FLAGS, tarball], { cwd: this.dir });
    } finally {
      await this.linkHost();
    }
  }

  async uninstall(name: string): Promise<void> {
    try {
      await runNpm(['uninstall', '--prefix', this.dir, ...NPM_FLAGS, name], { cwd: this.dir });
    } finally {
      await this.linkHost();
    }
  }

  /** The integrity npm recorded in the prefix's package-lock.json for an installed package. */
  async lockIntegrity(name: string): Promise<string | undefined> {
    const text = await readFile(join(this.dir, 'package-lock.json'), 'utf8').catch(() => '');
    if (!text) return undefined;
    const lock = JSON.parse(text) as { packages?: Record<string, { integrity?: string }> };
    return lock.packages?.[`node_modules/${name}`]?.integrity;
  }

  async removeTarball(file: string): Promise<void> {
    if (!file || file.includes('/')) return;
    const inUse = this.list().some((p) => p.tarball === file);
    if (!inUse) await rm(join(this.tarballs, file), { force: true });
  }

  /** npm prunes what its lock does not list, so the link is made again after every npm run. */
  private async linkHost(): Promise<void> {
    const link = join(this.nodeModules, '@skiff', 'core');
    const st = await lstat(link).catch(() => undefined);
    if (st) return;
    await mkdir(join(this.nodeModules, '@skiff'), { recursive: true });
    await symlink(this.hostCoreDir, link, 'dir');
  }
}
