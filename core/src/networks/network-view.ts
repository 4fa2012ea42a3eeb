import { goMap } from '../util/go-json.js';
import type { ContainerNetworking } from './container-networking.js';
import type { NetworkRecord } from './network-store.js';

/** A network in Docker's shape (`GET /networks/{id}`; the list has no Containers, as dockerd's); maps sorted as Go writes them. */
export function networkView(n: NetworkRecord, containers?: ContainerNetworking) {
  return {
    Name: n.Name,
    Id: n.Id,
    Created: n.Created,
    Scope: n.Scope,
    Driver: n.Driver,
    EnableIPv6: n.EnableIPv6,
    IPAM: { Driver: n.IPAM.Driver, Options: goMap(n.IPAM.Options), Config: n.IPAM.Config },
    Internal: n.Internal,
    Attachable: n.Attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: goMap(containers ? containers.containersOn(n) : {}),
    Options: goMap(n.Options),
    Labels: goMap(n.Labels),
  };
}
