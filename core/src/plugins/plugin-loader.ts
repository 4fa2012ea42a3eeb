import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginSkipError } from '../plugin-api/errors.js';
import type { Logger } from '../plugin-api/logger.js';
import type { DriverOptions, PluginManifest, PluginRegistrar } from '../plugin-api/manifest.js';
import { type PluginKind, type Token, Tokens } from '../plugin-api/tokens.js';
import type { DriverRegistry } from './driver-registry.js';
import { locatePackage, PluginLoadError, type PluginPackage, readPluginPackage } from './plugin-package.js';

export interface PluginHost {
  dataRoot: string;
  execRoot: string;
  log: Logger;
  settings(pkg: PluginPackage): Record<string, unknown>;
  /** Host services a plugin may ask for (by the `Tokens` key it lists in `requires`). */
  service<T>(token: Token<T>): T | undefined;
  /** How long importing the entry and running register() may take (default 10 s). */
  registerTimeoutMs?: number;
}

export const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;

/**
 * Rejects when `work` has not settled after `ms`. A plugin that blocks the event loop itself
 * (a synchronous endless loop) cannot be stopped this way; one that awaits forever can.
 */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The outcome for one requested package; `spec` is how it was asked for (name or directory). */
export type PluginStatus =
  | { state: 'loaded'; spec: string; pkg: PluginPackage }
  | { state: 'skipped'; spec: string; packageName: string; reason: string }
  | { state: 'failed'; spec: string; packageName: string; reason: string };

function isManifest(m: unknown): m is PluginManifest {
  const x = m as PluginManifest | undefined;
  return !!x && typeof x === 'object' && typeof x.register === 'function';
}

/** Loads one plugin package: validates its metadata, imports its entry, runs `register`. */
export async function loadPlugin(pkg: PluginPackage, registry: DriverRegistry, host: PluginHost): Promise<void> {
  const { field, packageName } = pkg;
  const timeoutMs = host.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS;
  let mod: Record<string, unknown>;
  try {
    mod = await withTimeout(import(pathToFileURL(join(pkg.dir, field.entry)).href), timeoutMs);
  } catch (err) {
    throw new PluginLoadError(packageName, `cannot import ${field.entry}: ${(err as Error).message}`);
  }
  const manifest = mod.default ?? mod.manifest;
  if (!isManifest(manifest)) {
    throw new PluginLoadError(
      packageName,
      `${field.entry} does not export a manifest with register() (default export)`,
    );
  }
  if (manifest.apiVersion !== field.apiVersion || manifest.kind !== field.kind || manifest.name !== field.name) {
    throw new PluginLoadError(
      packageName,
      `manifest (${manifest.kind}/${manifest.name}, apiVersion ${manifest.apiVersion}) disagrees with package.json (${field.kind}/${field.name}, apiVersion ${field.apiVersion})`,
    );
  }
  const allowed = new Set<symbol>((manifest.requires ?? []).map((k) => Tokens[k]).filter(Boolean));
  let provided: ((o: DriverOptions) => unknown) | undefined;
  // A register() that timed out may still call provide() later: that must not count.
  let settled = false;
  const paths = {
    root: join(host.dataRoot, 'plugins', `${field.kind}-${field.name}`),
    state: join(host.execRoot, 'plugins', `${field.kind}-${field.name}`),
  };
  const registrar: PluginRegistrar<PluginKind> = {
    name: field.name,
    kind: field.kind,
    settings: Object.freeze({ ...host.settings(pkg) }),
    log: host.log.child(`${field.kind}-${field.name}`),
    paths,
    provide(factory) {
      if (settled) throw new Error('provide() called after register() ended');
      if (provided) throw new Error('provide() called twice');
      provided = factory;
    },
    get<T>(token: Token<T>): T {
      if (!allowed.has(token)) throw new Error(`service ${String(token.description)} was not listed in requires`);
      const svc = host.service(token);
      if (svc === undefined) throw new Error(`service ${String(token.description)} is not available`);
      return svc;
    },
    skip(reason: string): never {
      throw new PluginSkipError(reason);
    },
  };
  try {
    await mkdir(paths.root, { recursive: true, mode: 0o700 });
    await mkdir(paths.state, { recursive: true, mode: 0o700 });
    await withTimeout(
      Promise.resolve().then(() => manifest.register(registrar)),
      timeoutMs,
    );
  } catch (err) {
    settled = true;
    if (err instanceof PluginSkipError) throw err;
    throw new PluginLoadError(packageName, `register() failed: ${(err as Error)?.message ?? String(err)}`);
  }
  settled = true;
  if (!provided) throw new PluginLoadError(packageName, 'register() provided no driver');
  const factory = provided;
  try {
    registry.add(field.kind, field.name, {
      packageName,
      factory: async (o) => {
        try {
          return (await factory(o)) as never;
        } catch (err) {
          throw new PluginLoadError(packageName, `driver failed to start: ${(err as Error)?.message ?? String(err)}`);
        }
      },
    });
  } catch (err) {
    throw new PluginLoadError(packageName, (err as Error).message);
  }
}

/**
 * Loads every package in `specs`. Never throws: each outcome is returned; `missingOk` specs
 * (first-party defaults) that are not installed are left out silently.
 */
export async function loadPlugins(
  specs: { spec: string; missingOk: boolean }[],
  searchPaths: string[],
  registry: DriverRegistry,
  host: PluginHost,
): Promise<PluginStatus[]> {
  const out: PluginStatus[] = [];
  const seen = new Set<string>();
  for (const { spec, missingOk } of specs) {
    if (seen.has(spec)) continue;
    seen.add(spec);
    const dir = locatePackage(spec, searchPaths);
    if (!dir) {
      if (!missingOk) out.push({ state: 'failed', spec, packageName: spec, reason: 'package not found' });
      continue;
    }
    try {
      const pkg = await readPluginPackage(spec, dir);
      await loadPlugin(pkg, registry, host);
      out.push({ state: 'loaded', spec, pkg });
    } catch (err) {
      if (err instanceof PluginSkipError) out.push({ state: 'skipped', spec, packageName: spec, reason: err.message });
      else if (err instanceof PluginLoadError)
        out.push({ state: 'failed', spec, packageName: err.packageName, reason: err.reason });
      else out.push({ state: 'failed', spec, packageName: spec, reason: (err as Error)?.message ?? String(err) });
    }
  }
  return out;
}
