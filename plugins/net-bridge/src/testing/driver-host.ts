/**
 * Test fixture: runs a BridgeDriver with an NftablesFirewall in the namespace this process was
 * started in (`ip netns exec <ns> node driver-host.js '<json>'`), as skiffd would on a host, and
 * serves calls as JSON lines on stdin/stdout. The embedded DNS servers and the firewall must live
 * in the namespace that plays the host, which a test process cannot enter itself (no setns).
 *
 * Config: { table, dnsPort?, upstream?: { port, names: {name: ipv4} } } — `upstream` starts a
 * static DNS server on 127.0.0.1:<port> to stand for the host's resolver (loopback only).
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { NftablesFirewall } from '@skiff/firewall-nftables';
import { BridgeDriver } from '../bridge-driver.js';
import { buildResponse, parseQuery, RCODE, TYPE } from '../dns/wire.js';

interface Config {
  table: string;
  dnsPort?: number;
  upstream?: { port: number; names: Record<string, string> };
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;

async function staticResolver(port: number, names: Record<string, string>): Promise<void> {
  const sock = createSocket('udp4');
  sock.on('message', (msg, r) => {
    const q = parseQuery(msg);
    const name = q.questions[0]?.name.toLowerCase() ?? '';
    const ip = names[name];
    const out =
      ip && q.questions[0]?.type === TYPE.A
        ? buildResponse(q, RCODE.NOERROR, [{ type: TYPE.A, ttl: 60, data: ip }])
        : buildResponse(q, ip ? RCODE.NOERROR : RCODE.NXDOMAIN);
    sock.send(out, r.port, r.address);
  });
  await new Promise<void>((res) => sock.bind(port, '127.0.0.1', res));
}

if (config.upstream) await staticResolver(config.upstream.port, config.upstream.names);
const firewall = new NftablesFirewall({ table: config.table });
const driver = new BridgeDriver({
  firewall,
  dnsPort: config.dnsPort,
  dnsUpstreams: config.upstream ? [{ host: '127.0.0.1', port: config.upstream.port }] : [],
});
const targets: Record<string, object> = { driver, firewall };

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const { id, target, method, args } = JSON.parse(line) as {
    id: number;
    target: string;
    method: string;
    args: unknown[];
  };
  const obj = targets[target] as Record<string, (...a: unknown[]) => Promise<unknown>>;
  Promise.resolve()
    .then(() => obj[method]!(...args))
    .then(
      (result) => process.stdout.write(`${JSON.stringify({ id, result: result ?? null })}\n`),
      (e: Error) => process.stdout.write(`${JSON.stringify({ id, error: { name: e.name, message: e.message } })}\n`),
    );
});
rl.on('close', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
