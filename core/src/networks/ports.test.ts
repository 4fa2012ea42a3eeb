import { createServer } from 'node:net';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { HostPortAllocator } from './host-port-allocator.js';
import { ipv6Listenable, portsView, resolvePorts, validatePorts, wantedPorts } from './ports.js';

test('PortBindings and -P become wanted publications (host ip default, ranges, udp)', (t) => {
  const w = wantedPorts(
    {
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
      '53/udp': [{ HostIp: '', HostPort: '' }],
      '90': [{ HostPort: '9000-9010' }],
    },
    { '7000/tcp': {}, '80/tcp': {} },
    true,
  );
  const byPort = (a: { containerPort: number }, b: { containerPort: number }) => a.containerPort - b.containerPort;
  t.deepEqual(
    [...w].sort(byPort),
    [
      { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, hostPortEnd: 8080 },
      { containerPort: 53, protocol: 'udp', hostIp: '0.0.0.0', hostPort: 0, hostPortEnd: 0, bothFamilies: true },
      { containerPort: 90, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 9000, hostPortEnd: 9010, bothFamilies: true },
      { containerPort: 7000, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 0, hostPortEnd: 0, bothFamilies: true },
    ].sort(byPort),
  );
});

test('bad port specifications are 400s', (t) => {
  for (const [b, e] of [
    [{ '99999/tcp': [] }, null],
    [{ '80/icmp': [] }, null],
    [{ '80/tcp': [{ HostPort: '70000' }] }, null],
    [{ '80/tcp': [{ HostPort: '9010-9000' }] }, null],
    [{ '80/tcp': [{ HostIp: 'nope' }] }, null],
    [null, { 'x/tcp': {} }],
  ] as const)
    t.throws(() => validatePorts(b, e), { instanceOf: InvalidParameterError });
});

test('an explicit 0.0.0.0, a host_binding_ipv4 of the network or sctp publish on IPv4 only', async (t) => {
  const w = wantedPorts(
    { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '80' }], '81/sctp': [{ HostPort: '81' }] },
    null,
    false,
  );
  t.is(w.find((x) => x.containerPort === 80)?.bothFamilies, undefined);
  t.is(wantedPorts({ '82/tcp': [{}] }, null, false, '10.1.2.3')[0]?.bothFamilies, undefined);
  t.deepEqual(
    (await resolvePorts(w)).map((m) => `${m.hostIp}:${m.hostPort}/${m.protocol}`),
    ['0.0.0.0:80/tcp', '0.0.0.0:81/sctp'],
  );
});

test('random host ports are free ones, the same on 0.0.0.0 and ::; NetworkSettings.Ports shape', async (t) => {
  const m = await resolvePorts(wantedPorts({ '80/tcp': [{ HostIp: '127.0.0.1' }], '53/udp': [{}] }, null, false));
  t.true(m.every((x) => x.hostPort > 0));
  const udp = String(m[1]!.hostPort);
  t.deepEqual(portsView(m, { '80/tcp': {}, '81/tcp': {} }), {
    '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(m[0]!.hostPort) }],
    '81/tcp': null,
    '53/udp': [
      { HostIp: '0.0.0.0', HostPort: udp },
      ...((await ipv6Listenable()) ? [{ HostIp: '::', HostPort: udp }] : []),
    ],
  });
});

test('random host ports come from the allocator: one bound on the host or held by a publication is passed over', async (t) => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const bound = (srv.address() as { port: number }).port;
  const allocator = new HostPortAllocator({ low: bound, high: Math.min(bound + 20, 65535) });
  const [m] = await resolvePorts(
    wantedPorts({ '80/tcp': [{ HostIp: '127.0.0.1' }] }, null, false),
    allocator,
    new Map([['tcp', new Set([bound + 1])]]),
  );
  t.true(m!.hostPort > bound + 1 && m!.hostPort <= bound + 20, String(m!.hostPort));
});
