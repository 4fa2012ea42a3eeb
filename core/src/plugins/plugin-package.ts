import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { PLUGIN_API_VERSION, type PluginPackageField } from '../plugin-api/manifest.js';
import { PLUGIN_KINDS, type PluginKind } from '../plugin-api/tokens.js';

/** A plugin package found on disk, described by its package.json alone (no code run). */
export interface PluginPackage {
  /** npm package name (or the directory, for a package without one). */
  packageName: string;
  version: string;
  dir: string;
  field: PluginPackageField;
}

/** Why a package cannot be loaded; the message is the one line shown to the user. */
export class PluginLoadError extends Error {
  constructor(
    readonly packageName: string,
    readonly reason: string,
  ) {
    super(`plugin ${packageName}: ${reason}`);
  }
}

/** Directories named `node_modules` from `start` up to the filesystem root. */
export function nodeModulesChain(start: string): string[] {
  const out: string[] = [];
  let d = resolve(start);
  for (;;) {
    out.push(join(d, 'node_modules'));
    const up = dirname(d);
    if (up === d) return out;
    d = up;
  }
}

/** Finds the directory of `spec` (a package name, or an absolute/relative package directory). */
export function locatePackage(spec: string, searchPaths: string[]): string | undefined {
  if (isAbsolute(spec) || spec.startsWith('.')) {
    const dir = resolve(spec);
    return existsSync(join(dir, 'package.json')) ? dir : undefined;
  }
  for (const nm of searchPaths) {
    const dir = join(nm, spec);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return undefined;
}

/** Reads and validates a plugin's package.json `skiff` field. */
export async function readPluginPackage(spec: string, dir: string): Promise<PluginPackage> {
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  } catch (err) {
    throw new PluginLoadError(spec, `unreadable package.json: ${(err as Error).message}`);
  }
  return parsePluginPackage(spec, pkg, dir);
}

/** Validates the `skiff` field of an already parsed package.json (e.g. read from a tarball). */
export function parsePluginPackage(spec: string, pkg: Record<string, unknown>, dir: string): PluginPackage {
  if (!pkg || typeof pkg !== 'object' || Array.isArray(pkg)) {
    throw new PluginLoadError(spec, 'package.json is not a JSON object');
  }
  const name = typeof pkg.name === 'string' ? pkg.name : spec;
  const field = pkg.skiff as Partial<PluginPackageField> | undefined;
  if (!field || typeof field !== 'object') throw new PluginLoadError(name, 'package.json has no "skiff" field');
  if (field.apiVersion !== PLUGIN_API_VERSION) {
    throw new PluginLoadError(
      name,
      `unsupported plugin apiVersion ${JSON.stringify(field.apiVersion)} (this skiffd speaks ${PLUGIN_API_VERSION})`,
    );
  }
  if (!PLUGIN_KINDS.includes(field.kind as PluginKind)) {
    throw new PluginLoadError(
      name,
      `unknown plugin kind ${JSON.stringify(field.kind)} (known: ${PLUGIN_KINDS.join(', ')})`,
    );
  }
  if (typeof field.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(field.name)) {
    throw new PluginLoadError(name, `invalid driver name ${JSON.stringify(field.name)}`);
  }
  if (typeof field.entry !== 'string' || isAbsolute(field.entry) || field.entry.split(/[\\/]/).includes('..')) {
    throw new PluginLoadError(name, `invalid entry ${JSON.stringify(field.entry)}: must be a path inside the package`);
  }
  return {
    packageName: name,
    version: typeof pkg.version === 'string' ? pkg.version : '0.0.0',
    dir,
    field: field as PluginPackageField,
  };
}
