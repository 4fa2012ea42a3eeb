import { createHash } from 'node:crypto';
import { NftablesFirewall } from '@skiff/firewall-nftables';
import { networkDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import { BridgeDriver } from './bridge-driver.js';
import { RemoteBridgeDriver } from './testing/remote.js';

const table = (hostNetns: string) => `skiff_c${createHash('sha256').update(hostNetns).digest('hex').slice(0, 10)}`;

// In-process: host-side work through `ip -batch` in the suite's host namespace (no DNS there).
networkDriverSuite(test, 'bridge (ip backend)', async ({ hostNetns }) => {
  const firewall = new NftablesFirewall({ netns: hostNetns, table: table(hostNetns) });
  return new BridgeDriver({ firewall, netns: hostNetns, dnsUpstreams: [] });
});

// As the daemon runs it: rtnetlink, nftables and the DNS server inside the host namespace.
const remotes: RemoteBridgeDriver[] = [];
test.after.always(async () => {
  await Promise.all(remotes.map((r) => r.kill()));
});
networkDriverSuite(test, 'bridge (rtnetlink, daemon in the host namespace)', async ({ hostNetns }) => {
  const ns = hostNetns.replace(/^\/run\/netns\//, '');
  const r = await RemoteBridgeDriver.start(ns, { table: table(hostNetns) });
  remotes.push(r);
  return r;
});
