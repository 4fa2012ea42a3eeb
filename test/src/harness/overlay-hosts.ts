import { randomInt } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { type NetnsDaemon, startNetnsDaemon, uid } from './netns-daemon.js';
import { run, runOk, sleep } from './proc.js';

/*
 * Simulated skiff hosts for overlay networks: each host is a network namespace with its own
 * skiffd (root, socket, advertise address), wired as `ul0` to an underlay bridge `br0` in a
 * "switch" namespace the caller creates. etcd runs on that bridge (address .1). Nothing here
 * touches the machine's own namespace or NIC.
 */

type Teardown = Pick<ExecutionContext, 'teardown'>;

export interface Underlay {
  /** The switch namespace (`ip netns` name), holding `br0` at `<prefix>.1/24`. */
  netns: string;
  /** `10.x.y`: hosts are `<prefix>.<n>`. */
  prefix: string;
  /** The switch's own address on the bridge (where etcd listens). */
  address: string;
}

export async function underlay(t: Teardown): Promise<Underlay> {
  const netns = `skiff-t-${uid()}-sw`;
  const prefix = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
  await runOk('ip', ['netns', 'add', netns]);
  t.teardown(() => run('ip', ['netns', 'del', netns]).then(() => {}));
  await runOk('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  await runOk('ip', ['-n', netns, 'link', 'add', 'br0', 'type', 'bridge']);
  await runOk('ip', ['-n', netns, 'addr', 'add', `${prefix}.1/24`, 'dev', 'br0']);
  await runOk('ip', ['-n', netns, 'link', 'set', 'br0', 'up']);
  return { netns, prefix, address: `${prefix}.1` };
}

export interface OverlayHostOptions {
  /** `cluster-store` (etcd://…). */
  store: string;
  /** `cluster-advertise`; default the host's underlay address. */
  advertise?: string;
  /** `cluster-store-opts` (kv.cacertfile, kv.certfile, kv.keyfile). */
  storeOpts?: Record<string, string>;
  /** Seconds a dead host's endpoints stay visible (net-overlay leaseTtl); default 4. */
  leaseTtl?: number;
}

/** Host `n`: its namespace wired to the underlay as `ul0` with address `<prefix>.n`, then skiffd. */
export async function overlayHost(t: Teardown, u: Underlay, n: number, o: OverlayHostOptions): Promise<NetnsDaemon> {
  const ip = `${u.prefix}.${n}`;
  return startNetnsDaemon(t, {
    config: {
      'cluster-store': o.store,
      'cluster-advertise': o.advertise ?? ip,
      ...(o.storeOpts ? { 'cluster-store-opts': o.storeOpts } : {}),
      'plugin-config': {
        '@skiff/net-bridge': { dnsUpstreams: [] },
        '@skiff/net-overlay': { leaseTtl: o.leaseTtl ?? 4 },
      },
    },
    beforeStart: async (ns) => {
      const port = `up${n}-${uid().slice(0, 5)}`;
      await runOk('ip', ['-n', u.netns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', ns]);
      await runOk('ip', ['-n', u.netns, 'link', 'set', port, 'master', 'br0', 'up']);
      await runOk('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'ul0']);
      await runOk('ip', ['-n', ns, 'link', 'set', 'ul0', 'up']);
    },
  });
}

/** Polls `check` every 500 ms until it holds; false after `seconds`. */
export async function waitFor(check: () => Promise<boolean>, seconds = 120): Promise<boolean> {
  for (let i = 0; i < seconds * 2; i++) {
    if (await check()) return true;
    await sleep(500);
  }
  return false;
}

/** One ICMP echo from container `c` (busybox ping) to `target`, answered within 2 s. */
export const pingOk = async (d: NetnsDaemon, c: string, target: string): Promise<boolean> =>
  (await d.cli('exec', c, 'ping', '-c', '1', '-W', '2', target)).code === 0;

/** The container's address on network `net`. */
export async function ipOn(d: NetnsDaemon, container: string, net: string): Promise<string> {
  const r = await d.cli('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, container);
  if (r.code !== 0) throw new Error(`docker inspect ${container}: ${r.stderr}`);
  return r.stdout.trim();
}
