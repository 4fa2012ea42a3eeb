/**
 * A TCP probe for network benchmarks, run in a network namespace (`nsenter --net=… node
 * tcp-probe.js …`):
 *   server <port>                 serves both modes below until killed; prints "ready" once listening
 *   throughput <host> <port> <MB> sends MB mebibytes; prints {"bytes", "ms"} (until the server had them all)
 *   latency <host> <port> <n>     n one-byte round trips (after 200 warm-ups); prints {"rtts": [µs…]}
 * The first byte a client sends picks the mode: 'T' throughput, 'L' latency.
 */

import { connect, createServer, type Socket } from 'node:net';

const CHUNK = Buffer.alloc(256 * 1024);

function serve(port: number): void {
  const server = createServer((sock) => {
    sock.setNoDelay(true);
    let mode: 'T' | 'L' | undefined;
    let bytes = 0;
    sock.on('data', (buf: Buffer) => {
      if (!mode) {
        mode = buf[0] === 0x4c ? 'L' : 'T';
        buf = buf.subarray(1);
      }
      if (mode === 'L') sock.write(buf);
      else bytes += buf.length;
    });
    sock.on('end', () => (mode === 'T' ? sock.end(`${bytes}\n`) : sock.end()));
    sock.on('error', () => sock.destroy());
  });
  server.listen(port, '0.0.0.0', () => process.stdout.write('ready\n'));
}

function opened(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

async function throughput(host: string, port: number, mib: number): Promise<{ bytes: number; ms: number }> {
  const sock = await opened(host, port);
  const total = mib * 1024 * 1024;
  const reply = new Promise<string>((resolve, reject) => {
    let text = '';
    sock.on('data', (b: Buffer) => (text += b.toString()));
    sock.on('end', () => resolve(text));
    sock.on('error', reject);
  });
  const t0 = process.hrtime.bigint();
  sock.write('T');
  for (let sent = 0; sent < total; sent += CHUNK.length)
    if (!sock.write(CHUNK)) await new Promise((r) => sock.once('drain', r));
  sock.end();
  const got = Number((await reply).trim());
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (got < total) throw new Error(`server received ${got} of ${total} bytes`);
  return { bytes: got, ms };
}

async function latency(host: string, port: number, n: number): Promise<{ rtts: number[] }> {
  const sock = await opened(host, port);
  sock.write('L');
  let wake: (() => void) | undefined;
  sock.on('data', () => wake?.());
  const once = async (): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const back = new Promise<void>((r) => (wake = r));
    sock.write('x');
    await back;
    return Number(process.hrtime.bigint() - t0) / 1e3;
  };
  for (let i = 0; i < 200; i++) await once();
  const rtts: number[] = [];
  for (let i = 0; i < n; i++) rtts.push(await once());
  sock.end();
  return { rtts };
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'server') serve(Number(a));
else if (mode === 'throughput') process.stdout.write(JSON.stringify(await throughput(a!, Number(b), Number(c))) + '\n');
else if (mode === 'latency') process.stdout.write(JSON.stringify(await latency(a!, Number(b), Number(c))) + '\n');
else {
  process.stderr.write('usage: tcp-probe server <port> | throughput <host> <port> <MiB> | latency <host> <port> <n>\n');
  process.exit(2);
}
