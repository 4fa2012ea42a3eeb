import type { HostConfig } from './container-types.js';
import { parseSecurityOpt } from './host-options.js';
import { detectHostFacts, MASKED_PATHS, READONLY_PATHS } from './oci-spec.js';

// What dockerd settles in a new container's config at create (moby daemon/create.go, commit.go
// merge, daemon_unix.go adaptContainerSettings), so that inspect shows what dockerd's does.
// test/src/e2e/dockerd-compare.test.ts compares the result with a live dockerd.

const envKey = (e: string) => e.split('=', 1)[0]!;

/** The request's variables first, then the image's that the request does not set (moby's merge). */
export function mergeEnv(image: readonly string[], request: readonly string[]): string[] {
  const set = new Set(request.map(envKey));
  return [...request, ...image.filter((e) => !set.has(envKey(e)))];
}

/** `Volumes` / `ExposedPorts`: the image's when the request has none, else both; null when neither has any. */
export function mergeSet(
  request: Record<string, object> | null | undefined,
  image: Record<string, object> | null | undefined,
): Record<string, object> | null {
  const merged = { ...image, ...request };
  return Object.keys(merged).length > 0 ? merged : null;
}

const isEmpty = (v: unknown) =>
  v === null ||
  v === undefined ||
  (Array.isArray(v) ? v.length === 0 : typeof v === 'object' && !Object.keys(v).length);

/**
 * Fills in the HostConfig defaults dockerd records at create and drops the empty fields its JSON
 * omits (`Init`, `Sysctls`, `Tmpfs` are omitempty; an empty `SecurityOpt` and a `MemorySwappiness`
 * of -1, "unset" for the CLI, are null).
 */
export function settleHostConfig(hc: HostConfig, runtime: string): void {
  const host = detectHostFacts();
  hc.Runtime = runtime;
  // A private cgroup namespace only on cgroup v2 (oci-spec adds it there, privileged or not).
  if (!hc.CgroupnsMode) hc.CgroupnsMode = host.cgroupV2 ? 'private' : 'host';
  if (hc.MemorySwappiness === -1) hc.MemorySwappiness = null;
  const secOpts = (hc.SecurityOpt as string[] | null | undefined) ?? [];
  // moby generateSecurityOpt: no SELinux label for what shares the host's pid or ipc namespace.
  const sharesHost = hc.Privileged || hc.IpcMode === 'host' || hc.PidMode === 'host';
  if (sharesHost && !secOpts.some((o) => /^label[=:]/.test(o))) hc.SecurityOpt = [...secOpts, 'label=disable'];
  else if (secOpts.length === 0) hc.SecurityOpt = null;
  for (const k of ['Init', 'Sysctls', 'Tmpfs'] as const) if (isEmpty(hc[k])) delete hc[k];
  // The paths oci-spec masks and makes read-only, unless privileged or `systempaths=unconfined`.
  const unmasked = hc.Privileged || parseSecurityOpt((hc.SecurityOpt as string[] | null) ?? []).unmaskSystemPaths;
  if (!unmasked) {
    hc.MaskedPaths ??= [...MASKED_PATHS, ...host.thermalThrottlePaths];
    hc.ReadonlyPaths ??= [...READONLY_PATHS];
  }
}
