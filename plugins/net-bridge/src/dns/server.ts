import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@skiff/core/plugin-api';
import { type Answer, buildResponse, DnsFormatError, ipv6Bytes, parseQuery, type Query, RCODE, TYPE } from './wire.js';

/**
 * The embedded DNS server of one user-defined bridge network (podman's aardvark-dns design): it
 * runs in the daemon, listens on the network's gateway addresses, port 53, UDP and TCP, answers
 * for the endpoints of THIS network (names, aliases, `name.network`, reverse lookups) — and, like
 * Docker's, for those of the other networks the asking container is on (`peers`) — and forwards
 * everything else to the host's resolvers. Containers get the gateway as nameserver;
 * since the server lives in the host's namespace, even a 127.0.0.53 resolver of the host works.
 */

export interface Upstream {
  host: string;
  port: number;
}

const TTL = 600;
const FORWARD_TIMEOUT_MS = 2500;

interface Endpoint {
  /** The container the endpoint belongs to: the key to its other networks' names. */
  container?: string;
  names: string[];
  ipv4: string[];
  ipv6: string[];
  /** Where this endpoint's other queries go (`--dns`); empty: the network's upstreams. */
  upstreams: readonly Upstream[];
  /** Its legacy links: an alias it alone resolves, to the name it stands for. */
  links: ReadonlyMap<string, string>;
}

/** What else the server knows of an endpoint besides its names and addresses. */
export interface EndpointExtras {
  /** Where its queries for other names go (`--dns`); empty: the network's upstreams. */
  upstreams?: readonly Upstream[];
  /** Its container: the key to the names of the container's other networks. */
  container?: string;
  /** `--link target:alias` on this network: `alias` resolves, for this endpoint only, as `target` does. */
  links?: Readonly<Record<string, string>>;
}

export interface DnsServerOptions {
  network: string;
  addresses: string[];
  /**
   * Subnets of the network: only clients inside them learn the network's names (a container of
   * another network can reach this gateway too, through the host). Empty: everyone does.
   */
  subnets?: string[];
  /** Forward unknown names upstream (false for `--internal` networks: no way out, not even DNS). */
  forward?: boolean;
  port?: number;
  upstreams: () => Upstream[];
  /** The servers of the other networks (a container on several learns the names of each). */
  peers?: () => Iterable<DnsServer>;
  log?: Logger;
}

export class DnsServer {
  private readonly endpoints = new Map<string, Endpoint>();
  private udp: UdpSocket[] = [];
  private tcp: Server[] = [];
  private readonly port: number;

  constructor(private readonly opts: DnsServerOptions) {
    this.port = opts.port ?? 53;
  }

  get addresses(): readonly string[] {
    return this.opts.addresses;
  }

  async start(): Promise<void> {
    try {
      for (const address of this.opts.addresses) {
        const udp = createSocket(address.includes(':') ? 'udp6' : 'udp4');
        this.udp.push(udp);
        udp.on('message', (msg, rinfo) => {
          void this.answer(msg, false, rinfo.address).then((out) => {
            if (out) udp.send(out, rinfo.port, rinfo.address, () => {});
          });
        });
        udp.on('error', (e) => this.opts.log?.warn(`dns ${this.opts.network}: udp ${address}: ${e.message}`));
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind({ address, port: this.port }, () => {
            udp.off('error', reject);
            resolve();
          });
        });
        const tcp = createServer((c) => this.serveTcp(c));
        this.tcp.push(tcp);
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host: address, port: this.port }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    for (const u of this.udp) u.close();
    await Promise.all(this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.udp = [];
    this.tcp = [];
  }

  setEndpoint(id: string, names: readonly string[], addresses: readonly string[], extras: EndpointExtras = {}): void {
    const ips = addresses.map((a) => a.split('/')[0]!);
    const all = new Set<string>();
    for (const n of names) {
      const name = n.toLowerCase().replace(/\.$/, '');
      if (!name) continue;
      all.add(name);
      all.add(`${name}.${this.opts.network.toLowerCase()}`);
    }
    const links = Object.entries(extras.links ?? {}).map(([a, t]) => [a.toLowerCase(), t.toLowerCase()] as const);
    this.endpoints.set(id, {
      container: extras.container,
      names: [...all],
      ipv4: ips.filter((i) => !i.includes(':')),
      ipv6: ips.filter((i) => i.includes(':')),
      upstreams: extras.upstreams ?? [],
      links: new Map(links),
    });
  }

  removeEndpoint(id: string): void {
    this.endpoints.delete(id);
  }

  get endpointCount(): number {
    return this.endpoints.size;
  }

  private lookup(name: string): Endpoint[] {
    const n = name.toLowerCase();
    return [...this.endpoints.values()].filter((e) => e.names.includes(n));
  }

  /** `name` on this network, for a `container` that is on it too; none otherwise. */
  lookupFor(container: string, name: string): Endpoint[] {
    if (![...this.endpoints.values()].some((e) => e.container === container)) return [];
    return this.lookup(name);
  }

  /**
   * This network's name first, then the other networks of the client's container (Docker's order);
   * a link alias of the client's stands for its target.
   */
  private lookupAll(asked: string, client: string | undefined): Endpoint[] {
    const asker = this.endpointOf(client);
    const name = asker?.links.get(asked.toLowerCase()) ?? asked;
    const own = this.lookup(name);
    const container = asker?.container;
    if (own.length || container === undefined) return own;
    for (const peer of this.opts.peers?.() ?? []) {
      if (peer === this) continue;
      const hits = peer.lookupFor(container, name);
      if (hits.length) return hits;
    }
    return [];
  }

  private reverse(name: string): string | undefined {
    const n = name.toLowerCase();
    let ip: string | undefined;
    const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(n);
    if (v4) ip = [v4[4], v4[3], v4[2], v4[1]].join('.');
    if (!ip) return undefined;
    for (const e of this.endpoints.values()) if (e.ipv4.includes(ip)) return e.names[0];
    return undefined;
  }

  /** The response to one message, or undefined to stay silent (garbage that is not a query). */
  async answer(msg: Buffer, tcp: boolean, client?: string): Promise<Buffer | undefined> {
    let q: Query;
    try {
      q = parseQuery(msg);
    } catch (e) {
      if (e instanceof DnsFormatError && msg.length >= 12 && !(msg.readUInt16BE(2) & 0x8000)) {
        return buildResponse(
          { id: msg.readUInt16BE(0), flags: 0, opcode: 0, recursionDesired: false, questions: [], questionEnd: 12 },
          RCODE.FORMERR,
        );
      }
      return undefined;
    }
    const question = q.questions[0];
    if (q.opcode !== 0 || !question) return buildResponse(q, question ? RCODE.NOTIMP : RCODE.FORMERR);
    const name = question.name.replace(/\.$/, '');
    const member = client === undefined || this.isMember(client);
    const hits = member ? this.lookupAll(name, client) : [];
    if (hits.length) {
      const answers: Answer[] = [];
      if (question.type === TYPE.A || question.type === TYPE.ANY)
        for (const e of hits) for (const ip of e.ipv4) answers.push({ type: TYPE.A, ttl: TTL, data: ip });
      if (question.type === TYPE.AAAA || question.type === TYPE.ANY)
        for (const e of hits) for (const ip of e.ipv6) answers.push({ type: TYPE.AAAA, ttl: TTL, data: ip });
      // The name exists: other types get an empty NOERROR answer, never NXDOMAIN.
      return buildResponse(q, RCODE.NOERROR, answers);
    }
    if (member && question.type === TYPE.PTR) {
      const target = this.reverse(name);
      if (target) return buildResponse(q, RCODE.NOERROR, [{ type: TYPE.PTR, ttl: TTL, data: target }]);
    }
    return this.forward(msg, q, tcp, client);
  }

  /** The endpoint with the client's address. */
  private endpointOf(client: string | undefined): Endpoint | undefined {
    const ip = client?.replace(/^::ffff:/, '');
    if (ip === undefined) return undefined;
    for (const e of this.endpoints.values()) if (e.ipv4.includes(ip) || e.ipv6.includes(ip)) return e;
    return undefined;
  }

  /** The `--dns` servers of the endpoint asking, if it has any. */
  private upstreamsOf(client: string | undefined): readonly Upstream[] {
    return this.endpointOf(client)?.upstreams ?? [];
  }

  private async forward(msg: Buffer, q: Query, tcp: boolean, client: string | undefined): Promise<Buffer> {
    if (this.opts.forward === false) return buildResponse(q, RCODE.SERVFAIL);
    const own = new Set(this.opts.addresses);
    const chosen = this.upstreamsOf(client);
    for (const up of chosen.length ? chosen : this.opts.upstreams()) {
      if (own.has(up.host) && up.port === this.port) continue; // never ask ourselves
      try {
        return await (tcp ? forwardTcp(msg, up) : forwardUdp(msg, up));
      } catch (e) {
        this.opts.log?.debug(`dns ${this.opts.network}: upstream ${up.host}:${up.port}: ${(e as Error).message}`);
      }
    }
    return buildResponse(q, RCODE.SERVFAIL);
  }

  private isMember(client: string): boolean {
    const subnets = this.opts.subnets ?? [];
    return subnets.length === 0 || subnets.some((s) => inSubnet(client.replace(/^::ffff:/, ''), s));
  }

  private serveTcp(c: Socket): void {
    let buf = Buffer.alloc(0);
    c.setTimeout(10_000, () => c.destroy());
    c.on('error', () => {});
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.answer(msg, true, c.remoteAddress).then((out) => {
          if (!out || c.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          c.write(Buffer.concat([head, out]));
        });
      }
    });
  }
}

function forwardUdp(msg: Buffer, up: Upstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket(up.host.includes(':') ? 'udp6' : 'udp4');
    const done = (f: () => void) => {
      clearTimeout(timer);
      s.close();
      f();
    };
    const timer = setTimeout(() => done(() => reject(new Error('timeout'))), FORWARD_TIMEOUT_MS);
    s.on('error', (e) => done(() => reject(e)));
    s.on('message', (reply) => {
      if (reply.length >= 2 && reply.readUInt16BE(0) === msg.readUInt16BE(0)) done(() => resolve(reply));
    });
    s.send(msg, up.port, up.host);
  });
}

function forwardTcp(msg: Buffer, up: Upstream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    c.setTimeout(FORWARD_TIMEOUT_MS, () => c.destroy(new Error('timeout')));
    c.on('error', reject);
    c.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      c.write(Buffer.concat([head, msg]));
    });
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        c.end();
      }
    });
    c.on('close', () => reject(new Error('closed before a reply')));
  });
}

/** Parses `nameserver` lines; `ip`, `ip:port` or `[ipv6]:port` entries are accepted in settings. */
export function parseUpstream(s: string): Upstream | undefined {
  const t = s.trim();
  const bracket = /^\[([0-9a-fA-F:]+)\](?::(\d+))?$/.exec(t);
  if (bracket) return { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : 53 };
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?$/.exec(t);
  if (v4) return { host: v4[1]!, port: v4[2] ? Number(v4[2]) : 53 };
  if (/^[0-9a-fA-F:]+$/.test(t) && t.includes(':')) return { host: t.replace(/%.*$/, ''), port: 53 };
  return undefined;
}

export async function resolvConfUpstreams(path = '/etc/resolv.conf'): Promise<Upstream[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const u = m ? parseUpstream(m[1]!.replace(/%.*$/, '')) : undefined;
    if (u) out.push(u);
  }
  return out;
}

function addrBytes(ip: string): Buffer | undefined {
  if (ip.includes(':')) return ipv6Bytes(ip.replace(/%.*$/, ''));
  const p = ip.split('.').map(Number);
  return p.length === 4 && p.every((x) => x >= 0 && x <= 255) ? Buffer.from(p) : undefined;
}

/** `ip` lies inside `cidr` (same family). */
export function inSubnet(ip: string, cidr: string): boolean {
  const [net = '', lenText = ''] = cidr.split('/');
  const a = addrBytes(ip);
  const b = addrBytes(net);
  const len = Number(lenText);
  if (!a || !b || a.length !== b.length || !Number.isInteger(len)) return false;
  for (let bit = 0; bit < len; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((a[bit >> 3]! & mask) !== (b[bit >> 3]! & mask)) return false;
  }
  return true;
}
