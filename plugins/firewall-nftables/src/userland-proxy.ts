import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Server, type Socket } from 'node:net';

/**
 * One published port that the kernel cannot forward (an IPv6 host address in front of an IPv4
 * container, or ::1, which never leaves the host): a socket in skiffd that relays to the container
 * like dockerd's docker-proxy.
 */
export interface ProxySpec {
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  target: string;
  targetPort: number;
}

/** How long a UDP client's relay lives without traffic (docker-proxy's UDPConnTrackTimeout). */
const UDP_IDLE_MS = 90_000;

interface Running {
  close(): void;
}

const proxyKey = (s: ProxySpec) => `${s.protocol}/[${s.hostIp}]:${s.hostPort}>${s.target}:${s.targetPort}`;

/** The proxies of the current publications; `reconcile` opens and closes them to match. */
export class UserlandProxies {
  private readonly running = new Map<string, Running>();

  /**
   * Closes the proxies not in `specs` and opens the missing ones. When one cannot listen (its port
   * is taken), the ones this call opened are closed again and the error is thrown (the ones that
   * ran before stay); with `bestEffort` the others are opened anyway and the failures returned.
   */
  async reconcile(
    specs: readonly ProxySpec[],
    opts: { bestEffort?: boolean } = {},
  ): Promise<Array<{ spec: ProxySpec; error: Error }>> {
    const wanted = new Map(specs.map((s) => [proxyKey(s), s]));
    for (const [key, r] of this.running) {
      if (wanted.has(key)) continue;
      r.close();
      this.running.delete(key);
    }
    const opened: string[] = [];
    const failed: Array<{ spec: ProxySpec; error: Error }> = [];
    for (const [key, spec] of wanted) {
      if (this.running.has(key)) continue;
      try {
        this.running.set(key, spec.protocol === 'tcp' ? await tcpProxy(spec) : await udpProxy(spec));
        opened.push(key);
      } catch (e) {
        if (opts.bestEffort) {
          failed.push({ spec, error: e as Error });
          continue;
        }
        for (const k of opened) {
          this.running.get(k)?.close();
          this.running.delete(k);
        }
        throw e;
      }
    }
    return failed;
  }

  closeAll(): void {
    for (const r of this.running.values()) r.close();
    this.running.clear();
  }
}

/** A proxy could not have its host socket; `where` is `[::]:8080/tcp`. */
export class ProxyListenError extends Error {
  constructor(
    readonly where: string,
    readonly code: string | undefined,
    readonly hostIp: string,
  ) {
    super(`cannot listen on ${where}: ${code ?? 'error'}`);
  }
}

function listenError(spec: ProxySpec, e: NodeJS.ErrnoException): Error {
  const where = `${spec.hostIp.includes(':') ? `[${spec.hostIp}]` : spec.hostIp}:${spec.hostPort}/${spec.protocol}`;
  return new ProxyListenError(where, e.code, spec.hostIp);
}

async function tcpProxy(spec: ProxySpec): Promise<Running> {
  const conns = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: spec.target, port: spec.targetPort, allowHalfOpen: true });
    conns.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', () => conns.delete(client));
    upstream.on('error', drop).on('close', () => conns.delete(upstream));
    // Each direction ends on its own (half-close), as the two ends of the relay end theirs.
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(listenError(spec, e)));
    server.listen({ host: spec.hostIp, port: spec.hostPort, ipv6Only: isIPv6(spec.hostIp), exclusive: true }, () =>
      resolve(),
    );
  });
  server.on('error', () => {});
  return {
    close() {
      server.close();
      for (const c of conns) c.destroy();
      conns.clear();
    },
  };
}

async function udpProxy(spec: ProxySpec): Promise<Running> {
  const front = createSocket({ type: isIPv6(spec.hostIp) ? 'udp6' : 'udp4', ipv6Only: isIPv6(spec.hostIp) });
  const relays = new Map<string, { sock: UdpSocket; timer: NodeJS.Timeout }>();
  const forget = (key: string) => {
    const r = relays.get(key);
    if (!r) return;
    clearTimeout(r.timer);
    r.sock.close();
    relays.delete(key);
  };
  const relayFor = (client: RemoteInfo) => {
    const key = `${client.address}|${client.port}`;
    let r = relays.get(key);
    if (!r) {
      // One socket per client, so the container's replies find their way back to that client.
      const sock = createSocket(isIPv6(spec.target) ? 'udp6' : 'udp4');
      sock.on('message', (msg, from) => {
        if (from.address !== spec.target || from.port !== spec.targetPort) return;
        relays.get(key)?.timer.refresh();
        front.send(msg, client.port, client.address);
      });
      sock.on('error', () => forget(key));
      r = { sock, timer: setTimeout(() => forget(key), UDP_IDLE_MS).unref() };
      relays.set(key, r);
    }
    return r;
  };
  front.on('message', (msg, client) => {
    const r = relayFor(client);
    r.timer.refresh();
    r.sock.send(msg, spec.targetPort, spec.target);
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', (e: NodeJS.ErrnoException) => reject(listenError(spec, e)));
    front.bind({ address: spec.hostIp, port: spec.hostPort, exclusive: true }, () => resolve());
  });
  front.on('error', () => {});
  return {
    close() {
      for (const key of [...relays.keys()]) forget(key);
      front.close();
    },
  };
}
