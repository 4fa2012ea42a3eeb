import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type {
  AttachRequest,
  AttachResult,
  FirewallNetwork,
  FirewallPublication,
  IpamPool,
  Labels,
  NetworkDriver,
  NetworkDriverCapabilities,
  NetworkSpec,
} from '@skiff/core/plugin-api';
import * as errors from '@skiff/core/plugin-api';

const hostScript = new URL('./driver-host.js', import.meta.url).pathname;

/**
 * A BridgeDriver running in another process inside namespace `ns` (see driver-host.ts), driven
 * through the NetworkDriver interface. Errors come back as the same typed errors.
 */
export class RemoteBridgeDriver implements NetworkDriver {
  readonly name = 'bridge';
  private seq = 0;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private constructor(private readonly child: ChildProcess) {}

  static async start(
    ns: string,
    config: { table: string; dnsPort?: number; upstream?: unknown },
  ): Promise<RemoteBridgeDriver> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, hostScript, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const remote = new RemoteBridgeDriver(child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`driver host exited with ${code}`)));
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as {
          ready?: boolean;
          id: number;
          result?: unknown;
          error?: { name: string; message: string };
        };
        if (msg.ready) return resolve();
        const p = remote.pending.get(msg.id);
        remote.pending.delete(msg.id);
        if (!p) return;
        if (msg.error) {
          const Ctor = (errors as unknown as Record<string, new (m: string) => Error>)[msg.error.name] ?? Error;
          p.reject(new Ctor(msg.error.message));
        } else p.resolve(msg.result);
      });
    });
    child.on('exit', () => {
      for (const p of remote.pending.values()) p.reject(new Error('driver host exited'));
      remote.pending.clear();
    });
    return remote;
  }

  private call<T>(target: 'driver' | 'firewall', method: string, ...args: unknown[]): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, target, method, args })}\n`);
    });
  }

  capabilities(): NetworkDriverCapabilities {
    return { namespace: 'private', endpoints: true, needsIpam: true, portMapping: true, dns: true, scope: 'local' };
  }
  createNetwork(spec: NetworkSpec, pools: IpamPool[]): Promise<Labels> {
    return this.call('driver', 'createNetwork', spec, pools);
  }
  deleteNetwork(spec: NetworkSpec): Promise<void> {
    return this.call('driver', 'deleteNetwork', spec);
  }
  attach(req: AttachRequest): Promise<AttachResult> {
    return this.call('driver', 'attach', req);
  }
  detach(req: AttachRequest, prev: AttachResult | null): Promise<void> {
    return this.call('driver', 'detach', req, prev);
  }
  restore(
    networks: { spec: NetworkSpec; pools: IpamPool[]; state: Labels }[],
    endpoints: { req: AttachRequest; result: AttachResult }[],
  ): Promise<void> {
    return this.call('driver', 'restore', networks, endpoints);
  }
  /** BridgeDriver.settled(): veths of exited containers are gone once it resolves. */
  settled(): Promise<void> {
    return this.call('driver', 'settled');
  }
  firewallSync(state: { networks: FirewallNetwork[]; publications: FirewallPublication[] }): Promise<void> {
    return this.call('firewall', 'sync', state);
  }
  firewallTeardown(): Promise<void> {
    return this.call('firewall', 'teardown');
  }

  /** Ends the process the way a crash would (state in the kernel stays). */
  kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }
}
