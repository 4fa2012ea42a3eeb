import test from 'ava';
import { defaultRoutesOf, gatewayEndpoint } from './gateway.js';

const ep = (network: string, ifName: string, ...gws: string[]) => ({
  network,
  ifName,
  result: {
    interfaces: [{ name: ifName }],
    ips: [],
    routes: gws.map((gw) => ({ dst: gw.includes(':') ? '::/0' : 'default', gw })),
  },
});

test('the gateway endpoint: dual-stack first, then the network name; never one without a gateway', (t) => {
  const b = ep('b', 'eth0', '10.0.1.1');
  const a = ep('a', 'eth1', '10.0.2.1');
  const internal = ep('0-internal', 'eth2');
  t.is(gatewayEndpoint([b, a, internal]), a);
  const z = ep('z', 'eth3', '10.0.3.1', 'fd00::1');
  t.is(gatewayEndpoint([b, a, z]), z);
  t.is(gatewayEndpoint([internal]), undefined);
  t.deepEqual(defaultRoutesOf(z), { v4: { gw: '10.0.3.1', dev: 'eth3' }, v6: { gw: 'fd00::1', dev: 'eth3' } });
  t.deepEqual(defaultRoutesOf(internal), {});
});
