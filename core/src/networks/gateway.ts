import type { DefaultRoutes } from '../host/netlink.js';
import type { AttachResult } from '../plugin-api/network-driver.js';

/** A live endpoint of a container, for choosing its default gateway. */
export interface GatewayCandidate {
  network: string;
  ifName: string;
  result: AttachResult;
}

/** The default routes an endpoint's driver gave it (internal networks have none). */
export function defaultRoutesOf(e: GatewayCandidate): DefaultRoutes {
  const gw = (dst: string) => e.result.routes.find((r) => r.dst === dst && r.gw)?.gw;
  const [v4, v6] = [gw('default') ?? gw('0.0.0.0/0'), gw('::/0')];
  return { ...(v4 ? { v4: { gw: v4, dev: e.ifName } } : {}), ...(v6 ? { v6: { gw: v6, dev: e.ifName } } : {}) };
}

/**
 * The endpoint whose gateways are a container's default routes when it is on several networks, as
 * dockerd picks it (libnetwork's endpoint order): one with both an IPv4 and an IPv6 gateway before
 * one with either, then the network whose name sorts first — not the order they were connected in.
 */
export function gatewayEndpoint<T extends GatewayCandidate>(endpoints: readonly T[]): T | undefined {
  const ranked = endpoints
    .map((e) => ({ e, r: defaultRoutesOf(e) }))
    .filter(({ r }) => r.v4 || r.v6)
    .sort((a, b) => {
      const dual = Number(!!(b.r.v4 && b.r.v6)) - Number(!!(a.r.v4 && a.r.v6));
      return dual || (a.e.network < b.e.network ? -1 : a.e.network > b.e.network ? 1 : 0);
    });
  return ranked[0]?.e;
}
