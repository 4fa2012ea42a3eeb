import {
  type ClusterStore,
  ClusterStoreUnavailableError,
  InvalidParameterError,
  type KvEntry,
  type KvEvent,
  type KvLease,
  type KvWatch,
  type Logger,
  SystemError,
} from '@skiff/core/plugin-api';
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type Lease, isRecoverableError } from 'etcd3';
import { ExponentialBackoff, handleWhen, noop, retry } from 'cockatiel';
import { parseStoreUrl } from './store-url.js';

export interface EtcdStoreOptions {
  /** `etcd://h:p[,h:p]` (or `etcds://` for TLS), as daemon.json `cluster-store` gives it. */
  url: string;
  /** Per-call deadline: an unreachable store fails operations after this long. */
  timeoutMs?: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  log?: Logger;
}

function entry(kv: IKeyValue): KvEntry {
  return { key: kv.key.toString(), value: kv.value.toString(), revision: Number(kv.mod_revision) };
}

class EtcdLease implements KvLease {
  private lostCbs: ((err: Error) => void)[] = [];
  private lostErr: Error | undefined;
  constructor(
    readonly id: string,
    readonly ttl: number,
    readonly lease: Lease,
  ) {
    lease.on('lost', (err) => {
      this.lostErr = err;
      for (const cb of this.lostCbs.splice(0)) cb(err);
    });
  }
  onLost(cb: (err: Error) => void): void {
    if (this.lostErr) cb(this.lostErr);
    else this.lostCbs.push(cb);
  }
  async revoke(): Promise<void> {
    await this.lease.revoke().catch(() => {});
  }
}

/** The `clusterstore` kind on etcd v3 (the `etcd3` client: gRPC, leases with keepalive, watches). */
export class EtcdStore implements ClusterStore {
  readonly name = 'etcd';
  private readonly client: Etcd3;
  private readonly leases = new Set<EtcdLease>();
  private readonly watches = new Set<KvWatch>();
  private readonly where: string;

  constructor(private readonly opts: EtcdStoreOptions) {
    const { hosts, tls } = parseStoreUrl(opts.url);
    this.where = opts.url;
    const timeout = opts.timeoutMs ?? 5000;
    this.client = new Etcd3({
      hosts,
      dialTimeout: timeout,
      ...(tls
        ? {
            credentials: {
              rootCertificate: opts.tls?.ca ?? Buffer.alloc(0),
              ...(opts.tls?.cert ? { certChain: opts.tls.cert } : {}),
              ...(opts.tls?.key ? { privateKey: opts.tls.key } : {}),
            },
          }
        : {}),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      // Retries on another member with a short backoff (a leader election takes a moment), no
      // circuit breaker: a member that comes back is used at once.
      faultHandling: {
        host: () => noop,
        global: retry(handleWhen(isRecoverableError), {
          maxAttempts: 4,
          backoff: new ExponentialBackoff({ initialDelay: 250, maxDelay: 1000 }),
        }),
      },
    });
  }

  /** Every failure the client reports becomes a typed error naming the store. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = err as Error;
      if (isRecoverableError(e) || /deadline|unavailable|connect|ECONNREFUSED|timed? ?out|circuit/i.test(e.message))
        throw new ClusterStoreUnavailableError(`cluster store ${this.where} is unreachable (${what}): ${e.message}`, {
          cause: e,
        });
      throw new SystemError(`cluster store ${this.where}: ${what}: ${e.message}`, { cause: e });
    }
  }

  async get(key: string): Promise<KvEntry | undefined> {
    const res = await this.call('get', () => this.client.get(key).exec());
    const kv = res.kvs[0];
    return kv ? entry(kv) : undefined;
  }

  async put(key: string, value: string, opts: { lease?: KvLease } = {}): Promise<void> {
    const b = this.client.put(key).value(value);
    if (opts.lease) b.lease(opts.lease.id);
    await this.call('put', () => b.exec());
  }

  async cas(key: string, value: string, prevRevision: number, opts: { lease?: KvLease } = {}): Promise<boolean> {
    const put = this.client.put(key).value(value);
    if (opts.lease) put.lease(opts.lease.id);
    const res = await this.call('compare-and-swap', () =>
      (prevRevision === 0 ? this.client.if(key, 'Create', '==', 0) : this.client.if(key, 'Mod', '==', prevRevision))
        .then(put)
        .commit(),
    );
    return res.succeeded;
  }

  async delete(key: string, prevRevision?: number): Promise<boolean> {
    if (prevRevision === undefined) {
      const res = await this.call('delete', () => this.client.delete().key(key).exec());
      return Number(res.deleted) > 0;
    }
    const res = await this.call('delete', () =>
      this.client.if(key, 'Mod', '==', prevRevision).then(this.client.delete().key(key)).commit(),
    );
    return res.succeeded;
  }

  async list(prefix: string): Promise<KvEntry[]> {
    const res = await this.call('list', () => this.client.getAll().prefix(prefix).exec());
    return res.kvs.map(entry);
  }

  async deletePrefix(prefix: string): Promise<void> {
    if (!prefix) throw new InvalidParameterError('refusing to delete the whole cluster store');
    await this.call('delete', () => this.client.delete().prefix(prefix).exec());
  }

  async watch(prefix: string, onEvent: (ev: KvEvent) => void, opts: { onReset?: () => void } = {}): Promise<KvWatch> {
    const timeout = this.opts.timeoutMs ?? 5000;
    // watcher() rather than create(): a watch that never connects can still be cancelled.
    const w = this.client.watch().prefix(prefix).watcher();
    let timer: NodeJS.Timeout | undefined;
    // A stream that cannot start (member down, TLS refused) only says why in 'disconnected'.
    let why: Error | undefined;
    const onDown = (err: Error) => (why = err);
    w.on('disconnected', onDown);
    await this.call(
      'watch',
      () =>
        new Promise<void>((resolve, reject) => {
          w.once('connected', () => resolve());
          timer = setTimeout(
            () => reject(new Error(`deadline exceeded while starting a watch${why ? ` (${why.message})` : ''}`)),
            timeout,
          );
        }),
    )
      .catch(async (err: Error) => {
        await w.cancel().catch(() => {});
        throw err;
      })
      .finally(() => {
        clearTimeout(timer);
        w.off('disconnected', onDown);
      });
    let down = false;
    w.on('put', (kv) => onEvent({ type: 'put', ...entry(kv) }));
    w.on('delete', (kv) => onEvent({ type: 'delete', key: kv.key.toString() }));
    w.on('disconnected', () => {
      down = true;
    });
    w.on('connected', () => {
      if (!down) return;
      down = false;
      opts.onReset?.();
    });
    w.on('error', (err) => this.opts.log?.warn(`cluster store watch ${prefix}: ${err.message}`));
    const handle: KvWatch = {
      close: async () => {
        this.watches.delete(handle);
        await w.cancel().catch(() => {});
      },
    };
    this.watches.add(handle);
    return handle;
  }

  async lease(ttlSeconds: number): Promise<KvLease> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1)
      throw new InvalidParameterError(`lease TTL must be a positive integer (got ${ttlSeconds})`);
    const l = this.client.lease(ttlSeconds, { autoKeepAlive: true });
    // Without a listener the client would throw the loss as an unhandled 'error'.
    l.on('lost', () => {});
    let id: string;
    try {
      id = await this.call('lease', () => l.grant());
    } catch (err) {
      l.release();
      throw err;
    }
    const lease = new EtcdLease(id, ttlSeconds, l);
    this.leases.add(lease);
    lease.onLost((err) => {
      this.leases.delete(lease);
      if (!(err instanceof EtcdLeaseInvalidError))
        this.opts.log?.warn(`cluster store lease ${id} lost: ${err.message}`);
    });
    return lease;
  }

  async close(): Promise<void> {
    await Promise.all([...this.watches].map((w) => w.close()));
    // Leases are not revoked: containers outlive the daemon, and a daemon restarted within the
    // TTL takes its endpoints over without peers ever seeing them leave.
    for (const l of this.leases) l.lease.release();
    this.leases.clear();
    this.client.close();
  }
}
