import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Labels } from '../plugin-api/graph-driver.js';
import { ConflictError } from '../plugin-api/errors.js';
import type { AttachRequest, AttachResult, IpamPool } from '../plugin-api/network-driver.js';

/** `IPAM.Config` entry as the API shows it. */
export interface IpamConfigEntry {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkRecord {
  Id: string;
  Name: string;
  Created: string;
  Driver: string;
  Scope: 'local' | 'global';
  EnableIPv6: boolean;
  Internal: boolean;
  Attachable: boolean;
  Options: Labels;
  Labels: Labels;
  IPAM: { Driver: string; Options: Labels | null; Config: IpamConfigEntry[] };
  /** Pools the IPAM driver allocated (empty for drivers without IPAM). */
  pools: IpamPool[];
  /** What the driver's createNetwork returned. */
  state: Labels;
  /** bridge, host, none: created by the daemon, never removed by users. */
  builtin: boolean;
  /** The subnets were given by the user (only then may containers ask for a fixed address). */
  userSubnets?: boolean;
}

/** What a container asked for on one network; kept while the container exists. */
export interface EndpointConfig {
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  /** `DriverOpts` as given (null when absent; inspect shows it back). */
  driverOpts: Labels | null;
  /** `IPAMConfig` as given (inspect shows it back). */
  ipamConfig: Record<string, unknown> | null;
  links: string[] | null;
}

/** An endpoint attached to a running container's namespace. */
export interface LiveEndpoint {
  request: AttachRequest;
  result: AttachResult;
  /** Addresses to give back to IPAM on detach. */
  leases: { poolId: string; address: string }[];
}

export interface EndpointRow {
  containerId: string;
  networkId: string;
  /** Attachment order (eth0 first). */
  seq: number;
  config: EndpointConfig;
  live?: LiveEndpoint;
}

/** Networks and endpoints in the metadata database. */
export class NetworkStore {
  /** Prepared once: `docker ps` asks for every container's endpoints and networks. */
  private readonly statements = new Map<string, StatementSync>();
  /** Network documents by id (parsed per call: callers may change what they get); networks change rarely. */
  private readonly docs = new Map<string, string | undefined>();

  constructor(private readonly db: DatabaseSync) {}

  private stmt(sql: string): StatementSync {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  insert(n: NetworkRecord): void {
    this.docs.delete(n.Id);
    try {
      this.stmt('INSERT INTO networks (id, name, doc) VALUES (?, ?, ?)').run(n.Id, n.Name, JSON.stringify(n));
    } catch (err) {
      if (/UNIQUE/.test((err as Error).message)) throw new ConflictError(`network with name ${n.Name} already exists`);
      throw err;
    }
  }

  update(n: NetworkRecord): void {
    this.docs.delete(n.Id);
    this.stmt('UPDATE networks SET doc = ? WHERE id = ?').run(JSON.stringify(n), n.Id);
  }

  delete(id: string): void {
    this.docs.delete(id);
    this.stmt('DELETE FROM networks WHERE id = ?').run(id);
  }

  list(): NetworkRecord[] {
    return (this.stmt('SELECT doc FROM networks').all() as { doc: string }[]).flatMap((r) => {
      try {
        return [JSON.parse(r.doc) as NetworkRecord];
      } catch {
        return [];
      }
    });
  }

  get(id: string): NetworkRecord | undefined {
    if (!this.docs.has(id)) {
      const r = this.stmt('SELECT doc FROM networks WHERE id = ?').get(id) as { doc: string } | undefined;
      this.docs.set(id, r?.doc);
    }
    const doc = this.docs.get(id);
    return doc === undefined ? undefined : (JSON.parse(doc) as NetworkRecord);
  }

  byName(name: string): NetworkRecord | undefined {
    const r = this.stmt('SELECT doc FROM networks WHERE name = ?').get(name) as { doc: string } | undefined;
    return r ? (JSON.parse(r.doc) as NetworkRecord) : undefined;
  }

  byIdPrefix(prefix: string): NetworkRecord[] {
    return (this.stmt("SELECT doc FROM networks WHERE id LIKE ? || '%'").all(prefix) as { doc: string }[]).map(
      (r) => JSON.parse(r.doc) as NetworkRecord,
    );
  }

  putEndpoint(e: EndpointRow): void {
    this.stmt('INSERT OR REPLACE INTO endpoints (container_id, network_id, doc) VALUES (?, ?, ?)').run(
      e.containerId,
      e.networkId,
      JSON.stringify(e),
    );
  }

  deleteEndpoint(containerId: string, networkId: string): void {
    this.stmt('DELETE FROM endpoints WHERE container_id = ? AND network_id = ?').run(containerId, networkId);
  }

  endpoint(containerId: string, networkId: string): EndpointRow | undefined {
    const r = this.stmt('SELECT doc FROM endpoints WHERE container_id = ? AND network_id = ?').get(
      containerId,
      networkId,
    ) as { doc: string } | undefined;
    return r ? (JSON.parse(r.doc) as EndpointRow) : undefined;
  }

  endpointsOf(containerId: string): EndpointRow[] {
    return this.rows('SELECT doc FROM endpoints WHERE container_id = ?', containerId).sort((a, b) => a.seq - b.seq);
  }

  endpointsOn(networkId: string): EndpointRow[] {
    return this.rows('SELECT doc FROM endpoints WHERE network_id = ?', networkId);
  }

  allEndpoints(): EndpointRow[] {
    return this.rows('SELECT doc FROM endpoints');
  }

  private rows(sql: string, ...args: string[]): EndpointRow[] {
    return (this.stmt(sql).all(...args) as { doc: string }[]).flatMap((r) => {
      try {
        return [JSON.parse(r.doc) as EndpointRow];
      } catch {
        return [];
      }
    });
  }
}
