import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { nsCommand, run } from '@skiff/core/host';

export type PortProblem = 'in-use' | 'not-local' | undefined;

/**
 * Whether something on the host already holds `ip:port`. Like dockerd's port allocator (which
 * binds the port to reserve it) we ask the kernel by binding, then let go at once: with DNAT in
 * front, a listener that came later would never see the traffic anyway, and holding sockets for
 * every published port (ranges!) would cost a file descriptor each.
 */
export async function probePort(proto: 'tcp' | 'udp' | 'sctp', ip: string, port: number): Promise<PortProblem> {
  if (proto === 'sctp') return undefined;
  const host = ip === '' ? '0.0.0.0' : ip;
  const code = await new Promise<string | undefined>((resolve) => {
    if (proto === 'tcp') {
      const srv = createServer();
      srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(undefined)));
    } else {
      const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      sock.once('error', (e: NodeJS.ErrnoException) => {
        sock.close();
        resolve(e.code ?? 'error');
      });
      sock.bind({ address: host, port, exclusive: true }, () => sock.close(() => resolve(undefined)));
    }
  });
  if (code === 'EADDRINUSE' || code === 'EACCES') return 'in-use';
  if (code === 'EADDRNOTAVAIL') return 'not-local';
  return undefined;
}

/**
 * The same question from the listening sockets `ss` shows: for another namespace (Node cannot bind
 * there), or to look past listeners that are `ours` (the host services of skiff's own networks).
 */
export async function probePortListeners(
  netns: string | undefined,
  proto: 'tcp' | 'udp' | 'sctp',
  ip: string,
  port: number,
  ours: readonly string[] = [],
): Promise<PortProblem> {
  if (proto === 'sctp') return undefined;
  const ssArgs = ['-Hln', proto === 'tcp' ? '-t' : '-u'];
  const [cmd, args] = netns ? nsCommand(netns, 'ss', ssArgs) : ['ss', ssArgs];
  const out = await run(cmd, args);
  const wild = (a: string) => a === '0.0.0.0' || a === '*' || a === '[::]' || a === '::';
  for (const line of out.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const i = local.lastIndexOf(':');
    const addr = local.slice(0, i).replace(/%.*$/, '');
    if (Number(local.slice(i + 1)) !== port || ours.includes(addr.replace(/^\[(.*)\]$/, '$1'))) continue;
    if (wild(addr) || ip === '' || ip === '0.0.0.0' || addr === ip || addr === `[${ip}]`) return 'in-use';
  }
  return undefined;
}
