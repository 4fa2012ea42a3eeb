import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import { run } from '../host/exec.js';
import { PluginSkipError } from '../plugin-api/errors.js';
import type { Logger } from '../plugin-api/logger.js';
import type { DriverOptions, PluginManifest, PluginRegistrar } from '../plugin-api/manifest.js';
import type {
  AttachRequest,
  AttachResult,
  IpamPool,
  NetworkDriver,
  NetworkDriverCapabilities,
  NetworkSpec,
} from '../plugin-api/network-driver.js';
import { testNetns } from './netns.js';

/** What the suite hands a driver factory. */
export interface NetworkSuiteContext {
  /** A network namespace the suite created to stand for "the host" (drivers that make bridges, parents…). */
  hostNetns: string;
  /** Private directory of this driver instance; a second factory call with the same one is a restarted daemon. */
  stateDir: string;
}

export interface NetworkSuiteOptions {
  /** Register the suite as skipped with this reason. */
  skip?: string;
  /**
   * Called once per network the suite creates, inside the test: driver options (e.g. a macvlan
   * `parent` the hook creates in `ctx.hostNetns`).
   */
  networkOptions?: (ctx: NetworkSuiteContext) => Promise<Record<string, string>>;
}

interface Ctx {
  t: ExecutionContext;
  suite: NetworkSuiteContext;
  driver: NetworkDriver;
  caps: NetworkDriverCapabilities;
  spec: NetworkSpec;
  pools: IpamPool[];
  /** A fresh netns for one endpoint, deleted in teardown. */
  netns(): Promise<string>;
  request(netnsPath: string, n: number): AttachRequest;
}

const uid = () => randomBytes(4).toString('hex');

/** Links of a namespace (by its /run/netns path), loopback left out. */
async function linksIn(netnsPath: string): Promise<{ ifname: string; address?: string; addrs: string[] }[]> {
  const name = netnsPath.replace(/^\/run\/netns\//, '');
  const out = JSON.parse(await run('ip', ['-n', name, '-j', 'addr', 'show'])) as {
    ifname: string;
    address?: string;
    addr_info?: { local: string; prefixlen: number }[];
  }[];
  return out
    .filter((l) => l.ifname !== 'lo')
    .map((l) => ({
      ifname: l.ifname,
      address: l.address,
      addrs: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
    }));
}

function checkResult(t: ExecutionContext, result: AttachResult): void {
  t.true(Array.isArray(result.interfaces), 'interfaces is a list');
  t.true(Array.isArray(result.ips), 'ips is a list');
  t.true(Array.isArray(result.routes), 'routes is a list');
  for (const i of result.interfaces) t.is(typeof i.name, 'string');
  for (const ip of result.ips) {
    t.regex(ip.address, /\/\d+$/, 'ips are CIDRs');
    if (ip.interface !== undefined) t.truthy(result.interfaces[ip.interface], 'ips[].interface indexes interfaces');
  }
  if (result.dns) t.true(Array.isArray(result.dns.nameservers));
}

/**
 * The conformance suite every network driver runs: attach result shape, detach twice, detach after
 * a failed attach, restore after a restart, concurrent attaches. Each test creates its own network
 * namespaces (`skiff-t-<random>`, deleted in teardown) and a private subnet; what a test checks
 * depends only on the driver's capabilities().
 */
export function networkDriverSuite(
  test: TestFn,
  name: string,
  factory: (ctx: NetworkSuiteContext) => Promise<NetworkDriver>,
  opts: NetworkSuiteOptions = {},
): void {
  if (opts.skip) {
    test.skip(`${name}: network driver conformance (skipped: ${opts.skip})`, () => {});
    return;
  }

  async function setup(t: ExecutionContext): Promise<Ctx> {
    const id = uid();
    const stateDir = await mkdtemp(join(tmpdir(), 'skiff-nts-'));
    t.teardown(() => rm(stateDir, { recursive: true, force: true }));
    const hostNetns = (await testNetns(t, `skiff-t-${id}-h`)).path;
    const suite = { hostNetns, stateDir };
    const driver = await factory(suite);
    const caps = driver.capabilities();
    const a = randomInt(100, 200);
    const b = randomInt(0, 256);
    const subnet = `10.${a}.${b}.0/24`;
    const pools: IpamPool[] = caps.needsIpam ? [{ poolId: `pool-${id}`, subnet, gateway: `10.${a}.${b}.1` }] : [];
    const spec: NetworkSpec = {
      id: randomBytes(32).toString('hex'),
      name: `nts-${id}`,
      driver: driver.name,
      internal: false,
      ipv6: false,
      options: opts.networkOptions ? await opts.networkOptions(suite) : {},
      labels: {},
    };
    let seq = 0;
    return {
      t,
      suite,
      driver,
      caps,
      spec,
      pools,
      netns: async () => (await testNetns(t, `skiff-t-${id}-c${++seq}`)).path,
      request: (netnsPath, n) => ({
        endpointId: randomBytes(32).toString('hex'),
        containerId: randomBytes(32).toString('hex'),
        dnsNames: [`c${n}-${id}`],
        network: spec,
        netnsPath,
        ifName: 'eth0',
        addresses: caps.needsIpam ? [`10.${a}.${b}.${n + 1}/24`] : [],
        ...(caps.needsIpam ? { gateway: `10.${a}.${b}.1` } : {}),
        ports: [],
        aliases: [],
        options: {},
      }),
    };
  }

  async function withNetwork(
    t: ExecutionContext,
    fn: (c: Ctx, state: Record<string, string>) => Promise<void>,
  ): Promise<void> {
    const c = await setup(t);
    const state = await c.driver.createNetwork(c.spec, c.pools);
    t.teardown(() => c.driver.deleteNetwork(c.spec).catch(() => {}));
    t.true(state !== null && typeof state === 'object', 'createNetwork returns a state object');
    for (const v of Object.values(state)) t.is(typeof v, 'string', 'driver state values are strings');
    await fn(c, state);
    await c.driver.deleteNetwork(c.spec);
    await c.driver.deleteNetwork(c.spec);
  }

  /** What an attached endpoint must look like inside its namespace. */
  async function checkAttached(c: Ctx, req: AttachRequest, result: AttachResult): Promise<void> {
    const { t } = c;
    checkResult(t, result);
    if (!c.caps.endpoints) return;
    const links = await linksIn(req.netnsPath);
    const link = links.find((l) => l.ifname === req.ifName);
    t.truthy(
      link,
      `${req.ifName} exists in the container's namespace (found ${links.map((l) => l.ifname).join(', ')})`,
    );
    for (const a of req.addresses) t.true(link?.addrs.includes(a), `${a} is on ${req.ifName}`);
    const sandboxed = result.interfaces.filter((i) => i.sandbox);
    t.true(
      sandboxed.some((i) => i.name === req.ifName),
      'result names the interface in the sandbox',
    );
    for (const a of req.addresses)
      t.true(
        result.ips.some((ip) => ip.address === a),
        `result lists ${a}`,
      );
    if (req.mac) t.is(link?.address, req.mac);
  }

  async function checkDetached(c: Ctx, req: AttachRequest): Promise<void> {
    if (!c.caps.endpoints) return;
    const links = await linksIn(req.netnsPath);
    c.t.deepEqual(
      links.map((l) => l.ifname),
      [],
      'nothing but loopback is left in the namespace',
    );
  }

  test(`${name}: capabilities are well-formed`, async (t) => {
    const c = await setup(t);
    t.true(['host', 'private'].includes(c.caps.namespace));
    t.true(['local', 'global'].includes(c.caps.scope));
    for (const k of ['endpoints', 'needsIpam', 'portMapping', 'dns'] as const) t.is(typeof c.caps[k], 'boolean');
    if (c.caps.namespace === 'host') t.false(c.caps.endpoints, 'host-namespace drivers have no endpoints');
    t.is(typeof c.driver.name, 'string');
  });

  test(`${name}: attach result shape, detach twice`, async (t) => {
    await withNetwork(t, async (c) => {
      const ns = await c.netns();
      const req = { ...c.request(ns, 1), mac: '02:42:0a:0b:0c:0d' };
      const result = await c.driver.attach(req);
      await checkAttached(c, req, result);
      await c.driver.detach(req, result);
      await checkDetached(c, req);
      await c.driver.detach(req, result);
      await c.driver.detach(req, null);
      await checkDetached(c, req);
    });
  });

  test(`${name}: detach after a failed attach leaves nothing behind`, async (t) => {
    await withNetwork(t, async (c) => {
      if (!c.caps.endpoints) {
        // Nothing to attach: the calls must still be harmless.
        const ns = await c.netns();
        const req = c.request(ns, 1);
        await c.driver.detach(req, null);
        t.pass();
        return;
      }
      const gone = `/run/netns/skiff-t-${uid()}-missing`;
      const bad = c.request(gone, 1);
      await t.throwsAsync(() => c.driver.attach(bad), undefined, 'attach to a missing namespace fails');
      await c.driver.detach(bad, null);
      // The failed attach freed whatever it took: the same endpoint attaches fine elsewhere.
      const ns = await c.netns();
      const req = { ...bad, netnsPath: ns };
      const result = await c.driver.attach(req);
      await checkAttached(c, req, result);
      await c.driver.detach(req, result);
      await checkDetached(c, req);
    });
  });

  test(`${name}: restore after a restart keeps endpoints working`, async (t) => {
    await withNetwork(t, async (c, state) => {
      const ns = await c.netns();
      const req = c.request(ns, 1);
      const result = await c.driver.attach(req);
      // A restarted daemon: a new driver instance on the same state directory.
      const again = await factory(c.suite);
      if (again.restore) await again.restore([{ spec: c.spec, pools: c.pools, state }], [{ req, result }]);
      else t.log('driver has no restore(): nothing to rebuild');
      await checkAttached({ ...c, driver: again }, req, result);
      // The endpoint a new instance knows about can be attached again next to the old one and detached.
      if (c.caps.endpoints) {
        const ns2 = await c.netns();
        const req2 = c.request(ns2, 2);
        const r2 = await again.attach(req2);
        await checkAttached({ ...c, driver: again }, req2, r2);
        await again.detach(req2, r2);
      }
      await again.detach(req, result);
      await checkDetached(c, req);
    });
  });

  test(`${name}: concurrent attaches all succeed and detach cleanly`, async (t) => {
    await withNetwork(t, async (c) => {
      const n = 4;
      const reqs = await Promise.all(Array.from({ length: n }, async (_, i) => c.request(await c.netns(), i + 1)));
      const results = await Promise.all(reqs.map((r) => c.driver.attach(r)));
      for (let i = 0; i < n; i++) await checkAttached(c, reqs[i]!, results[i]!);
      if (c.caps.endpoints) {
        const macs = await Promise.all(
          reqs.map(async (r) => (await linksIn(r.netnsPath)).find((l) => l.ifname === r.ifName)?.address),
        );
        t.is(new Set(macs).size, n, 'every endpoint has its own MAC address');
      }
      await Promise.all(reqs.map((r, i) => c.driver.detach(r, results[i]!)));
      for (const r of reqs) await checkDetached(c, r);
    });
  });
}

/**
 * The driver a network plugin's manifest provides, built the way the host builds it (for
 * conformance tests of plugin packages). `services` answers the registrar's get().
 */
export async function providedNetworkDriver(
  manifest: PluginManifest<'network'>,
  opts: {
    paths?: { root: string; state: string };
    settings?: Record<string, unknown>;
    services?: Map<symbol, unknown>;
  } = {},
): Promise<NetworkDriver> {
  let factory: ((o: DriverOptions) => NetworkDriver | Promise<NetworkDriver>) | undefined;
  const registrar: PluginRegistrar<'network'> = {
    name: manifest.name,
    kind: 'network',
    settings: opts.settings ?? {},
    log: silentLogger,
    paths: opts.paths ?? { root: tmpdir(), state: tmpdir() },
    provide: (f) => {
      factory = f;
    },
    get: <T>(token: symbol): T => {
      if (!opts.services?.has(token)) throw new Error(`service ${String(token.description)} is not available`);
      return opts.services.get(token) as T;
    },
    skip: (reason: string): never => {
      throw new PluginSkipError(reason);
    },
  };
  await manifest.register(registrar);
  if (!factory) throw new Error(`plugin ${manifest.name} provided no driver`);
  return factory({});
}

const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
