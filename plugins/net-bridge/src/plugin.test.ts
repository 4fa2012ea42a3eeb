import { providedNetworkDriver } from '@skiff/core/testkit';
import { type Firewall, InvalidParameterError, Tokens } from '@skiff/core/plugin-api';
import { NftablesFirewall } from '@skiff/firewall-nftables';
import firewallPlugin from '@skiff/firewall-nftables';
import test from 'ava';
import bridgePlugin from './plugin.js';

// Registration only: building the driver and the firewall changes nothing on the host.
const services = (fw: Firewall) => new Map<symbol, unknown>([[Tokens.Firewall, fw]]);

test('the bridge plugin provides a driver that needs the firewall and checks its settings', async (t) => {
  t.deepEqual(bridgePlugin.requires, ['Firewall']);
  const fw = new NftablesFirewall({ table: 'skiff_unused' });
  const d = await providedNetworkDriver(bridgePlugin, {
    services: services(fw),
    settings: { dnsUpstreams: ['127.0.0.53', '127.0.0.1:5353'], dnsPort: 53 },
  });
  t.like(d.capabilities(), { namespace: 'private', endpoints: true, needsIpam: true, portMapping: true, dns: true });
  t.is(d.name, 'bridge');
  (d as unknown as { close(): Promise<void> }).close?.();
  for (const settings of [
    { dnsUpstreams: ['resolver.example'] },
    { dnsUpstreams: 'x' },
    { dnsPort: 'x' },
    { dns: 'no' },
  ])
    await t.throwsAsync(providedNetworkDriver(bridgePlugin, { services: services(fw), settings }), {
      instanceOf: InvalidParameterError,
    });
  await t.throwsAsync(providedNetworkDriver(bridgePlugin, { settings: {} }), { message: /firewall/ });
});

test('the nftables plugin provides a firewall and refuses bad settings', async (t) => {
  let made: unknown;
  const registrar = (settings: Record<string, unknown>) => ({
    name: 'nftables',
    kind: 'firewall' as const,
    settings,
    log: { debug() {}, info() {}, warn() {}, error() {}, child: () => registrar({}).log },
    paths: { root: '/nonexistent', state: '/nonexistent' },
    provide: (f: (o: Record<string, unknown>) => unknown) => {
      made = f({});
    },
    get: () => {
      throw new Error('none');
    },
    skip: (r: string): never => {
      throw new Error(r);
    },
  });
  await firewallPlugin.register(registrar({ table: 'skiff_x1', mark: 0x100 }) as never);
  t.true(made instanceof NftablesFirewall);
  t.is((made as NftablesFirewall).table, 'skiff_x1');
  for (const settings of [{ table: 5 }, { table: 'bad table' }, { mark: 'x' }, { checkListeners: 'yes' }])
    await t.throwsAsync(async () => firewallPlugin.register(registrar(settings) as never), {
      instanceOf: InvalidParameterError,
    });
});
