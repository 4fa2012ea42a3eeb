import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import test from 'ava';
import { ProxyListenError, type ProxySpec, UserlandProxies } from './userland-proxy.js';

// Loopback only: backends on 127.0.0.1, proxies on ::1 (an IPv6 host address in front of IPv4).

async function listen(server: Server, host: string, port = 0): Promise<number> {
  server.listen({ host, port });
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** A free TCP port on ::1 (taken and let go). */
async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s, '::1');
  await new Promise((r) => s.close(r));
  return port;
}

/** Sends `text` through [::1]:port, half-closes, and reads until the other side ends. */
async function exchange(port: number, text: string): Promise<string> {
  const sock = connect({ host: '::1', port });
  await once(sock, 'connect');
  sock.end(text);
  let got = '';
  for await (const chunk of sock) got += String(chunk);
  return got;
}

test('tcp: relays both ways across families, and each direction ends on its own', async (t) => {
  // The backend answers only once the client has finished sending (half-close must get through).
  const backend = createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.on('data', (b) => (got += String(b)));
    s.on('end', () => s.end(got.toUpperCase()));
  });
  const target = await listen(backend, '127.0.0.1');
  t.teardown(() => void backend.close());
  const proxies = new UserlandProxies();
  t.teardown(() => proxies.closeAll());
  const port = await freePort();
  await proxies.reconcile([
    { protocol: 'tcp', hostIp: '::1', hostPort: port, target: '127.0.0.1', targetPort: target },
  ]);
  t.is(await exchange(port, 'hello'), 'HELLO');
  t.is(await exchange(port, 'again'), 'AGAIN');
});

test('udp: each client gets its own replies', async (t) => {
  const backend = createSocket('udp4');
  backend.on('message', (m, from) => backend.send(`${String(m)}!`, from.port, from.address));
  backend.bind(0, '127.0.0.1');
  await once(backend, 'listening');
  t.teardown(() => backend.close());
  const proxies = new UserlandProxies();
  t.teardown(() => proxies.closeAll());
  const port = await freePort();
  await proxies.reconcile([
    { protocol: 'udp', hostIp: '::1', hostPort: port, target: '127.0.0.1', targetPort: backend.address().port },
  ]);
  const ask = async (text: string) => {
    const c = createSocket('udp6');
    try {
      c.send(text, port, '::1');
      const [msg] = (await once(c, 'message', { signal: AbortSignal.timeout(5000) })) as [Buffer];
      return String(msg);
    } finally {
      c.close();
    }
  };
  const [a, b] = await Promise.all([ask('one'), ask('two')]);
  t.deepEqual([a, b], ['one!', 'two!']);
});

test('reconcile: a taken port is a ProxyListenError and rolls back only what that call opened', async (t) => {
  const backend = createServer((s) => s.end('ok'));
  const target = await listen(backend, '127.0.0.1');
  t.teardown(() => void backend.close());
  const squatter = createServer();
  const taken = await listen(squatter, '::1');
  t.teardown(() => void squatter.close());
  const proxies = new UserlandProxies();
  t.teardown(() => proxies.closeAll());
  const spec = (hostPort: number): ProxySpec => ({
    protocol: 'tcp',
    hostIp: '::1',
    hostPort,
    target: '127.0.0.1',
    targetPort: target,
  });
  const [kept, fresh] = [await freePort(), await freePort()];
  await proxies.reconcile([spec(kept)]);
  const err = await t.throwsAsync(proxies.reconcile([spec(kept), spec(fresh), spec(taken)]), {
    instanceOf: ProxyListenError,
  });
  t.is(err?.code, 'EADDRINUSE');
  t.is(err?.where, `[::1]:${taken}/tcp`);
  t.is(await exchange(kept, ''), 'ok');
  // The port the failed call had opened is free again.
  const probe = createServer();
  t.is(await listen(probe, '::1', fresh), fresh);
  await new Promise((r) => probe.close(r));
  t.deepEqual(
    (await proxies.reconcile([spec(kept), spec(taken)], { bestEffort: true })).map((f) => f.spec.hostPort),
    [taken],
  );
  await proxies.reconcile([]);
  await t.throwsAsync(exchange(kept, ''), { code: 'ECONNREFUSED' });
});
