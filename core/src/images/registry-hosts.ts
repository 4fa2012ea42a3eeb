import { BlockList, isIP } from 'node:net';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** Where Docker Hub's Distribution API really lives. */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';

/** The host[:port] to contact for a reference's domain (`docker.io` → `registry-1.docker.io`). */
export function registryHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? DOCKER_HUB_REGISTRY : domain;
}

/** Splits `host[:port]`, `[v6]:port` into the bare hostname (no brackets) and port. */
export function splitHostPort(hostPort: string): { hostname: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (v6) return { hostname: v6[1]!, ...(v6[2] ? { port: Number(v6[2]) } : {}) };
  const i = hostPort.lastIndexOf(':');
  if (i > 0 && hostPort.indexOf(':') === i && /^\d+$/.test(hostPort.slice(i + 1))) {
    return { hostname: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
  }
  return { hostname: hostPort };
}

/**
 * Decides which registries may be reached over plain HTTP or unverified TLS, like dockerd's
 * `insecure-registries`: entries are exact `host[:port]` names or CIDRs; 127.0.0.0/8, ::1 and
 * localhost are always insecure. CIDRs match IP-literal hosts only (no DNS lookups here).
 */
export class InsecureRegistryPolicy {
  private readonly names = new Set<string>();
  private readonly cidrs = new BlockList();

  constructor(entries: readonly string[] = []) {
    this.cidrs.addSubnet('127.0.0.0', 8, 'ipv4');
    this.cidrs.addSubnet('::1', 128, 'ipv6');
    for (const raw of entries) this.add(raw);
  }

  private add(raw: string): void {
    const entry = typeof raw === 'string' ? raw.trim() : '';
    if (entry === '') throw new InvalidParameterError('insecure registry entry must not be empty');
    if (entry.includes('://')) throw new InvalidParameterError(`insecure registry ${entry} should not contain '://'`);
    const slash = entry.indexOf('/');
    if (slash === -1) {
      this.names.add(entry.toLowerCase());
      return;
    }
    const address = entry.slice(0, slash);
    const prefixText = entry.slice(slash + 1);
    const family = isIP(address);
    const prefix = Number(prefixText);
    if (family === 0 || !/^\d+$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) {
      throw new InvalidParameterError(`insecure registry ${entry} is not a valid CIDR`);
    }
    this.cidrs.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }

  isInsecure(hostPort: string): boolean {
    const lower = hostPort.toLowerCase();
    if (this.names.has(lower)) return true;
    const { hostname } = splitHostPort(lower);
    if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
    const family = isIP(hostname);
    if (family === 0) return false;
    return this.cidrs.check(hostname, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** Schemes to try, in order: HTTPS always first; plain HTTP only as an insecure fallback. */
  schemes(hostPort: string): Array<'https' | 'http'> {
    return this.isInsecure(hostPort) ? ['https', 'http'] : ['https'];
  }
}
