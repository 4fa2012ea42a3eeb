import {
  configureNetns,
  ipBatch,
  type MacvlanMode,
  macFromIPv4,
  type Netlink,
  openNetlink,
  validIfName,
} from '@skiff/core/host';
import {
  type AttachRequest,
  type AttachResult,
  ConflictError,
  InvalidParameterError,
  type IpamPool,
  type Labels,
  type Logger,
  type NetworkDriver,
  type NetworkDriverCapabilities,
  type NetworkSpec,
  NotFoundError,
} from '@skiff/core/plugin-api';

export const MODES: readonly MacvlanMode[] = ['bridge', 'private', 'vepa', 'passthru'];
const VLAN_PARENT = /^(.+)\.(\d{1,4})$/;

export interface MacvlanDriverOptions {
  /** The host namespace to work in when it is not the daemon's own (tests). */
  netns?: string;
  netlink?: Netlink;
  log?: Logger;
}

interface NetState {
  parent: string;
  mode: MacvlanMode;
  /** We created the 802.1q parent and remove it with the network. */
  createdVlan: boolean;
  gateway?: string;
}

/** The parent and mode a network asks for, validated (no side effects). */
export function parseOptions(spec: NetworkSpec): {
  parent: string;
  mode: MacvlanMode;
  vlan?: { base: string; id: number };
} {
  const parent = spec.options.parent ?? '';
  if (!parent)
    throw new InvalidParameterError('macvlan: the parent interface option is required (-o parent=<interface>)');
  if (!validIfName(parent))
    throw new InvalidParameterError(`macvlan: invalid parent interface name ${JSON.stringify(parent)}`);
  const mode = (spec.options.macvlan_mode ?? 'bridge') as MacvlanMode;
  if (!MODES.includes(mode))
    throw new InvalidParameterError(
      `macvlan: unknown macvlan_mode ${JSON.stringify(mode)} (one of ${MODES.join(', ')})`,
    );
  const m = VLAN_PARENT.exec(parent);
  if (m) {
    const id = Number(m[2]);
    if (id < 1 || id > 4094) throw new InvalidParameterError(`macvlan: invalid VLAN id ${id} in parent ${parent}`);
    return { parent, mode, vlan: { base: m[1]!, id } };
  }
  return { parent, mode };
}

/** Docker's macvlan driver: one macvlan sub-interface of a host interface per endpoint. */
export class MacvlanDriver implements NetworkDriver {
  readonly name = 'macvlan';
  private readonly nl: Netlink;
  private readonly nets = new Map<string, NetState>();

  constructor(private readonly opts: MacvlanDriverOptions = {}) {
    this.nl = opts.netlink ?? openNetlink({ netns: opts.netns });
  }

  capabilities(): NetworkDriverCapabilities {
    return { namespace: 'private', endpoints: true, needsIpam: true, portMapping: false, dns: false, scope: 'local' };
  }

  async createNetwork(spec: NetworkSpec, pools: IpamPool[]): Promise<Labels> {
    const { parent, mode, vlan } = parseOptions(spec);
    for (const [id, n] of this.nets)
      if (id !== spec.id && n.parent === parent)
        throw new ConflictError(`macvlan: parent interface ${parent} is already used by another network`);
    let createdVlan = false;
    if (!(await this.nl.getLink(parent))) {
      if (!vlan) throw new InvalidParameterError(`macvlan: parent interface ${parent} was not found on the host`);
      if (!(await this.nl.getLink(vlan.base)))
        throw new InvalidParameterError(
          `macvlan: parent interface ${vlan.base} (of ${parent}) was not found on the host`,
        );
      await this.nl.createVlan(parent, vlan.base, vlan.id);
      createdVlan = true;
    }
    // macvlan endpoints carry traffic only while the parent is up.
    await this.nl.setLink(parent, { up: true });
    const gateway = pools.find((p) => p.gateway)?.gateway;
    this.nets.set(spec.id, { parent, mode, createdVlan, gateway });
    return { parent, mode, createdVlan: String(createdVlan) };
  }

  async deleteNetwork(spec: NetworkSpec): Promise<void> {
    const n = this.nets.get(spec.id);
    this.nets.delete(spec.id);
    if (n?.createdVlan) await this.nl.deleteLink(n.parent);
  }

  private state(spec: NetworkSpec): NetState {
    const n = this.nets.get(spec.id);
    if (n) return n;
    const { parent, mode } = parseOptions(spec);
    return { parent, mode, createdVlan: false };
  }

  async attach(req: AttachRequest): Promise<AttachResult> {
    const n = this.state(req.network);
    if (!validIfName(req.ifName)) throw new InvalidParameterError(`invalid interface name ${req.ifName}`);
    const v4 = req.addresses.find((a) => !a.includes(':'));
    const mac = req.mac || (v4 ? macFromIPv4(v4) : undefined);
    const gateway = req.gateway ?? n.gateway;
    const routes = !req.network.internal && gateway && v4 ? [{ dst: 'default', gw: gateway }] : [];
    if (!(await this.nl.getLink(n.parent)))
      throw new NotFoundError(`macvlan: parent interface ${n.parent} was not found on the host`);
    // Created straight inside the container's namespace under its final name.
    await this.nl.createMacvlan({ name: req.ifName, parent: n.parent, mode: n.mode, netnsPath: req.netnsPath, mac });
    try {
      await configureNetns(req.netnsPath, { ifName: req.ifName, addresses: req.addresses, routes });
    } catch (e) {
      await ipBatch([`link del ${req.ifName}`], { netns: req.netnsPath }).catch(() => {});
      throw e;
    }
    return {
      interfaces: [{ name: req.ifName, ...(mac ? { mac } : {}), sandbox: req.netnsPath }],
      ips: req.addresses.map((address) => ({ address, ...(gateway ? { gateway } : {}), interface: 0 })),
      routes,
    };
  }

  async detach(req: AttachRequest): Promise<void> {
    // The link lives only in the container's namespace; it goes with it when the namespace does.
    try {
      await ipBatch([`link del ${req.ifName}`], { netns: req.netnsPath });
    } catch {
      // already gone, or the namespace is
    }
  }

  async restore(networks: { spec: NetworkSpec; pools: IpamPool[]; state: Labels }[]): Promise<void> {
    for (const { spec, pools, state } of networks) {
      let parsed: ReturnType<typeof parseOptions>;
      try {
        parsed = parseOptions(spec);
      } catch (e) {
        this.opts.log?.warn(`macvlan network ${spec.name}: ${(e as Error).message}`);
        continue;
      }
      const createdVlan = state.createdVlan === 'true';
      // After a reboot the 802.1q parent we made is gone: make it again.
      if (parsed.vlan && createdVlan && !(await this.nl.getLink(parsed.parent)))
        await this.nl
          .createVlan(parsed.parent, parsed.vlan.base, parsed.vlan.id)
          .catch((e: Error) => this.opts.log?.warn(`macvlan: cannot recreate ${parsed.parent}: ${e.message}`));
      this.nets.set(spec.id, {
        parent: parsed.parent,
        mode: parsed.mode,
        createdVlan,
        gateway: pools.find((p) => p.gateway)?.gateway,
      });
    }
  }
}
