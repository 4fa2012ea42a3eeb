import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import {
  api,
  type DockerdPeer,
  DockerdPeerStartError,
  docker,
  dockerdPeerBinary,
  driverDaemons,
  mountsUnder,
  processesUnder,
  pullIntoPeer,
  sleep,
  startDockerdPeer,
} from '../harness/index.js';

// The same containers created with the same docker CLI flags on skiffd and on a live dockerd 20.10
// (scripts/dockerd-peer.sh): inspect, ps and GET /containers/json compared field by field, and the
// same security probes run inside a default container of each. What must differ (ids, times, paths
// under each daemon's roots, pids, driver names) is normalised away; every other difference must be
// listed in KNOWN_DIFFERENCES with its reason, or the test fails. `--network none` everywhere: the
// bridge driver is not part of this comparison.

const CI = process.env.CI === 'true';
const unavailable = await dockerdPeerBinary().then(
  () => undefined,
  (e: Error) => e,
);
if (unavailable && !CI) console.log(`dockerd-compare skipped: ${unavailable.message}`);
const compare = unavailable && !CI ? test.skip : test;

const { registry, daemonFor, stopAll } = driverDaemons();
let peerP: Promise<DockerdPeer> | undefined;
const started: DockerdPeer[] = [];
test.after.always(async () => {
  await Promise.all(started.map((p) => p.stop()));
  await stopAll();
});

function peer(): Promise<DockerdPeer> {
  peerP ??= (async () => {
    const reg = await registry();
    const p = await startDockerdPeer({ insecureRegistries: [reg.host] }).catch((e: Error) => {
      throw new Error(`the dockerd peer cannot start${CI ? ' (CI=true: it must)' : ''}: ${e.message}`);
    });
    started.push(p);
    await pullIntoPeer(p, reg.image);
    return p;
  })();
  return peerP;
}

const uid = () => randomBytes(4).toString('hex');

/** One daemon under comparison, with what identifies its containers and files. */
interface Side {
  name: 'skiffd' | 'dockerd';
  host: string;
  /** Data root and exec root, replaced by `<root>` / `<exec-root>`. */
  roots: [string, string];
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

async function sides(): Promise<{ skiffd: Side; dockerd: Side; image: string }> {
  const [d, p, reg] = await Promise.all([daemonFor('overlay'), peer(), registry()]);
  const side = (name: Side['name'], host: string, roots: [string, string]): Side => ({
    name,
    host,
    roots,
    // Both daemons at the API version dockerd 20.10 speaks, so the CLI asks both the same things.
    cli: (...args) => docker(args, { host, env: { DOCKER_API_VERSION: '1.41' } }),
  });
  return {
    skiffd: side('skiffd', d.dockerHost, [d.root, d.execRoot]),
    dockerd: side('dockerd', p.dockerHost, [p.root, p.execRoot]),
    image: reg.image,
  };
}

// ---------------------------------------------------------------------------------------------
// Field-by-field comparison

type Kind = 'only-dockerd' | 'only-skiffd' | 'value';
interface Difference {
  path: string;
  kind: Kind;
  dockerd?: unknown;
  skiffd?: unknown;
}

interface Known {
  /** Dot path; `*` stands for one segment. Covers the path and everything below it. */
  path: string;
  /** Only this kind of difference (default: any). */
  kind?: Kind;
  reason: string;
}

/**
 * The differences skiffd keeps on purpose or has not closed yet. Each one is a line of the issue
 * note; remove an entry when the difference is gone (the test logs each one that occurs, with its reason).
 */
const KNOWN_DIFFERENCES: Known[] = [
  {
    path: 'ExecIDs',
    kind: 'value',
    reason:
      'a health probe running at the moment of inspect is listed by dockerd (it is an exec there); ' +
      "skiff's probes are not user execs (timing: seen once in a few runs)",
  },
  {
    path: 'NetworkSettings.SandboxID',
    kind: 'value',
    reason: "dockerd keeps the last run's sandbox after the container exits; skiff clears it (the namespace is gone)",
  },
  {
    path: 'NetworkSettings.SandboxKey',
    kind: 'value',
    reason:
      "dockerd keeps the last run's netns path after the container exits; skiff clears it (the namespace is gone)",
  },
  {
    path: 'GraphDriver.Data',
    kind: 'value',
    reason:
      "skiff's graph drivers describe mounts (containerd's snapshotter model) instead of exposing " +
      "dockerd's LowerDir/UpperDir/WorkDir/MergedDir directories",
  },
  {
    path: 'HostConfig.KernelMemory',
    kind: 'only-dockerd',
    reason: 'kernel memory limits are gone from the API since 1.42 (moby 23); skiffd never reports them',
  },
  {
    path: 'HostConfig.KernelMemoryTCP',
    kind: 'only-dockerd',
    reason: 'as KernelMemory',
  },
  {
    path: 'HostConfig.MaskedPaths',
    kind: 'value',
    reason:
      "skiffd masks newer moby's list (adds /proc/interrupts, /sys/devices/virtual/powercap and the " +
      'thermal_throttle dirs, all added after 20.10)',
  },
  {
    path: 'Size',
    kind: 'value',
    reason:
      'ps -s virtual size: skiff sizes an image by its layer tars (2.13MB here), dockerd by the files in its ' +
      'layer directories (1.98MB); SizeRw agrees (0B)',
  },
];

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Replaces what must differ between two daemons by placeholders. */
function normaliser(side: Side, ids: ReadonlyMap<string, string>) {
  const replacements: Array<[string, string]> = [
    [side.roots[0], '<root>'],
    [side.roots[1], '<exec-root>'],
  ];
  for (const [id, name] of ids) replacements.push([id, `<id:${name}>`], [id.slice(0, 12), `<id:${name}>`]);
  const str = (s: string): string => {
    if (TIME.test(s) && s !== ZERO_TIME) return '<time>';
    let out = s;
    for (const [from, to] of replacements) out = out.split(from).join(to);
    return out;
  };
  const walk = (v: unknown, key: string, parent: string): unknown => {
    if (typeof v === 'string') {
      // Random per daemon: compare only whether they are set.
      if (['NetworkID', 'EndpointID', 'SandboxID', 'SandboxKey'].includes(key) && v !== '') return '<set>';
      if ((key === 'Driver' || key === 'Name') && (parent === '' || parent === 'GraphDriver'))
        return v === 'overlay2' ? 'overlay' : str(v);
      return str(v);
    }
    if (typeof v === 'number' && key === 'Pid' && v > 0) return '<pid>';
    if (typeof v === 'number' && key === 'Created' && parent === '') return '<time>'; // list: unix seconds
    if (Array.isArray(v)) {
      // Health probes run on their own clock: compare the shape of the newest one only.
      if (key === 'Log' && parent === 'Health') return v.slice(-1).map((e) => walk(e, '', 'Log'));
      return v.map((e) => walk(e, key, parent));
    }
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, walk(e, k, key)]));
    }
    return v;
  };
  return (v: unknown) => walk(v, '', '');
}

function differences(dockerd: unknown, skiffd: unknown, at = ''): Difference[] {
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isObj(dockerd) && isObj(skiffd)) {
    const out: Difference[] = [];
    for (const k of new Set([...Object.keys(dockerd), ...Object.keys(skiffd)])) {
      const p = at ? `${at}.${k}` : k;
      if (!(k in skiffd)) out.push({ path: p, kind: 'only-dockerd', dockerd: dockerd[k] });
      else if (!(k in dockerd)) out.push({ path: p, kind: 'only-skiffd', skiffd: skiffd[k] });
      else out.push(...differences(dockerd[k], skiffd[k], p));
    }
    return out;
  }
  if (Array.isArray(dockerd) && Array.isArray(skiffd) && dockerd.length === skiffd.length) {
    return dockerd.flatMap((e, i) => differences(e, skiffd[i], `${at}.${i}`));
  }
  return JSON.stringify(dockerd) === JSON.stringify(skiffd) ? [] : [{ path: at, kind: 'value', dockerd, skiffd }];
}

function knownFor(d: Difference, known: readonly Known[]): Known | undefined {
  const segs = d.path.split('.');
  return known.find((k) => {
    const ks = k.path.split('.');
    return ks.length <= segs.length && ks.every((s, i) => s === '*' || s === segs[i]) && (!k.kind || k.kind === d.kind);
  });
}

/** Fails the test on every difference that is not known; logs the known ones that occurred. */
function assertSame(t: ExecutionContext, what: string, dockerd: unknown, skiffd: unknown, known = KNOWN_DIFFERENCES) {
  const unexpected: Difference[] = [];
  for (const d of differences(dockerd, skiffd)) {
    const k = knownFor(d, known);
    if (k) t.log(`${what}: known difference ${d.path} (${d.kind}): ${k.reason}`);
    else unexpected.push(d);
  }
  t.deepEqual(
    unexpected.map((d) => JSON.stringify(d)),
    [],
    `${what}: differences from dockerd that are not in KNOWN_DIFFERENCES`,
  );
}

/**
 * Keys skiffd places elsewhere than dockerd 20.10 on purpose, by the path of their object. The
 * rest of every object must come in dockerd's order: `docker inspect` prints the JSON as it comes.
 */
const KNOWN_ORDER: { path: string; key: string; reason: string }[] = [
  {
    path: '.HostConfig',
    key: 'ConsoleSize',
    reason: 'moby 23 (API 1.42) moved ConsoleSize after VolumesFrom; skiffd follows the newer order',
  },
];

/** Objects whose shared keys come in another order than dockerd's (lists: their first elements). */
function orderDifferences(dockerd: unknown, skiffd: unknown, at = ''): string[] {
  if (Array.isArray(dockerd) && Array.isArray(skiffd))
    return dockerd.length && skiffd.length ? orderDifferences(dockerd[0], skiffd[0], `${at}[]`) : [];
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(dockerd) || !isObj(skiffd)) return [];
  const ignored = new Set(KNOWN_ORDER.filter((k) => k.path === at).map((k) => k.key));
  const shared = (o: object, other: object) => Object.keys(o).filter((k) => k in other && !ignored.has(k));
  const [a, b] = [shared(dockerd, skiffd), shared(skiffd, dockerd)];
  const here = a.join() === b.join() ? [] : [`${at || '/'}: dockerd ${a.join(' ')}; skiffd ${b.join(' ')}`];
  return [...here, ...a.flatMap((k) => orderDifferences(dockerd[k], skiffd[k], `${at}.${k}`))];
}

// ---------------------------------------------------------------------------------------------
// Containers

async function idOf(side: Side, name: string): Promise<string> {
  const r = await side.cli('inspect', '-f', '{{.Id}}', name);
  if (r.code !== 0) throw new Error(`${side.name}: inspect ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Waits until the container's health status is `status` (the daemons' probes run on their own clocks). */
async function healthIs(side: Side, name: string, status: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await side.cli('inspect', '-f', '{{.State.Health.Status}}', name);
    if (r.stdout.trim() === status) return;
    if (Date.now() > deadline) throw new Error(`${side.name}: ${name} is not ${status}: ${r.stdout}${r.stderr}`);
    await sleep(200);
  }
}

interface Scenario {
  title: string;
  /** `docker` arguments after the subcommand and before the image; `--name` and `--network` are added. */
  flags: string[];
  command: string[];
  /** `run -d`, `run` to completion expecting this exit code, or `create` only. */
  mode: 'detached' | { exitCode: number } | 'created';
  /** Health status to wait for before comparing. */
  health?: string;
  /** The docker CLI sends several `--env` in Go map order (random): compare Config.Env sorted. */
  sortEnv?: boolean;
}

const SCENARIOS: Scenario[] = [
  { title: 'a plain running container', flags: [], command: ['sleep', '600'], mode: 'detached' },
  {
    title: 'labels, env, user, workdir, restart policy, --init, --read-only, --tmpfs and a healthcheck',
    flags: [
      ...['--label', 'a=b', '--label', 'com.example.team=skiff'],
      ...['--env', 'FOO=bar', '--env', 'PATH=/bin:/usr/bin', '--env', 'EMPTY='],
      ...['--user', '1000:1000', '--workdir', '/tmp', '--restart', 'on-failure:3', '--init', '--read-only'],
      ...['--tmpfs', '/run:size=1m', '--health-cmd', 'true', '--health-interval', '1s', '--health-retries', '2'],
      ...['--stop-signal', 'SIGUSR1', '--stop-timeout', '7', '--hostname', 'probe'],
    ],
    command: ['sleep', '600'],
    mode: 'detached',
    health: 'healthy',
    sortEnv: true,
  },
  { title: 'a container that exited with code 3', flags: [], command: ['sh', '-c', 'exit 3'], mode: { exitCode: 3 } },
  // One --env: the CLI's order is fixed, so this checks the merge order (request's, then the image's).
  { title: 'a created, never started container', flags: ['--env', 'FOO=bar'], command: ['true'], mode: 'created' },
  // Created only: dockerd 20.10 asks runc for every capability the kernel knows, which fails where
  // its own bounding set is smaller (skiffd trims to its own set and starts it).
  { title: 'a privileged container', flags: ['--privileged'], command: ['sleep', '600'], mode: 'created' },
  {
    title: 'security options, capabilities and resource limits',
    flags: [
      ...['--security-opt', 'systempaths=unconfined', '--security-opt', 'no-new-privileges'],
      ...['--cap-add', 'SYS_ADMIN', '--cap-drop', 'NET_RAW', '--memory', '64m', '--cpus', '0.5', '--pids-limit', '50'],
      ...['--shm-size', '32m', '--ulimit', 'nofile=512:1024', '--sysctl', 'net.ipv4.ip_forward=1'],
    ],
    command: ['sleep', '600'],
    mode: 'detached',
  },
];

async function createOn(side: Side, image: string, name: string, s: Scenario): Promise<void> {
  const base = ['--name', name, '--network', 'none', ...s.flags, image, ...s.command];
  const r =
    s.mode === 'created'
      ? await side.cli('create', ...base)
      : s.mode === 'detached'
        ? await side.cli('run', '-d', ...base)
        : await side.cli('run', ...base);
  const expected = typeof s.mode === 'object' ? s.mode.exitCode : 0;
  if (r.code !== expected) throw new Error(`${side.name}: docker ${base.join(' ')} exited ${r.code}: ${r.stderr}`);
  if (s.health) await healthIs(side, name, s.health);
}

for (const s of SCENARIOS) {
  compare(`inspect of ${s.title} equals dockerd's`, async (t) => {
    const { skiffd, dockerd, image } = await sides();
    const name = `cmp-${uid()}`;
    t.teardown(() => Promise.all([skiffd, dockerd].map((side) => side.cli('rm', '-f', name))));
    await Promise.all([createOn(skiffd, image, name, s), createOn(dockerd, image, name, s)]);
    const [a, b] = await Promise.all(
      [dockerd, skiffd].map(async (side) => {
        const ids = new Map([[await idOf(side, name), name]]);
        const r = await side.cli('inspect', name);
        t.is(r.code, 0, r.stderr);
        const raw = (JSON.parse(r.stdout) as unknown[])[0];
        const inspect = normaliser(side, ids)(raw) as { Config: { Env: string[] } };
        if (s.sortEnv) inspect.Config.Env.sort();
        return { inspect, raw };
      }),
    );
    assertSame(t, 'inspect', a.inspect, b.inspect);
    t.deepEqual(orderDifferences(a.raw, b.raw), [], 'docker inspect prints the fields in the order dockerd does');
  });
}

compare("ps -a and GET /containers/json of the same containers equal dockerd's", async (t) => {
  const { skiffd, dockerd, image } = await sides();
  const names = SCENARIOS.map(() => `ps-${uid()}`);
  t.teardown(() => Promise.all([skiffd, dockerd].map((side) => side.cli('rm', '-f', ...names))));
  for (const side of [skiffd, dockerd]) {
    await Promise.all(SCENARIOS.map((s, i) => createOn(side, image, names[i]!, s)));
  }
  const views = await Promise.all(
    [dockerd, skiffd].map(async (side) => {
      const ids = new Map<string, string>();
      for (const n of names) ids.set(await idOf(side, n), n);
      const norm = normaliser(side, ids);
      const ps = await side.cli('ps', '-a', '--no-trunc', '--format', '{{json .}}');
      t.is(ps.code, 0, ps.stderr);
      const rows = ps.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => names.includes(String(r.Names)));
      const list = await api(side.host, 'GET', '/v1.41/containers/json?all=1');
      const listed = (list.json as Array<{ Names: string[] }>).filter((c) => names.includes(c.Names[0]!.slice(1)));
      const byName = <T>(xs: T[], n: (x: T) => string) =>
        Object.fromEntries(names.map((want) => [want, norm(xs.find((x) => n(x) === want))]));
      return {
        ps: byName(rows, (r) => String(r.Names)),
        api: byName(listed, (c) => c.Names[0]!.slice(1)),
      };
    }),
  );
  const [a, b] = views as [(typeof views)[0], (typeof views)[0]];
  // Durations ("Up 3 seconds", "Exited (3) 2 seconds ago") depend on when each was created.
  const duration = (v: Record<string, unknown>) =>
    JSON.parse(
      JSON.stringify(v)
        .replace(/(Less than a second|About an? \w+|\d+ (second|minute|hour|day|week|month|year)s?)/g, '<duration>')
        .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+/g, '<time>'),
    ) as Record<string, unknown>;
  for (const n of names) {
    t.truthy(a.ps[n], `dockerd ps lists ${n}`);
    t.truthy(b.ps[n], `skiffd ps lists ${n}`);
    assertSame(
      t,
      `ps ${n}`,
      duration(a.ps[n] as Record<string, unknown>),
      duration(b.ps[n] as Record<string, unknown>),
    );
    assertSame(
      t,
      `GET /containers/json ${n}`,
      duration(a.api[n] as Record<string, unknown>),
      duration(b.api[n] as Record<string, unknown>),
    );
  }
});

// ---------------------------------------------------------------------------------------------
// Probes inside a default container (the ones oci-security.test.ts checks against fixed values)

async function probe(side: Side, image: string, script: string, flags: string[] = []): Promise<string> {
  const r = await side.cli('run', '--rm', '--network', 'none', ...flags, image, 'sh', '-c', script);
  if (r.code !== 0) throw new Error(`${side.name}: probe exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

compare('capabilities, NoNewPrivs, seccomp mode and open fds equal what dockerd gives', async (t) => {
  const { skiffd, dockerd, image } = await sides();
  const script =
    'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):" /proc/self/status';
  for (const flags of [
    [],
    ['--security-opt', 'no-new-privileges', '--cap-add', 'SYS_ADMIN', '--cap-drop', 'NET_RAW'],
    ['--security-opt', 'seccomp=unconfined', '--user', '1000'],
  ]) {
    const [a, b] = await Promise.all([dockerd, skiffd].map((side) => probe(side, image, script, flags)));
    t.is(b, a, `docker run ${flags.join(' ')}`);
  }
  // The fds of the container's pid 1, seen from an exec: only stdio, nothing of either daemon.
  const name = `fds-${uid()}`;
  t.teardown(() => Promise.all([skiffd, dockerd].map((side) => side.cli('rm', '-f', name))));
  const fds = await Promise.all(
    [dockerd, skiffd].map(async (side) => {
      const r = await side.cli('run', '-d', '--name', name, '--network', 'none', image, 'sleep', '600');
      t.is(r.code, 0, r.stderr);
      return (await side.cli('exec', name, 'ls', '-l', '/proc/1/fd')).stdout
        .split('\n')
        .map((l) => l.replace(/^.*\d\d:\d\d /, '').replace(/(pipe|socket):\[\d+\]/, '$1:[n]'))
        .filter(Boolean);
    }),
  );
  t.deepEqual(fds[1], fds[0]);
});

/**
 * `/proc/self/mounts` as `source type options` keyed by target. Dropped from the overlay root: the
 * layer paths (each daemon's own), and `uuid=on`, which Linux >= 6.6 shows when it gave the overlay
 * a persistent uuid at its first mount (uuid=auto) — the kernel's choice, not a mount option either
 * daemon passes.
 */
function mountTable(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.trim().split('\n')) {
    const [source, target, type, options] = line.split(' ') as [string, string, string, string];
    const opts =
      type === 'overlay'
        ? options.split(',').filter((o) => !/^(lowerdir|upperdir|workdir)=|^uuid=on$/.test(o))
        : options.split(',');
    out.set(target, `${source} ${type} ${opts.join(',')}`);
  }
  return out;
}

/** Newer moby's masked paths that skiffd applies and dockerd 20.10 does not know. */
const NEWER_MASKS =
  /^\/proc\/interrupts$|^\/sys\/devices\/virtual\/powercap$|^\/sys\/devices\/system\/cpu\/cpu\d+\/thermal_throttle$/;

compare('mount list, masked /proc entries and read-only /proc/sys equal what dockerd gives', async (t) => {
  const { skiffd, dockerd, image } = await sides();
  const script =
    'cat /proc/self/mounts; echo ---; for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do ' +
    '[ -e $f ] && echo "$f $(wc -c < $f)"; done; ls /sys/firmware | wc -l; ' +
    'echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-readonly; ' +
    'echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-readonly';
  const [a, b] = await Promise.all([dockerd, skiffd].map((side) => probe(side, image, script)));
  const [mountsA, checksA] = a.split('---\n') as [string, string];
  const [mountsB, checksB] = b.split('---\n') as [string, string];
  t.is(checksB, checksA, 'masked entries read as empty and /proc/sys, /proc/sysrq-trigger are read-only');
  const [ta, tb] = [mountTable(mountsA), mountTable(mountsB)];
  const unexpected: string[] = [];
  for (const target of new Set([...ta.keys(), ...tb.keys()])) {
    const [da, db] = [ta.get(target), tb.get(target)];
    if (da === db) continue;
    if (da === undefined && NEWER_MASKS.test(target)) {
      t.log(`mounts: ${target} masked by skiffd only (newer moby's list)`);
      continue;
    }
    // The probe runs with --rm: skiffd mounts such a container's upper volatile (podman does too).
    if (target === '/' && db?.replace(/,(fsync=)?volatile(?=,|$)/, '') === da) {
      t.log('mounts: / is volatile under skiffd (a --rm container: its writes need not survive a host crash)');
      continue;
    }
    unexpected.push(`${target}: dockerd ${da ?? '(none)'} | skiffd ${db ?? '(none)'}`);
  }
  t.deepEqual(unexpected, [], 'mounts that differ from dockerd');
  // Same order too (later mounts shadow earlier ones): the common targets in the order each lists them.
  const common = (tab: Map<string, string>, other: Map<string, string>) => [...tab.keys()].filter((k) => other.has(k));
  t.deepEqual(common(tb, ta), common(ta, tb), 'mount order');
});

// ---------------------------------------------------------------------------------------------
// The peer harness itself: a refused start and a stop leave nothing behind.

async function leftovers(dir: string): Promise<string[]> {
  const [pids, mounts] = await Promise.all([processesUnder([dir]), mountsUnder([dir])]);
  return [...pids.map((p) => `process ${p}`), ...mounts.map((m) => `mount ${m}`), ...(existsSync(dir) ? [dir] : [])];
}

compare(
  'a dockerd peer that refuses to start, and one stopped with a running container, leave nothing behind',
  async (t) => {
    const err = await t.throwsAsync(startDockerdPeer({ insecureRegistries: ['not a registry!'] }), {
      instanceOf: DockerdPeerStartError,
    });
    t.regex(err?.message ?? '', /dockerd exited/);
    const refused = /--data-root (\/tmp\/dkp-\w+)\/root/.exec(err?.message ?? '')?.[1];
    t.truthy(refused, err?.message);
    t.deepEqual(await leftovers(refused!), []);

    const reg = await registry();
    const p = await startDockerdPeer();
    t.teardown(() => p.stop());
    await pullIntoPeer(p, reg.image);
    const r = await docker(['run', '-d', '--network', 'none', reg.image, 'sleep', '600'], { host: p.dockerHost });
    t.is(r.code, 0, r.stderr);
    t.true((await mountsUnder([p.dir])).length > 0, 'the container rootfs is mounted below the peer dir');
    await p.stop();
    t.deepEqual(await leftovers(p.dir), []);
  },
);

/** Maps whose keys are data (labels, options, a network's containers): one kind, empty or not (null apart). */
const OPAQUE = /\.(Labels|Options|Containers)$/;
/** Maps keyed by data whose values are compared: all entries under `.*`, like list elements under `[]`. */
const KEYED = /\.Networks$/;

/**
 * The kinds found at every path of a JSON value: elements of a list all under `[]`, null, [] and
 * {} as such (a non-empty list is `list` too: how many things each daemon holds is not a shape).
 */
function shapeOf(v: unknown, at = '', out = new Map<string, Set<string>>()): Map<string, Set<string>> {
  const add = (kind: string) => (out.get(at) ?? out.set(at, new Set()).get(at)!).add(kind);
  if (v === null) add('null');
  else if (Array.isArray(v)) {
    add('list');
    for (const e of v) shapeOf(e, `${at}[]`, out);
  } else if (typeof v === 'object') {
    const keys = Object.keys(v as object);
    if (OPAQUE.test(at)) add('map');
    else if (KEYED.test(at)) {
      add('map');
      for (const k of keys) shapeOf((v as Record<string, unknown>)[k], `${at}.*`, out);
    } else if (keys.length === 0) add('{}');
    else for (const k of keys) shapeOf((v as Record<string, unknown>)[k], `${at}.${k}`, out);
  } else add(typeof v);
  return out;
}

/** Paths of each daemon's own map entries (runtimes, registries). */
const OWN_KEYS = /^\.(Runtimes|RegistryConfig\.IndexConfigs)\.(?!docker\.io\.)[^.]+\./;

/** Where the two shapes disagree; a path below a list (or keyed map) empty on one side is not compared. */
function shapeDifferences(dockerd: unknown, skiffd: unknown): string[] {
  const [want, got] = [shapeOf(dockerd), shapeOf(skiffd)];
  const inEmptyList = (m: Map<string, Set<string>>, k: string) =>
    [...k.matchAll(/\[\]|\.\*/g)].some((x) => {
      const list = k.slice(0, x.index);
      return (
        m.get(list)?.has(x[0] === '[]' ? 'list' : 'map') && ![...m.keys()].some((p) => p.startsWith(`${list}${x[0]}`))
      );
    });
  const show = (s: Set<string> | undefined) => (s ? [...s].sort().join('|') : 'absent');
  return [...new Set([...want.keys(), ...got.keys()])]
    .filter((k) => !OWN_KEYS.test(k))
    .filter((k) => show(want.get(k)) !== show(got.get(k)))
    .filter((k) => !(want.has(k) ? inEmptyList(got, k) : inEmptyList(want, k)))
    .map((k) => `${k}: dockerd ${show(want.get(k))}, skiffd ${show(got.get(k))}`);
}

compare(
  'info, system df, volume, network and image answers have the shapes and field order dockerd gives them (null, [] and {} too)',
  async (t) => {
    const [p, d] = await Promise.all([peer(), daemonFor('overlay')]);
    const name = `shape-${uid()}`;
    for (const host of [p.dockerHost, d.dockerHost]) {
      for (const args of [
        ['volume', 'create', `${name}-plain`],
        ['volume', 'create', '--label', 'a=b', `${name}-labelled`],
        ['network', 'create', `${name}-net`],
      ]) {
        const r = await docker(args, { host });
        t.is(r.code, 0, r.stderr);
      }
    }
    t.teardown(async () => {
      for (const host of [p.dockerHost, d.dockerHost]) {
        await docker(['volume', 'rm', `${name}-plain`, `${name}-labelled`], { host });
        await docker(['network', 'rm', `${name}-net`], { host });
      }
    });
    const paths = [
      '/v1.41/info',
      '/v1.41/system/df',
      `/v1.41/volumes/${name}-plain`,
      `/v1.41/volumes/${name}-labelled`,
      `/v1.41/networks/${name}-net`,
      '/v1.41/networks/none',
      '/v1.41/version',
      `/v1.41/images/${encodeURIComponent((await registry()).image)}/json`,
    ];
    for (const path of paths) {
      const [a, b] = await Promise.all([api(p.dockerHost, 'GET', path), api(d.dockerHost, 'GET', path)]);
      t.is(b.status, a.status, path);
      // GraphDriver.Data: as in KNOWN_DIFFERENCES (dockerd's overlay2 directories, which skiffd has not).
      const differing = shapeDifferences(a.json, b.json).filter((d) => !d.startsWith('.GraphDriver.Data'));
      t.deepEqual(differing, [], path);
      t.deepEqual(orderDifferences(a.json, b.json), [], `${path}: fields in dockerd's order`);
    }
  },
);
