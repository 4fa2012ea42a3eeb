import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { createConnection } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { DnsServer, inSubnet, parseUpstream, type Upstream } from './server.js';
import { buildQuery, buildResponse, DnsFormatError, parseQuery, parseResponse, RCODE, readName, TYPE } from './wire.js';

// Loopback only: servers on 127.x addresses, upstreams too.
const loop = () => `127.${randomInt(1, 250)}.${randomInt(1, 250)}.${randomInt(2, 250)}`;

function udpAsk(host: string, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no answer'));
    }, 10_000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, host);
  });
}

function tcpAsk(host: string, port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = createConnection({ host, port }, () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      c.write(Buffer.concat([head, msg]));
    });
    let buf = Buffer.alloc(0);
    c.on('error', reject);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        c.end();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
  });
}

/** A static upstream resolver on loopback: `names` answer A, everything else NXDOMAIN. */
async function upstream(t: ExecutionContext, names: Record<string, string>): Promise<Upstream> {
  const host = loop();
  const s = createSocket('udp4');
  s.on('message', (msg, r) => {
    const q = parseQuery(msg);
    const ip = names[q.questions[0]!.name];
    s.send(
      ip ? buildResponse(q, RCODE.NOERROR, [{ type: TYPE.A, ttl: 5, data: ip }]) : buildResponse(q, RCODE.NXDOMAIN),
      r.port,
      r.address,
    );
  });
  await new Promise<void>((res) => s.bind(0, host, res));
  t.teardown(() => s.close());
  return { host, port: s.address().port };
}

async function server(
  t: ExecutionContext,
  upstreams: Upstream[],
): Promise<{ dns: DnsServer; host: string; port: number }> {
  for (;;) {
    const host = loop();
    const port = randomInt(20000, 60000);
    const dns = new DnsServer({ network: 'appnet', addresses: [host], port, upstreams: () => upstreams });
    try {
      await dns.start();
    } catch {
      continue; // that port was taken: pick another
    }
    t.teardown(() => dns.stop());
    return { dns, host, port };
  }
}

test('wire: queries round-trip, compression loops and truncation are format errors', (t) => {
  const q = parseQuery(buildQuery(0x1234, 'web.example', TYPE.AAAA));
  t.is(q.id, 0x1234);
  t.true(q.recursionDesired);
  t.deepEqual(q.questions, [{ name: 'web.example', type: TYPE.AAAA, cls: 1 }]);
  const loopy = Buffer.concat([buildQuery(1, 'a', TYPE.A).subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  t.throws(() => parseQuery(loopy), { instanceOf: DnsFormatError });
  t.throws(() => parseQuery(Buffer.from([1, 2, 3])), { instanceOf: DnsFormatError });
  t.throws(() => parseQuery(buildQuery(1, 'abc.def', TYPE.A).subarray(0, 16)), { instanceOf: DnsFormatError });
  const r = parseResponse(
    buildResponse(q, RCODE.NOERROR, [
      { type: TYPE.AAAA, ttl: 1, data: 'fd00::5' },
      { type: TYPE.A, ttl: 1, data: '10.0.0.5' },
    ]),
  );
  t.deepEqual(
    r.answers.map((a) => a.data),
    ['fd00::5', '10.0.0.5'],
  );
  t.is(readName(Buffer.from([3, 0x61, 0x62, 0x63, 0]), 0)[0], 'abc');
  t.deepEqual(parseUpstream('127.0.0.53'), { host: '127.0.0.53', port: 53 });
  t.deepEqual(parseUpstream('127.0.0.2:5353'), { host: '127.0.0.2', port: 5353 });
  t.deepEqual(parseUpstream('[::1]:54'), { host: '::1', port: 54 });
  t.is(parseUpstream('resolver.example'), undefined);
  t.true(inSubnet('10.1.2.3', '10.1.0.0/16'));
  t.false(inSubnet('10.2.2.3', '10.1.0.0/16'));
  t.true(inSubnet('fd00:1::3', 'fd00:1::/64'));
  t.false(inSubnet('fd00:2::3', 'fd00:1::/64'));
  t.false(inSubnet('10.1.2.3', 'fd00:1::/64'));
});

test('clients outside the network subnets get forwarding only', async (t) => {
  const up = await upstream(t, { 'outside.test': '192.0.2.8' });
  const host = loop();
  const port = randomInt(20000, 60000);
  const dns = new DnsServer({ network: 'n', addresses: [host], port, subnets: ['10.9.0.0/24'], upstreams: () => [up] });
  await dns.start();
  t.teardown(() => dns.stop());
  dns.setEndpoint('e', ['secret'], ['10.9.0.2/24']);
  const q = buildQuery(31, 'secret', TYPE.A);
  t.is(parseResponse((await dns.answer(q, false, '10.9.0.5'))!).answers[0]?.data, '10.9.0.2');
  t.is(parseResponse((await dns.answer(q, false, '10.8.0.5'))!).rcode, RCODE.NXDOMAIN);
  const fwd = parseResponse((await dns.answer(buildQuery(32, 'outside.test', TYPE.A), false, '10.8.0.5'))!);
  t.deepEqual(
    fwd.answers.map((a) => a.data),
    ['192.0.2.8'],
  );
});

test('a container on several networks learns the names of each; a container on one does not', async (t) => {
  const up = await upstream(t, {});
  const servers: DnsServer[] = [];
  const peers = () => servers;
  // answer() is called directly: the servers need not listen.
  const server = (network: string, subnet: string) =>
    new DnsServer({ network, addresses: [loop()], subnets: [subnet], upstreams: () => [up], peers });
  const [a, b] = [server('a', '10.1.0.0/24'), server('b', '10.2.0.0/24')];
  servers.push(a, b);
  a.setEndpoint('x-a', ['both'], ['10.1.0.2/24'], { container: 'X' });
  b.setEndpoint('x-b', ['both'], ['10.2.0.2/24'], { container: 'X' });
  a.setEndpoint('y-a', ['only-a'], ['10.1.0.3/24'], { container: 'Y' });
  b.setEndpoint('z-b', ['web', 'web-alias'], ['10.2.0.4/24'], { container: 'Z' });
  b.setEndpoint('s-b', ['shared'], ['10.2.0.5/24'], { container: 'S' });
  a.setEndpoint('s-a', ['shared'], ['10.1.0.5/24'], { container: 'S' });
  const ask = async (dns: DnsServer, name: string, client: string) =>
    parseResponse((await dns.answer(buildQuery(7, name, TYPE.A), false, client))!);
  // X (on a and b) asks a's server for names of b: answered with b's addresses.
  t.deepEqual(
    (await ask(a, 'web', '10.1.0.2')).answers.map((r) => r.data),
    ['10.2.0.4'],
  );
  t.deepEqual(
    (await ask(a, 'web-alias.b', '10.1.0.2')).answers.map((r) => r.data),
    ['10.2.0.4'],
  );
  // A name on both networks: the asking network's address.
  t.deepEqual(
    (await ask(a, 'shared', '10.1.0.2')).answers.map((r) => r.data),
    ['10.1.0.5'],
  );
  // Y is on a only: b's names stay unknown to it.
  t.is((await ask(a, 'web', '10.1.0.3')).rcode, RCODE.NXDOMAIN);
});

test('a legacy link alias resolves as its target for the linking endpoint only', async (t) => {
  const up = await upstream(t, {});
  const dns = new DnsServer({ network: 'n', addresses: [loop()], subnets: ['10.3.0.0/24'], upstreams: () => [up] });
  dns.setEndpoint('db', ['db'], ['10.3.0.2/24']);
  dns.setEndpoint('web', ['web'], ['10.3.0.3/24'], { links: { Database: 'DB' } });
  dns.setEndpoint('other', ['other'], ['10.3.0.4/24']);
  const ask = async (name: string, client: string) =>
    parseResponse((await dns.answer(buildQuery(9, name, TYPE.A), false, client))!);
  t.deepEqual(
    (await ask('database', '10.3.0.3')).answers.map((r) => r.data),
    ['10.3.0.2'],
  );
  t.is((await ask('database', '10.3.0.4')).rcode, RCODE.NXDOMAIN);
  // A link to a container that is not on the network resolves nothing.
  dns.setEndpoint('web', ['web'], ['10.3.0.3/24'], { links: { gone: 'nosuch' } });
  t.is((await ask('gone', '10.3.0.3')).rcode, RCODE.NXDOMAIN);
});

test('answers names and aliases of its network, AAAA empty, PTR; forwards the rest over UDP and TCP', async (t) => {
  const up = await upstream(t, { 'outside.test': '192.0.2.7' });
  const { dns, host, port } = await server(t, [up]);
  dns.setEndpoint('e1', ['web', 'Alias1'], ['10.1.0.2/24']);
  dns.setEndpoint('e2', ['db', 'alias1'], ['10.1.0.3/24', 'fd00:1::3/64']);

  const a = parseResponse(await udpAsk(host, port, buildQuery(7, 'web', TYPE.A)));
  t.is(a.id, 7);
  t.is(a.rcode, RCODE.NOERROR);
  t.deepEqual(a.answers, [{ name: 'web', type: TYPE.A, data: '10.1.0.2' }]);
  const shared = parseResponse(await udpAsk(host, port, buildQuery(8, 'ALIAS1', TYPE.A)));
  t.deepEqual(shared.answers.map((x) => x.data).sort(), ['10.1.0.2', '10.1.0.3'], 'a shared alias answers both');
  const qualified = parseResponse(await udpAsk(host, port, buildQuery(9, 'db.appnet', TYPE.A)));
  t.deepEqual(
    qualified.answers.map((x) => x.data),
    ['10.1.0.3'],
  );
  const six = parseResponse(await udpAsk(host, port, buildQuery(10, 'web', TYPE.AAAA)));
  t.is(six.rcode, RCODE.NOERROR, 'a known name without IPv6 is NOERROR, not NXDOMAIN');
  t.deepEqual(six.answers, []);
  const six2 = parseResponse(await udpAsk(host, port, buildQuery(11, 'db', TYPE.AAAA)));
  t.deepEqual(
    six2.answers.map((x) => x.data),
    ['fd00:1::3'],
  );
  const ptr = parseResponse(await udpAsk(host, port, buildQuery(12, '3.0.1.10.in-addr.arpa', TYPE.PTR)));
  t.deepEqual(
    ptr.answers.map((x) => x.data),
    ['db'],
  );

  const fwd = parseResponse(await udpAsk(host, port, buildQuery(13, 'outside.test', TYPE.A)));
  t.is(fwd.id, 13);
  t.deepEqual(
    fwd.answers.map((x) => x.data),
    ['192.0.2.7'],
  );
  const nx = parseResponse(await udpAsk(host, port, buildQuery(14, 'nowhere.test', TYPE.A)));
  t.is(nx.rcode, RCODE.NXDOMAIN);

  const overTcp = parseResponse(await tcpAsk(host, port, buildQuery(15, 'web', TYPE.A)));
  t.deepEqual(
    overTcp.answers.map((x) => x.data),
    ['10.1.0.2'],
  );

  dns.removeEndpoint('e1');
  const gone = parseResponse(await udpAsk(host, port, buildQuery(16, 'web', TYPE.A)));
  t.is(gone.rcode, RCODE.NXDOMAIN, 'a removed endpoint is forwarded, and upstream does not know it');
});

test('upstream down: SERVFAIL; garbage: FORMERR or silence, and the server keeps serving', async (t) => {
  const dead: Upstream = { host: loop(), port: randomInt(20000, 60000) };
  const { dns, host, port } = await server(t, [dead]);
  dns.setEndpoint('e', ['alive'], ['10.2.0.2/24']);
  const fail = parseResponse(await udpAsk(host, port, buildQuery(21, 'elsewhere.test', TYPE.A)));
  t.is(fail.rcode, RCODE.SERVFAIL);
  const bad = Buffer.concat([buildQuery(22, 'x', TYPE.A).subarray(0, 12), Buffer.from([63, 1, 2])]);
  t.is(parseResponse(await udpAsk(host, port, bad)).rcode, RCODE.FORMERR);
  t.is(await dns.answer(Buffer.from([1, 2, 3]), false), undefined);
  const still = parseResponse(await udpAsk(host, port, buildQuery(23, 'alive', TYPE.A)));
  t.deepEqual(
    still.answers.map((x) => x.data),
    ['10.2.0.2'],
  );
});

test('internal networks answer their own names and forward nothing', async (t) => {
  const up = await upstream(t, { 'outside.test': '192.0.2.9' });
  const dns = new DnsServer({ network: 'n', addresses: [loop()], port: 53, forward: false, upstreams: () => [up] });
  dns.setEndpoint('e', ['inner'], ['10.9.1.2/24']);
  t.deepEqual(
    parseResponse((await dns.answer(buildQuery(41, 'inner', TYPE.A), false))!).answers.map((a) => a.data),
    ['10.9.1.2'],
  );
  t.is(parseResponse((await dns.answer(buildQuery(42, 'outside.test', TYPE.A), false))!).rcode, RCODE.SERVFAIL);
});

test('start fails cleanly when the address is taken', async (t) => {
  const { host, port } = await server(t, []);
  const second = new DnsServer({ network: 'n', addresses: [host], port, upstreams: () => [] });
  await t.throwsAsync(second.start());
  await second.stop();
});

test("an endpoint's own upstreams (--dns) answer its other queries; the rest use the network's", async (t) => {
  const [shared, own] = [
    await upstream(t, { 'outside.test': '192.0.2.8' }),
    await upstream(t, { 'outside.test': '198.51.100.9' }),
  ];
  const { dns } = await server(t, [shared]);
  dns.setEndpoint('e', ['web'], ['10.9.0.2/24'], { upstreams: [own] });
  const ask = async (client: string) =>
    parseResponse((await dns.answer(buildQuery(41, 'outside.test', TYPE.A), false, client))!).answers.map(
      (a) => a.data,
    );
  t.deepEqual(await ask('10.9.0.2'), ['198.51.100.9']);
  t.deepEqual(await ask('10.9.0.3'), ['192.0.2.8']);
  // Its own names are still the network's.
  t.is(
    parseResponse((await dns.answer(buildQuery(42, 'web', TYPE.A), false, '10.9.0.2'))!).answers[0]?.data,
    '10.9.0.2',
  );
});
