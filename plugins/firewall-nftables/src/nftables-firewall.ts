import { nsCommand, runWithInput } from '@skiff/core/host';
import {
  ConflictError,
  type Firewall,
  type FirewallNetwork,
  type FirewallPublication,
  InvalidParameterError,
  type Logger,
  type PortMapping,
} from '@skiff/core/plugin-api';
import { ensureForwardAccept, removeForwardAccept } from './compat.js';
import { type PortProblem, probePort, probePortListeners } from './port-check.js';
import { proxied, renderRuleset } from './ruleset.js';
import { ProxyListenError, type ProxySpec, UserlandProxies } from './userland-proxy.js';

export interface NftablesFirewallOptions {
  /** nftables table name (family inet); tests use a unique one. Default `skiff`. */
  table?: string;
  /** Run nft/iptables inside this network namespace instead of the daemon's. */
  netns?: string;
  /** Packet mark bit for the iptables FORWARD-DROP coexistence rule. Default 0x4000000. */
  mark?: number;
  /** Check that nothing on the host listens on a port before publishing it. Default true. */
  checkListeners?: boolean;
  /**
   * Relay mappings on IPv6 host addresses through sockets in this process (docker-proxy's job).
   * Default: true unless `netns` is set (the sockets would be in the wrong namespace).
   */
  userlandProxy?: boolean;
  log?: Logger;
}

const TABLE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** The Firewall seam on nftables: one table, always rebuilt whole and swapped atomically. */
export class NftablesFirewall implements Firewall {
  readonly name = 'nftables';
  readonly table: string;
  private readonly netns?: string;
  private readonly mark: number;
  private readonly checkListeners: boolean;
  private readonly proxies?: UserlandProxies;
  private readonly log?: Logger;
  private networks = new Map<string, FirewallNetwork>();
  private publications = new Map<string, FirewallPublication>();
  /** Serializes rebuilds so two concurrent changes never apply out of order. */
  private queue: Promise<unknown> = Promise.resolve();
  private compatChecked = false;

  constructor(opts: NftablesFirewallOptions = {}) {
    this.table = opts.table ?? 'skiff';
    if (!TABLE.test(this.table)) throw new InvalidParameterError(`invalid nftables table name ${this.table}`);
    this.netns = opts.netns;
    this.mark = opts.mark ?? 0x4000000;
    if (!Number.isInteger(this.mark) || this.mark <= 0 || this.mark > 0xffffffff)
      throw new InvalidParameterError(`invalid firewall mark ${opts.mark}`);
    this.checkListeners = opts.checkListeners ?? true;
    if (opts.userlandProxy ?? !opts.netns) this.proxies = new UserlandProxies();
    this.log = opts.log;
  }

  /** The userland proxies the publications need. */
  private proxySpecs(): ProxySpec[] {
    if (!this.proxies) return [];
    return [...this.publications.values()].flatMap((p) =>
      p.ports.filter(proxied).map((m) => ({
        protocol: m.protocol as 'tcp' | 'udp',
        hostIp: m.hostIp,
        hostPort: m.hostPort,
        target: p.address6 ?? p.address,
        targetPort: m.containerPort,
      })),
    );
  }

  /** Opens and closes proxies to match the publications (the ones that cannot listen: thrown). */
  private async proxy(): Promise<void> {
    await this.proxies?.reconcile(this.proxySpecs());
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => {});
    return p;
  }

  private async apply(checkCompat: boolean): Promise<void> {
    const script = renderRuleset({
      table: this.table,
      mark: this.mark,
      networks: [...this.networks.values()],
      publications: [...this.publications.values()],
    });
    const [cmd, args] = nsCommand(this.netns, 'nft', ['-f', '-']);
    await runWithInput(cmd, args, script);
    if (checkCompat || !this.compatChecked) {
      this.compatChecked = true;
      await ensureForwardAccept({ netns: this.netns, mark: this.mark, comment: this.comment });
    }
  }

  private get comment(): string {
    return `skiff-${this.table}`;
  }

  /** The nft script the current state renders to (for inspection and tests). */
  render(): string {
    return renderRuleset({
      table: this.table,
      mark: this.mark,
      networks: [...this.networks.values()],
      publications: [...this.publications.values()],
    });
  }

  addNetwork(net: FirewallNetwork): Promise<void> {
    return this.serial(async () => {
      const prev = this.networks.get(net.id);
      this.networks.set(net.id, net);
      try {
        await this.apply(true);
      } catch (e) {
        if (prev) this.networks.set(net.id, prev);
        else this.networks.delete(net.id);
        throw e;
      }
    });
  }

  removeNetwork(id: string): Promise<void> {
    return this.serial(async () => {
      if (!this.networks.has(id) && ![...this.publications.values()].some((p) => p.networkId === id)) return;
      this.networks.delete(id);
      for (const [k, p] of this.publications) if (p.networkId === id) this.publications.delete(k);
      await this.proxy();
      await this.apply(false);
    });
  }

  publish(pub: FirewallPublication): Promise<void> {
    return this.serial(async () => {
      validatePorts(pub.ports);
      for (const m of pub.ports) {
        for (const other of this.publications.values()) {
          if (other.endpointId === pub.endpointId) continue;
          if (other.ports.some((o) => clash(o, m)))
            throw new ConflictError(
              `Bind for ${m.hostIp || '0.0.0.0'}:${m.hostPort} failed: port is already allocated`,
            );
        }
        const seen = pub.ports.filter((o) => clash(o, m));
        if (seen.length > 1)
          throw new ConflictError(`Bind for ${m.hostIp || '0.0.0.0'}:${m.hostPort} failed: port is already allocated`);
      }
      if (this.checkListeners && !this.publications.has(pub.endpointId)) {
        // A proxied mapping's own listen is its check.
        for (const m of pub.ports.filter((x) => !this.proxies || !proxied(x))) {
          const ours = [...this.networks.values()]
            .flatMap((n) => n.hostServices ?? [])
            .filter((h) => h.protocol === m.protocol && h.port === m.hostPort)
            .map((h) => h.address);
          let problem: PortProblem = this.netns ? 'in-use' : await probePort(m.protocol, m.hostIp, m.hostPort);
          // Binding cannot tell our own DNS listener from a stranger's: ask ss, which can.
          if (problem === 'in-use' && (this.netns || ours.length))
            problem = await probePortListeners(this.netns, m.protocol, m.hostIp, m.hostPort, ours);
          const where = `${m.hostIp || '0.0.0.0'}:${m.hostPort}/${m.protocol}`;
          if (problem === 'in-use')
            throw new ConflictError(`cannot publish ${where}: address already in use by a process on the host`);
          if (problem === 'not-local')
            throw new InvalidParameterError(`cannot publish ${where}: ${m.hostIp} is not an address of this host`);
        }
      }
      const prev = this.publications.get(pub.endpointId);
      this.publications.set(pub.endpointId, pub);
      try {
        await this.proxy().catch((e: unknown) => {
          if (!(e instanceof ProxyListenError)) throw e;
          if (e.code === 'EADDRNOTAVAIL')
            throw new InvalidParameterError(`cannot publish ${e.where}: ${e.hostIp} is not an address of this host`);
          throw new ConflictError(`cannot publish ${e.where}: address already in use by a process on the host`);
        });
        await this.apply(false);
      } catch (e) {
        if (prev) this.publications.set(pub.endpointId, prev);
        else this.publications.delete(pub.endpointId);
        await this.proxy().catch(() => {});
        throw e;
      }
    });
  }

  unpublish(endpointId: string): Promise<void> {
    return this.serial(async () => {
      if (!this.publications.delete(endpointId)) return;
      await this.proxy();
      await this.apply(false);
    });
  }

  sync(state: { networks: FirewallNetwork[]; publications: FirewallPublication[] }): Promise<void> {
    return this.serial(async () => {
      for (const p of state.publications) validatePorts(p.ports);
      this.networks = new Map(state.networks.map((n) => [n.id, n]));
      this.publications = new Map(state.publications.map((p) => [p.endpointId, p]));
      // After a restart a port may have been taken meanwhile: the rest are served all the same.
      for (const { spec, error } of (await this.proxies?.reconcile(this.proxySpecs(), { bestEffort: true })) ?? [])
        this.log?.warn('a published port cannot be served again', { port: spec.hostPort, error });
      await this.apply(true);
    });
  }

  teardown(): Promise<void> {
    return this.serial(async () => {
      this.networks.clear();
      this.publications.clear();
      this.proxies?.closeAll();
      const [cmd, args] = nsCommand(this.netns, 'nft', ['-f', '-']);
      await runWithInput(cmd, args, `table inet ${this.table}\ndelete table inet ${this.table}\n`);
      await removeForwardAccept({ netns: this.netns, mark: this.mark, comment: this.comment });
      this.compatChecked = false;
    });
  }
}

function validatePorts(ports: readonly PortMapping[]): void {
  for (const m of ports) {
    for (const [what, n] of [
      ['host port', m.hostPort],
      ['container port', m.containerPort],
    ] as const)
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        throw new InvalidParameterError(`invalid ${what} ${n}: must be between 1 and 65535`);
    if (!['tcp', 'udp', 'sctp'].includes(m.protocol)) throw new InvalidParameterError(`invalid protocol ${m.protocol}`);
    if (m.hostIp !== '' && !/^[0-9a-fA-F:.]+$/.test(m.hostIp))
      throw new InvalidParameterError(`invalid host IP ${m.hostIp}`);
  }
}

const wildcard = (ip: string) => ip === '' || ip === '0.0.0.0' || ip === '::';
const family = (ip: string) => (ip === '' ? 'any' : ip.includes(':') ? 6 : 4);

/** Two mappings compete for the same host socket (`0.0.0.0` and `::` do not: they are two). */
function clash(a: PortMapping, b: PortMapping): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort) return false;
  const fa = family(a.hostIp);
  const fb = family(b.hostIp);
  if (fa !== fb && fa !== 'any' && fb !== 'any') return false;
  return wildcard(a.hostIp) || wildcard(b.hostIp) || a.hostIp === b.hostIp;
}
