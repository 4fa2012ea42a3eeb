// What `GET /skiff/v1/plugins` reports: every requested plugin package with its outcome, and the
// capabilities of the drivers it provides that the daemon has started.

import type { PluginKind } from '../plugin-api/tokens.js';
import type { DriverRegistry } from './driver-registry.js';
import type { PluginStatus } from './plugin-loader.js';
import { locatePackage, readPluginPackage } from './plugin-package.js';

export interface PluginReportEntry {
  Package: string;
  Kind: PluginKind | '';
  Name: string;
  Version: string;
  State: PluginStatus['state'];
  /** Why the plugin was skipped or failed; empty when loaded. */
  Reason: string;
  /** The driver reports these once started; null while it has not been (drivers start lazily). */
  Capabilities: Record<string, unknown> | null;
}

function capabilitiesOf(instance: unknown): Record<string, unknown> | null {
  const caps = (instance as { capabilities?: unknown } | null)?.capabilities;
  if (typeof caps !== 'function') return null;
  try {
    const value = (caps as () => unknown).call(instance);
    return value && typeof value === 'object' ? { ...(value as Record<string, unknown>) } : null;
  } catch {
    return null;
  }
}

/** Kind, name and version of a package that did not load, from its package.json (no code run). */
async function describeUnloaded(
  spec: string,
  searchPaths: string[],
): Promise<{ kind: PluginKind | ''; name: string; version: string }> {
  const dir = locatePackage(spec, searchPaths);
  if (!dir) return { kind: '', name: '', version: '' };
  try {
    const pkg = await readPluginPackage(spec, dir);
    return { kind: pkg.field.kind, name: pkg.field.name, version: pkg.version };
  } catch {
    return { kind: '', name: '', version: '' };
  }
}

export async function pluginReport(
  status: readonly PluginStatus[],
  drivers: DriverRegistry,
  searchPaths: string[],
): Promise<PluginReportEntry[]> {
  return Promise.all(
    status.map(async (s): Promise<PluginReportEntry> => {
      if (s.state === 'loaded') {
        const { field, packageName, version } = s.pkg;
        const instances = await drivers.startedInstances(field.kind, field.name);
        const caps = instances.map(capabilitiesOf).find((c) => c !== null) ?? null;
        // A driver whose factory failed later is disabled: failed, unless other instances run.
        const failures = [...drivers.failures(field.kind, field.name)];
        const reason = failures.map(([inst, err]) => (inst === field.name ? '' : `${inst}: `) + err.message).join('; ');
        return {
          Package: packageName,
          Kind: field.kind,
          Name: field.name,
          Version: version,
          State: failures.length && !instances.length ? 'failed' : 'loaded',
          Reason: reason,
          Capabilities: caps,
        };
      }
      const d = await describeUnloaded(s.spec, searchPaths);
      return {
        Package: s.packageName,
        Kind: d.kind,
        Name: d.name,
        Version: d.version,
        State: s.state,
        Reason: s.reason,
        Capabilities: null,
      };
    }),
  );
}
