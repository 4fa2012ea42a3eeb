import test, { type ExecutionContext } from 'ava';
import { api, ManagedProcess, nodeBin, sleep } from '../harness/index.js';
import { type NetnsDaemon, startNetnsDaemon, uid, uniqueSubnet } from '../harness/netns-daemon.js';

// Networks through the real docker CLI, each daemon inside a network namespace of its own.

const SERVE = 'echo hello-from-$(hostname) > /tmp/index.html; exec httpd -f -p 8080 -h /tmp';

async function ok(t: ExecutionContext, d: NetnsDaemon, ...args: string[]): Promise<string> {
  const r = await d.cli(...args);
  t.is(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** GET / of `target`:8080 from a throw-away container on `network`; the response, or '' if none came. */
async function fetchFrom(d: NetnsDaemon, network: string, target: string): Promise<string> {
  const r = await d.cli(
    'run',
    '--rm',
    '--network',
    network,
    d.image,
    'sh',
    '-c',
    `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${target} 8080`,
  );
  return `${r.stdout}${r.stderr}`;
}

/** Retries until the server answers (it may still be starting); the last response. */
async function fetchEventually(d: NetnsDaemon, network: string, target: string): Promise<string> {
  let out = '';
  for (let i = 0; i < 20; i++) {
    out = await fetchFrom(d, network, target);
    if (out.includes('200 OK')) return out;
    await sleep(200);
  }
  return out;
}

async function links(d: NetnsDaemon): Promise<string[]> {
  const r = await d.inNs('ip', ['-j', 'link', 'show']);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n !== 'lo');
}

test('network create, ls, inspect, rm and prune behave like dockerd', async (t) => {
  const d = await startNetnsDaemon(t);
  const builtin = (await ok(t, d, 'network', 'ls', '--format', '{{.Name}} {{.Driver}}')).split('\n').sort();
  t.true(builtin.includes('bridge bridge'), builtin.join(','));
  t.true(builtin.includes('host host'));
  t.true(builtin.some((l) => l.startsWith('none ')));
  const bridge = JSON.parse(await ok(t, d, 'network', 'inspect', 'bridge'))[0];
  t.is(bridge.Options['com.docker.network.bridge.default_bridge'], 'true');
  t.regex(bridge.IPAM.Config[0].Subnet, /^\d+\.\d+\.\d+\.\d+\/\d+$/);

  const { subnet, prefix } = uniqueSubnet();
  const name = `net-${uid()}`;
  const id = await ok(
    t,
    d,
    'network',
    'create',
    '--subnet',
    subnet,
    '--gateway',
    `${prefix}.254`,
    '--ip-range',
    `${prefix}.128/25`,
    '--aux-address',
    `router=${prefix}.128`,
    '--label',
    'team=blue',
    '-o',
    'com.docker.network.driver.mtu=1400',
    name,
  );
  t.regex(id, /^[0-9a-f]{64}$/);
  const n = JSON.parse(await ok(t, d, 'network', 'inspect', id.slice(0, 12)))[0];
  t.like(n, {
    Name: name,
    Id: id,
    Driver: 'bridge',
    Scope: 'local',
    Internal: false,
    EnableIPv6: false,
    Labels: { team: 'blue' },
    Options: { 'com.docker.network.driver.mtu': '1400' },
    Containers: {},
  });
  t.deepEqual(n.IPAM.Config, [
    {
      Subnet: subnet,
      IPRange: `${prefix}.128/25`,
      Gateway: `${prefix}.254`,
      AuxiliaryAddresses: { router: `${prefix}.128` },
    },
  ]);
  t.is(await ok(t, d, 'network', 'ls', '-q', '--filter', 'label=team=blue', '--no-trunc'), id);
  t.is(await ok(t, d, 'network', 'ls', '-q', '--filter', 'type=custom', '--no-trunc'), id);
  t.false((await ok(t, d, 'network', 'ls', '-q', '--filter', 'type=builtin', '--no-trunc')).includes(id));

  // An address from the ip-range, the first free one (.128 is reserved by --aux-address).
  const c = `c-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', c, '--network', name, d.image, 'sleep', '600');
  t.is(
    await ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${name}").IPAddress}}`, c),
    `${prefix}.129`,
  );
  const auto = `auto-${uid()}`;
  await ok(t, d, 'network', 'create', auto);
  const autoNet = JSON.parse(await ok(t, d, 'network', 'inspect', auto))[0];
  t.regex(autoNet.IPAM.Config[0].Subnet, /\/\d+$/);
  t.truthy(autoNet.IPAM.Config[0].Gateway);
  t.not(autoNet.IPAM.Config[0].Subnet, bridge.IPAM.Config[0].Subnet);

  // prune removes the unused network only.
  const pruned = await ok(t, d, 'network', 'prune', '-f');
  t.true(pruned.includes(auto), pruned);
  t.false(pruned.includes(name));
  await ok(t, d, 'rm', '-f', c);
  await ok(t, d, 'network', 'rm', name);
  t.is((await d.cli('network', 'inspect', name)).code, 1);
  const ev = await api(
    d.host,
    'GET',
    `/v1.41/events?since=0&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ type: ['network'] }))}`,
  );
  const actions = ev.body
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.Actor.ID === id)
    .map((e) => e.Action);
  t.deepEqual(actions, ['create', 'connect', 'disconnect', 'destroy']);
});

test('bad input gets a clear error and leaves nothing half-created', async (t) => {
  const d = await startNetnsDaemon(t);
  const { subnet, prefix } = uniqueSubnet();
  const first = `a-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', subnet, first);
  const before = await ok(t, d, 'network', 'ls', '-q', '--no-trunc');
  const linksBefore = await links(d);

  const cases: [string[], RegExp][] = [
    [['network', 'create', '--subnet', `${prefix}.0/25`, `b-${uid()}`], /overlaps/],
    [['network', 'create', '--subnet', `${prefix.split('.').slice(0, 2).join('.')}.0.0/16`, `c-${uid()}`], /overlaps/],
    [['network', 'create', '-d', `nosuch${uid()}`, `d-${uid()}`], /not found/],
    [['network', 'create', first], /already exists/],
    [['network', 'create', 'bridge'], /predefined/],
    [['network', 'create', '-d', 'host', `h-${uid()}`], /only one instance/],
    [['network', 'rm', 'bridge'], /pre-defined network and cannot be removed/],
    [['network', 'rm', 'host'], /pre-defined/],
    [['network', 'rm', `nosuch-${uid()}`], /not found/],
    [['network', 'create', '--subnet', 'bogus', `e-${uid()}`], /invalid CIDR|Invalid subnet/i],
  ];
  for (const [args, re] of cases) {
    const r = await d.cli(...args);
    t.not(r.code, 0, args.join(' '));
    t.regex(r.stderr, re, args.join(' '));
  }
  t.is(await ok(t, d, 'network', 'ls', '-q', '--no-trunc'), before, 'no network was half-created');
  // The CLI checks the gateway itself; the API must refuse it too.
  const gw = await api(d.host, 'POST', '/v1.41/networks/create', {
    Name: `g-${uid()}`,
    IPAM: { Config: [{ Subnet: '10.250.250.0/24', Gateway: '10.251.0.1' }] },
  });
  t.is(gw.status, 400, gw.body.toString());
  const range = await api(d.host, 'POST', '/v1.41/networks/create', {
    Name: `r-${uid()}`,
    IPAM: { Config: [{ Subnet: '10.250.250.0/24', IPRange: '10.250.251.0/25' }] },
  });
  t.is(range.status, 400, range.body.toString());
  // The subnet of a refused network is free again: nothing was left allocated.
  const again = `ok-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', '10.250.250.0/24', again);
  await ok(t, d, 'network', 'rm', again);

  // In use: 409 until the container is gone.
  const c = `c-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', c, '--network', first, d.image, 'sleep', '600');
  const inUse = await api(d.host, 'DELETE', `/v1.41/networks/${first}`);
  t.is(inUse.status, 409);
  t.regex(inUse.body.toString(), /active endpoints/);
  // --ip: taken, outside the subnet, on the default bridge.
  const taken = await d.cli('run', '--rm', '--network', first, '--ip', `${prefix}.2`, d.image, 'true');
  t.not(taken.code, 0);
  t.regex(taken.stderr, /already in use/);
  const outside = await d.cli('run', '--rm', '--network', first, '--ip', '10.251.0.9', d.image, 'true');
  t.regex(outside.stderr, /not in subnet/);
  const onBridge = await d.cli('create', '--ip', '172.17.0.99', d.image, 'true');
  t.regex(onBridge.stderr, /user defined networks only/);
  // The CLI checks aliases itself; the API must refuse them too.
  const aliasOnBridge = await api(d.host, 'POST', '/v1.41/containers/create', {
    Image: d.image,
    Cmd: ['true'],
    NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['x'] } } },
  });
  t.is(aliasOnBridge.status, 400);
  t.regex(
    aliasOnBridge.body.toString(),
    /network-scoped alias is supported only for containers in user defined networks/,
  );
  const autoNet = `auto-${uid()}`;
  await ok(t, d, 'network', 'create', autoNet);
  const autoIp = await d.cli('create', '--network', autoNet, '--ip', '172.30.0.9', d.image, 'true');
  t.regex(autoIp.stderr, /user configured subnets/);
  await ok(t, d, 'network', 'rm', autoNet);
  // As with dockerd, an unknown network fails the start, not the create (the CLI would pull on a 404).
  const unknown = await d.cli('run', '--rm', '--network', `nope-${uid()}`, d.image, 'true');
  t.regex(unknown.stderr, /network nope-\w+ not found/);
  t.not(unknown.code, 0);
  const badPort = await api(d.host, 'POST', '/v1.41/containers/create', {
    Image: d.image,
    HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '99999' }] } },
  });
  t.is(badPort.status, 400);
  t.regex(badPort.body.toString(), /invalid port specification/);
  await ok(t, d, 'rm', '-f', c);
  await ok(t, d, 'network', 'rm', first);

  t.deepEqual(
    (await links(d)).filter((l) => !linksBefore.includes(l)),
    [],
    'no link is left behind',
  );
  t.is((await d.cli('version')).code, 0, 'skiffd still serves');
});

test('connect and disconnect running and created containers, with --ip and --alias', async (t) => {
  const d = await startNetnsDaemon(t);
  const { subnet, prefix } = uniqueSubnet();
  const net = `n-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', subnet, net);
  const server = `srv-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', server, d.image, 'sh', '-c', SERVE);
  await ok(t, d, 'network', 'connect', '--alias', 'svc', '--ip', `${prefix}.50`, net, server);
  const nets = JSON.parse(await ok(t, d, 'inspect', '-f', '{{json .NetworkSettings.Networks}}', server));
  t.deepEqual(Object.keys(nets).sort(), ['bridge', net].sort());
  t.is(nets[net].IPAddress, `${prefix}.50`);
  t.is(nets[net].IPPrefixLen, 24);
  t.is(nets[net].Gateway, `${prefix}.1`);
  t.is(
    nets[net].MacAddress,
    `02:42:0a:${prefix
      .split('.')
      .slice(1)
      .map((x) => Number(x).toString(16).padStart(2, '0'))
      .join(':')}:32`,
  );
  t.true(nets[net].Aliases.includes('svc'));
  // As dockerd shows them: what the client sent (the CLI's connect sends {}, its run nothing).
  t.deepEqual(nets[net].DriverOpts, {});
  t.is(nets.bridge.DriverOpts, null);
  t.regex(await ok(t, d, 'exec', server, 'cat', '/etc/hosts'), new RegExp(`${prefix}\\.50\\t`));
  t.regex(await ok(t, d, 'exec', server, 'ip', '-o', 'addr'), new RegExp(`${prefix}\\.50/24`));
  const netView = JSON.parse(await ok(t, d, 'network', 'inspect', net))[0];
  const entry = Object.values(netView.Containers)[0] as Record<string, string>;
  t.like(entry, { Name: server, IPv4Address: `${prefix}.50/24`, EndpointID: nets[net].EndpointID });
  t.regex(await fetchEventually(d, net, 'svc'), /hello-from/);

  // A created container: connect records it, start attaches it (compose's order).
  const created = `cr-${uid()}`;
  await ok(t, d, 'create', '--name', created, d.image, 'sleep', '600');
  await ok(t, d, 'network', 'connect', '--alias', 'later', net, created);
  await ok(t, d, 'network', 'disconnect', 'bridge', created);
  await ok(t, d, 'start', created);
  const cn = JSON.parse(await ok(t, d, 'inspect', '-f', '{{json .NetworkSettings.Networks}}', created));
  t.deepEqual(Object.keys(cn), [net]);
  t.regex(cn[net].IPAddress, new RegExp(`^${prefix.replaceAll('.', '\\.')}\\.`));
  t.regex(await ok(t, d, 'exec', created, 'ip', '-o', 'link'), /eth0/);

  const dup = await d.cli('network', 'connect', net, server);
  t.regex(dup.stderr, /already exists/);
  await ok(t, d, 'network', 'disconnect', net, server);
  t.false((await ok(t, d, 'exec', server, 'ip', '-o', 'addr')).includes(`${prefix}.50`));
  const again = await d.cli('network', 'disconnect', net, server);
  t.regex(again.stderr, /is not connected/);
  const host = await d.cli('network', 'connect', 'host', server);
  t.not(host.code, 0);
  // Stop releases addresses (dockerd's rule); the next start takes one again.
  await ok(t, d, 'stop', '-t', '0', created);
  t.is(await ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, created), '');
  t.deepEqual(JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].Containers, {});
});

test('a container on several networks has one default route per family, through the network whose name sorts first, as under dockerd', async (t) => {
  const d = await startNetnsDaemon(t);
  const u = uid();
  const [a, b, c] = [uniqueSubnet(), uniqueSubnet(), uniqueSubnet()];
  const [netA, netB, netC] = [`gwa-${u}`, `gwb-${u}`, `gwc-${u}`];
  for (const [n, s] of [
    [netB, b],
    [netA, a],
    [netC, c],
  ] as const)
    await ok(t, d, 'network', 'create', '--subnet', s.subnet, n);
  const defaults = async (ctr: string, six = false) =>
    (await ok(t, d, 'exec', ctr, 'ip', ...(six ? ['-6'] : []), 'route'))
      .split('\n')
      .filter((l) => l.startsWith('default'))
      .map((l) => l.trim().replace(/\s+/g, ' '));
  // dockerd 20.10 printed exactly these for the same steps (one route, no metric; the network
  // connected later takes over when its name sorts first).
  const ctr = `gw-${u}`;
  await ok(t, d, 'run', '-d', '--name', ctr, '--network', netB, d.image, 'sleep', '600');
  t.deepEqual(await defaults(ctr), [`default via ${b.prefix}.1 dev eth0`]);
  await ok(t, d, 'network', 'connect', netA, ctr);
  t.deepEqual(await defaults(ctr), [`default via ${a.prefix}.1 dev eth1`]);
  await ok(t, d, 'network', 'connect', netC, ctr);
  t.deepEqual(await defaults(ctr), [`default via ${a.prefix}.1 dev eth1`]);
  await ok(t, d, 'network', 'disconnect', netA, ctr);
  t.deepEqual(await defaults(ctr), [`default via ${b.prefix}.1 dev eth0`]);
  await ok(t, d, 'network', 'disconnect', netB, ctr);
  t.deepEqual(await defaults(ctr), [`default via ${c.prefix}.1 dev eth2`]);
  // Into the freed eth0, whose driver route has the metric of the one the gateway network holds.
  await ok(t, d, 'network', 'connect', netA, ctr);
  t.deepEqual(await defaults(ctr), [`default via ${a.prefix}.1 dev eth0`]);
  // Connected before the start: the same rule.
  const created = `gwc-${u}`;
  await ok(t, d, 'create', '--name', created, '--network', netC, d.image, 'sleep', '600');
  await ok(t, d, 'network', 'connect', netA, created);
  await ok(t, d, 'start', created);
  t.deepEqual(await defaults(created), [`default via ${a.prefix}.1 dev eth1`]);
  // A network with both an IPv4 and an IPv6 gateway comes first, whatever its name.
  const six = `gwz-${u}`;
  const v6 = `fd42:${(0x1000 + Math.floor(Math.random() * 0xefff)).toString(16)}::`;
  const z = uniqueSubnet();
  await ok(t, d, 'network', 'create', '--ipv6', '--subnet', z.subnet, '--subnet', `${v6}/64`, six);
  await ok(t, d, 'network', 'connect', six, created);
  t.deepEqual(await defaults(created), [`default via ${z.prefix}.1 dev eth2`]);
  t.deepEqual(
    (await defaults(created, true)).map((l) => l.replace(/ metric \d+| pref \w+/g, '')),
    [`default via ${v6}1 dev eth2`],
  );
  await ok(t, d, 'network', 'disconnect', six, created);
  t.deepEqual(await defaults(created), [`default via ${a.prefix}.1 dev eth1`]);
  t.deepEqual(await defaults(created, true), []);
  await ok(t, d, 'rm', '-f', ctr, created);
});

test('--hostname is an alias on user networks, shown in inspect once the endpoint joined, as dockerd 20.10', async (t) => {
  const d = await startNetnsDaemon(t);
  const net = `hn-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, net);
  const [named, host, created] = [`hn-${uid()}`, `hh-${uid()}`, `hc-${uid()}`];
  const hostname = `web-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', named, '--hostname', named, '--network', net, d.image, 'sleep', '600');
  await ok(t, d, 'run', '-d', '--name', host, '--hostname', hostname, '--network', net, d.image, 'sleep', '600');
  await ok(t, d, 'create', '--name', created, '--hostname', 'h6', '--network', net, d.image, 'sleep', '600');
  const aliases = async (c: string) =>
    JSON.parse(await ok(t, d, 'inspect', '-f', `{{json (index .NetworkSettings.Networks "${net}").Aliases}}`, c));
  const id = async (c: string) => (await ok(t, d, 'inspect', '-f', '{{.Id}}', c)).slice(0, 12);
  // dockerd printed [short ID, hostname] for the first (even when it is the name) and null before the start.
  t.deepEqual(await aliases(named), [await id(named), named]);
  t.deepEqual(await aliases(host), [await id(host), hostname]);
  t.is(await aliases(created), null);
  const looked = await ok(t, d, 'exec', named, 'nslookup', hostname);
  t.regex(looked, new RegExp(`Name:\\s+${hostname}[\\s\\S]*Address:? \\d+\\.\\d+\\.\\d+\\.\\d+`), looked);
  await ok(t, d, 'rm', '-f', named, host, created);
});

test('--link on a user network: its alias resolves for the linking container only, as under dockerd', async (t) => {
  const d = await startNetnsDaemon(t);
  const net = `ln-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, net);
  const [db, web] = [`db-${uid()}`, `web-${uid()}`];
  await ok(t, d, 'run', '-d', '--name', db, '--network', net, d.image, 'sleep', '600');
  await ok(t, d, 'run', '-d', '--name', web, '--network', net, '--link', `${db}:database`, d.image, 'sleep', '600');
  const dbIp = await ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, db);
  t.regex(await ok(t, d, 'exec', web, 'nslookup', 'database'), new RegExp(`Name:\\s+database\\s+Address:? ${dbIp}`));
  t.notRegex((await d.cli('exec', db, 'nslookup', 'database')).stdout, /Name:\s+database/);
  // dockerd keeps them on the endpoint (the CLI copies --link there for a user network).
  t.is(
    await ok(t, d, 'inspect', '-f', `{{json (index .NetworkSettings.Networks "${net}").Links}}`, web),
    `["${db}:database"]`,
  );
  t.is(await ok(t, d, 'inspect', '-f', '{{json .HostConfig.Links}}', web), 'null');
  // A link with too many parts is refused, as by docker's ParseLink.
  const bad = await d.cli('create', '--network', net, '--link', 'a:b:c', d.image, 'true');
  t.not(bad.code, 0);
  t.regex(bad.stderr, /bad format for links: a:b:c/);
  const raw = await api(d.host, 'POST', '/containers/create', {
    Image: d.image,
    HostConfig: { NetworkMode: net },
    NetworkingConfig: { EndpointsConfig: { [net]: { Links: ['a:b:c'] } } },
  });
  t.is(raw.status, 400, raw.body);
  t.regex(raw.body, /bad format for links: a:b:c/);
  await ok(t, d, 'rm', '-f', db, web);
});

test('--link on the default bridge: /etc/hosts, the link variables and the errors dockerd 20.10 gives', async (t) => {
  const d = await startNetnsDaemon(t);
  const u = uid();
  const [db, web, later] = [`db-${u}`, `web-${u}`, `w2-${u}`];
  await ok(
    t,
    d,
    'run',
    '-d',
    '--name',
    db,
    '--hostname',
    'dbh',
    '-e',
    'SECRET=x',
    '--expose',
    '5432',
    '--expose',
    '7000-7002/udp',
    d.image,
    'sleep',
    '600',
  );
  const ip = await ok(t, d, 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', db);
  const out = await ok(
    t,
    d,
    'run',
    '--rm',
    '--name',
    web,
    '--link',
    `${db}:dbalias`,
    d.image,
    'sh',
    '-c',
    'grep -w dbalias /etc/hosts; env | grep ^DBALIAS | sort',
  );
  const port = (p: string, proto: string) => [
    `DBALIAS_PORT_${p}_${proto.toUpperCase()}=${proto}://${ip}:${p}`,
    `DBALIAS_PORT_${p}_${proto.toUpperCase()}_ADDR=${ip}`,
    `DBALIAS_PORT_${p}_${proto.toUpperCase()}_PORT=${p}`,
    `DBALIAS_PORT_${p}_${proto.toUpperCase()}_PROTO=${proto}`,
  ];
  // dockerd printed exactly these lines for the same commands.
  t.deepEqual(out.split('\n'), [
    `${ip}\tdbalias dbh ${db}`,
    ...[
      'DBALIAS_ENV_SECRET=x',
      `DBALIAS_NAME=/${web}/dbalias`,
      `DBALIAS_PORT=tcp://${ip}:5432`,
      ...port('5432', 'tcp'),
      ...port('7000', 'udp'),
      `DBALIAS_PORT_7000_UDP_END=udp://${ip}:7002`,
      'DBALIAS_PORT_7000_UDP_PORT_END=7002',
      'DBALIAS_PORT_7000_UDP_PORT_START=7000',
      `DBALIAS_PORT_7000_UDP_START=udp://${ip}:7000`,
      ...port('7001', 'udp'),
      ...port('7002', 'udp'),
    ].sort(),
  ]);
  // Without an alias the name is the alias and is not repeated.
  const hosts = await ok(t, d, 'run', '--rm', '--link', db, d.image, 'cat', '/etc/hosts');
  t.true(hosts.split('\n').includes(`${ip}\t${db} dbh`), hosts);
  // An exec gets them too.
  const linker = `lk-${u}`;
  await ok(t, d, 'run', '-d', '--name', linker, '--link', `${db}:dbalias`, d.image, 'sleep', '600');
  t.regex(
    await ok(t, d, 'exec', linker, 'env'),
    new RegExp(`^DBALIAS_PORT=tcp://${ip.replaceAll('.', '\\.')}:5432$`, 'm'),
  );
  // The linked container comes back with another address: the linking one's /etc/hosts follows.
  await ok(t, d, 'stop', '-t', '0', db);
  const squatter = `sq-${u}`;
  await ok(t, d, 'run', '-d', '--name', squatter, d.image, 'sleep', '600');
  await ok(t, d, 'start', db);
  const ip2 = await ok(t, d, 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', db);
  t.not(ip2, ip);
  const hostsNow = await ok(t, d, 'exec', linker, 'cat', '/etc/hosts');
  t.true(hostsNow.split('\n').includes(`${ip2}\tdbalias dbh ${db}`), hostsNow);
  await ok(t, d, 'rm', '-f', linker, squatter);
  await ok(t, d, 'create', '--name', later, '--link', `${db}:x`, d.image, 'true');
  t.is(await ok(t, d, 'inspect', '-f', '{{json .HostConfig.Links}}', later), `["/${db}:/${later}/x"]`);
  const missing = await d.cli('run', '--rm', '--link', `nosuch-${u}:x`, d.image, 'true');
  t.is(missing.code, 125);
  t.true(
    missing.stderr.includes(`could not get container for nosuch-${u}: No such container: nosuch-${u}`),
    missing.stderr,
  );
  await ok(t, d, 'stop', '-t', '0', db);
  const stopped = await d.cli('start', later);
  t.not(stopped.code, 0);
  t.true(stopped.stderr.includes(`Cannot link to a non running container: /${db} AS /${later}/x`), stopped.stderr);
  await ok(t, d, 'rm', '-f', db, later);
});

test('legacy link names: listed and looked up, renames followed, docker rm --link removes only the link (dockerd 20.10 answers)', async (t) => {
  const d = await startNetnsDaemon(t);
  const u = uid();
  const [db, web, db2, web2] = [`db-${u}`, `web-${u}`, `db2-${u}`, `web2-${u}`];
  await ok(t, d, 'run', '-d', '--name', db, d.image, 'sleep', '600');
  await ok(t, d, 'run', '-d', '--name', web, '--link', `${db}:dbalias`, d.image, 'sleep', '600');
  const dbId = await ok(t, d, 'inspect', '-f', '{{.Id}}', db);
  // The link's name is a name of the linked container: in ps --no-trunc, in Names, and for lookups.
  t.is(await ok(t, d, 'ps', '--no-trunc', '--filter', `id=${dbId}`, '--format', '{{.Names}}'), `${db},${web}/dbalias`);
  t.is(await ok(t, d, 'inspect', '-f', '{{.Id}}', `${web}/dbalias`), dbId);
  // dockerd shows the links with the containers' new names.
  await ok(t, d, 'rename', db, db2);
  await ok(t, d, 'rename', web, web2);
  t.is(await ok(t, d, 'inspect', '-f', '{{json .HostConfig.Links}}', web2), `["/${db2}:/${web2}/dbalias"]`);
  t.is(await ok(t, d, 'inspect', '-f', '{{.Id}}', `${web2}/dbalias`), dbId);
  t.regex(await ok(t, d, 'exec', web2, 'cat', '/etc/hosts'), /\tdbalias /);

  const rmDefault = await d.cli('rm', '--link', db2);
  t.not(rmDefault.code, 0);
  t.regex(rmDefault.stderr, /Conflict, cannot remove the default link name of the container/);
  const rmMissing = await d.cli('rm', '--link', `${web2}/nosuch`);
  t.regex(rmMissing.stderr, new RegExp(`No such container: ${web2}/nosuch`));
  t.is(await ok(t, d, 'rm', '--link', `${web2}/dbalias`), `${web2}/dbalias`);
  // Both containers stay; the link, its name and its /etc/hosts line are gone.
  t.is(await ok(t, d, 'inspect', '-f', '{{.State.Status}} {{json .HostConfig.Links}}', web2), 'running null');
  t.is(await ok(t, d, 'inspect', '-f', '{{.State.Status}}', db2), 'running');
  t.notRegex(await ok(t, d, 'exec', web2, 'cat', '/etc/hosts'), /dbalias/);
  t.is(await ok(t, d, 'ps', '--no-trunc', '--filter', `id=${dbId}`, '--format', '{{.Names}}'), db2);
  await ok(t, d, 'rm', '-f', web2, db2);
});

test('user networks resolve names and aliases; other networks reach neither name nor IP; ports publish on 127.0.0.1', async (t) => {
  const d = await startNetnsDaemon(t);
  const a = uniqueSubnet();
  const b = uniqueSubnet();
  const front = `front-${uid()}`;
  const back = `back-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', a.subnet, front);
  await ok(t, d, 'network', 'create', '--subnet', b.subnet, back);
  const web = `web-${uid()}`;
  await ok(
    t,
    d,
    'run',
    '-d',
    '--name',
    web,
    '--network',
    front,
    '--network-alias',
    'www',
    '-p',
    '127.0.0.1::8080',
    d.image,
    'sh',
    '-c',
    SERVE,
  );
  t.regex(await fetchEventually(d, front, web), /200 OK[\s\S]*hello-from/);
  t.regex(await fetchFrom(d, front, 'www'), /200 OK/);
  const short = (await ok(t, d, 'inspect', '-f', '{{.Id}}', web)).slice(0, 12);
  t.regex(await fetchFrom(d, front, short), /200 OK/);
  const ip = await ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${front}").IPAddress}}`, web);
  t.regex(await fetchFrom(d, back, web), /bad address/);
  t.notRegex(await fetchFrom(d, back, ip), /200 OK/);
  // A container on both networks resolves the names of each, whichever resolver it asks (Docker's way).
  const both = `both-${uid()}`;
  const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 www 8080`;
  await ok(t, d, 'create', '--name', both, '--network', back, d.image, 'sh', '-c', get);
  await ok(t, d, 'network', 'connect', front, both);
  t.regex((await d.cli('start', '-a', both)).stdout, /200 OK[\s\S]*hello-from/);
  await ok(t, d, 'rm', both);
  // The default bridge has no name resolution (as in Docker).
  t.notRegex(await fetchFrom(d, 'bridge', web), /200 OK/);

  const port = await ok(t, d, 'port', web, '8080');
  const m = /^127\.0\.0\.1:(\d+)$/.exec(port);
  t.truthy(m, port);
  const got = await d.inNs('busybox', ['nc', '-w', '3', '127.0.0.1', m![1]!], { stdin: 'GET / HTTP/1.0\r\n\r\n' });
  t.regex(got.stdout, /200 OK[\s\S]*hello-from/);
  const ps = await ok(t, d, 'ps', '--filter', `name=${web}`, '--format', '{{.Ports}}');
  t.is(ps, `127.0.0.1:${m![1]}->8080/tcp`);

  // A host port already taken: a clear error, and the container holds nothing.
  const clashName = `clash-${uid()}`;
  const clash = await d.cli(
    'run',
    '-d',
    '--name',
    clashName,
    '--network',
    front,
    '-p',
    `127.0.0.1:${m![1]}:8080`,
    d.image,
    'sleep',
    '60',
  );
  t.not(clash.code, 0);
  t.regex(clash.stderr, /already|in use|allocated/i);

  await ok(t, d, 'rm', '-f', web);
  await ok(t, d, 'rm', '-f', clashName);
  await ok(t, d, 'network', 'rm', front, back);
  const left = await links(d);
  t.deepEqual(
    left
      .filter((l) => l.startsWith('veth') || l.startsWith('skiff-') || l.startsWith('sk'))
      .filter((l) => l !== 'skiff0'),
    [],
    left.join(','),
  );
  const rules = (await d.inNs('nft', ['list', 'ruleset'])).stdout;
  t.false(rules.includes(a.prefix), 'no nft rule mentions the removed network');
  t.false(rules.includes(`:${m![1]}`) || rules.includes(` ${m![1]} `), 'no nft rule publishes the port');
});

/** GET / of host:port from the daemon's namespace (the host's view); the response, '' if none came. */
async function getFromHost(d: NetnsDaemon, host: string, port: string, tries = 20): Promise<string> {
  let out = '';
  for (let i = 0; i < tries && !out.includes('200 OK'); i++) {
    if (i) await sleep(200);
    out = (await d.inNs('busybox', ['nc', '-w', '3', host, port], { stdin: 'GET / HTTP/1.0\r\n\r\n' })).stdout;
  }
  return out;
}

test('a port published without an address answers on 0.0.0.0 and [::] alike (the IPv6 side through a userland proxy), as under dockerd', async (t) => {
  const d = await startNetnsDaemon(t);
  const { subnet } = uniqueSubnet();
  const v6 = `fd43:${(0x1000 + Math.floor(Math.random() * 0xefff)).toString(16)}::/64`;
  const plain = `p-${uid()}`;
  const dual = `d-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', subnet, plain);
  await ok(t, d, 'network', 'create', '--ipv6', '--subnet', uniqueSubnet().subnet, '--subnet', v6, dual);
  const web = `web-${uid()}`;
  const web6 = `web6-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', web, '--network', plain, '-p', '8080', d.image, 'sh', '-c', SERVE);
  // Listening on IPv6 only: what answers on [::1] must have come over IPv6 to the container.
  const SERVE6 = SERVE.replace('-p 8080', '-p [::]:8080');
  await ok(t, d, 'run', '-d', '--name', web6, '--network', dual, '-p', '8080', d.image, 'sh', '-c', SERVE6);

  // dockerd 20.10 for `-p 8080`: `80/tcp -> 0.0.0.0:P` and `80/tcp -> [::]:P`, the same in inspect and ps.
  const lines = (await ok(t, d, 'port', web, '8080')).split('\n');
  const port = /^0\.0\.0\.0:(\d+)$/.exec(lines[0] ?? '')?.[1];
  t.truthy(port, lines.join(' | '));
  t.deepEqual(lines, [`0.0.0.0:${port}`, `[::]:${port}`]);
  t.deepEqual(JSON.parse(await ok(t, d, 'inspect', '-f', '{{json .NetworkSettings.Ports}}', web)), {
    '8080/tcp': [
      { HostIp: '0.0.0.0', HostPort: port },
      { HostIp: '::', HostPort: port },
    ],
  });
  t.is(
    await ok(t, d, 'ps', '--filter', `name=${web}`, '--format', '{{.Ports}}'),
    `0.0.0.0:${port}->8080/tcp, [::]:${port}->8080/tcp`,
  );
  t.regex(await getFromHost(d, '127.0.0.1', port!), /200 OK[\s\S]*hello-from/);
  t.regex(await getFromHost(d, '::1', port!), /200 OK[\s\S]*hello-from/, 'an IPv4-only container on [::1]');
  // An explicit 0.0.0.0 is IPv4 only, as under dockerd.
  const v4only = `v4-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', v4only, '--network', plain, '-p', '0.0.0.0::8080', d.image, 'sleep', '600');
  t.regex(await ok(t, d, 'port', v4only, '8080'), /^0\.0\.0\.0:\d+$/);

  const port6 = /:(\d+)$/.exec((await ok(t, d, 'port', web6, '8080')).split('\n')[1] ?? '')?.[1];
  t.regex(await getFromHost(d, '::1', port6!), /200 OK[\s\S]*hello-from/, 'a dual-stack container over IPv6');

  // The port is held: another container cannot have it on [::] either.
  const clash = await d.cli('run', '-d', '--network', plain, '-p', `[::]:${port}:8080`, d.image, 'sleep', '60');
  t.not(clash.code, 0);
  t.regex(clash.stderr, /already allocated|in use/);

  // Gone with the container: nothing listens on the port any more.
  await ok(t, d, 'rm', '-f', web, web6, v4only);
  t.is(await getFromHost(d, '::1', port!, 1), '');
  const listeners = (await d.inNs('ss', ['-Hltn'])).stdout;
  t.false(listeners.includes(`:${port} `), listeners);
  await ok(t, d, 'network', 'rm', plain, dual);
});

test('host ports for -p 8080 and -P count up from the ephemeral range as dockerd hands them out, also past a kill -9', async (t) => {
  const d = await startNetnsDaemon(t);
  const net = `hp-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, net);
  const low = Number((await d.inNs('cat', ['/proc/sys/net/ipv4/ip_local_port_range'])).stdout.split(/\s+/)[0]);
  const hostPort = async (name: string) => Number(/:(\d+)$/.exec(await ok(t, d, 'port', name, '8080'))?.[1]);
  const run = async (...publish: string[]) => {
    const name = `hp-${uid()}`;
    await ok(t, d, 'run', '-d', '--name', name, '--network', net, ...publish, d.image, 'sleep', '600');
    return name;
  };
  // dockerd 20.10 in a fresh namespace gave 32768, 32769 and, after the first was removed, 32770.
  const a = await run('-p', '127.0.0.1::8080');
  t.is(await hostPort(a), low);
  const b = await run('--expose', '8080', '-P');
  t.is(await hostPort(b), low + 1);
  await ok(t, d, 'rm', '-f', a);
  const c = await run('-p', '127.0.0.1::8080');
  t.is(await hostPort(c), low + 2, 'a port just freed is not handed out again at once');
  // After a kill -9 the count starts over, passing the ports the restored containers hold: c's is
  // only a DNAT rule (no socket), so only skiffd's own record knows it is taken.
  await d.crashAndRestart();
  const e = await run('-p', '127.0.0.1::8080');
  t.is(await hostPort(e), low);
  const f = await run('-p', '127.0.0.1::8080');
  t.is(await hostPort(f), low + 3);
  await ok(t, d, 'rm', '-f', b, c, e, f);
});

test('--internal networks reach nothing outside; --network container: shares a namespace', async (t) => {
  const d = await startNetnsDaemon(t);
  // "Outside": a namespace behind a veth of the daemon's namespace, with a server on it.
  const outside = `skiff-t-${uid()}`;
  const o = `198.18.${Math.floor(Math.random() * 250)}`;
  t.teardown(() => d.inNs('ip', ['netns', 'del', outside]).then(() => undefined));
  await d.inNs('ip', ['netns', 'add', outside]);
  const vo = `vo${uid()}`;
  t.is((await d.inNs('ip', ['link', 'add', vo, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside])).code, 0);
  await d.inNs('ip', ['addr', 'add', `${o}.1/30`, 'dev', vo]);
  await d.inNs('ip', ['link', 'set', vo, 'up']);
  for (const cmd of [
    ['link', 'set', 'lo', 'up'],
    ['link', 'set', 'eth0', 'up'],
    ['addr', 'add', `${o}.2/30`, 'dev', 'eth0'],
  ])
    await d.inNs('ip', ['-n', outside, ...cmd]);
  const srv = d.inNs(
    'ip',
    [
      'netns',
      'exec',
      outside,
      'busybox',
      'sh',
      '-c',
      `echo outside > /tmp/o-${outside}.html; exec busybox httpd -f -p 8080 -h /tmp`,
    ],
    { timeoutMs: 600_000 },
  );
  t.teardown(() =>
    d
      .inNs('ip', ['netns', 'pids', outside])
      .then((r) =>
        r.stdout
          .split('\n')
          .filter(Boolean)
          .forEach((p) => process.kill(Number(p))),
      )
      .then(() => srv),
  );

  const open = `open-${uid()}`;
  const internal = `int-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, open);
  await ok(t, d, 'network', 'create', '--internal', '--subnet', uniqueSubnet().subnet, internal);
  t.regex(await fetchEventually(d, open, `${o}.2`), /200 OK|404/);
  t.notRegex(await fetchFrom(d, internal, `${o}.2`), /HTTP/);
  t.is(JSON.parse(await ok(t, d, 'network', 'inspect', internal))[0].Internal, true);

  // container: mode.
  const owner = `own-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', owner, '--network', open, d.image, 'sleep', '600');
  const mine = await ok(t, d, 'exec', owner, 'readlink', '/proc/1/ns/net');
  const shared = await ok(
    t,
    d,
    'run',
    '--rm',
    '--network',
    `container:${owner}`,
    d.image,
    'readlink',
    '/proc/self/ns/net',
  );
  t.is(shared, mine);
  const stoppedOwner = `so-${uid()}`;
  await ok(t, d, 'create', '--name', stoppedOwner, d.image, 'true');
  const notRunning = await d.cli('run', '--rm', '--network', `container:${stoppedOwner}`, d.image, 'true');
  t.regex(notRunning.stderr, /non running container/);
  const missing = await d.cli('run', '--rm', '--network', `container:nope-${uid()}`, d.image, 'true');
  t.regex(missing.stderr, /No such container/);
});

test('after kill -9 of skiffd, running containers keep networking and stale endpoints are collected', async (t) => {
  const d = await startNetnsDaemon(t);
  const { subnet } = uniqueSubnet();
  const net = `k-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', subnet, net);
  const web = `web-${uid()}`;
  const gone = `gone-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', web, '--network', net, '-p', '8080', d.image, 'sh', '-c', SERVE);
  await ok(t, d, 'run', '-d', '--name', gone, '--network', net, d.image, 'sleep', '600');
  const port = /:(\d+)$/.exec(await ok(t, d, 'port', web, '8080'))![1]!;
  const goneIp = await ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, gone);
  const gonePid = Number(await ok(t, d, 'inspect', '-f', '{{.State.Pid}}', gone));
  t.regex(await fetchEventually(d, net, web), /200 OK/);
  await d.crashAndRestart();
  // While skiffd was down the second container died.
  process.kill(gonePid, 'SIGKILL');
  await d.crashAndRestart();
  t.regex(await fetchEventually(d, net, web), /200 OK/);
  // Published ports again: DNAT on IPv4, the userland proxy (skiffd's own socket) on IPv6.
  t.regex(await getFromHost(d, '127.0.0.1', port), /200 OK/);
  t.regex(await getFromHost(d, '::1', port), /200 OK/);
  t.is(await ok(t, d, 'inspect', '-f', '{{.State.Status}}', gone), 'exited');
  const members = JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].Containers as Record<
    string,
    { Name: string }
  >;
  t.deepEqual(
    Object.values(members).map((m) => m.Name),
    [web],
  );
  // Its address is free again.
  await ok(t, d, 'run', '--rm', '--network', net, '--ip', goneIp, d.image, 'true');
  await ok(t, d, 'rm', '-f', web, gone);
  await ok(t, d, 'network', 'rm', net);
});

test('daemon.json bip, fixed-cidr, mtu and default-address-pools shape the networks', async (t) => {
  const a = 100 + Math.floor(Math.random() * 100);
  const d = await startNetnsDaemon(t, {
    config: {
      bip: `10.${a}.7.1/24`,
      'fixed-cidr': `10.${a}.7.64/26`,
      mtu: 1400,
      'default-address-pools': [{ base: `10.${a}.16.0/20`, size: 26 }],
    },
  });
  const bridge = JSON.parse(await ok(t, d, 'network', 'inspect', 'bridge'))[0];
  t.deepEqual(bridge.IPAM.Config, [{ Subnet: `10.${a}.7.0/24`, Gateway: `10.${a}.7.1`, IPRange: `10.${a}.7.64/26` }]);
  t.is(bridge.Options['com.docker.network.driver.mtu'], '1400');
  const c = `c-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', c, d.image, 'sleep', '600');
  t.is(await ok(t, d, 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', c), `10.${a}.7.64`);
  const net = `p-${uid()}`;
  await ok(t, d, 'network', 'create', net);
  t.is(JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].IPAM.Config[0].Subnet, `10.${a}.16.0/26`);
  await ok(t, d, 'rm', '-f', c);
});

test('IPv6 networks: addresses from both families, shown like dockerd', async (t) => {
  const d = await startNetnsDaemon(t);
  const { subnet, prefix } = uniqueSubnet();
  const v6 = `fd42:${(0x1000 + Math.floor(Math.random() * 0xefff)).toString(16)}::/64`;
  const net = `six-${uid()}`;
  const noSix = await d.cli('network', 'create', '--ipv6', `x-${uid()}`);
  t.not(noSix.code, 0, 'EnableIPv6 without an IPv6 subnet is refused');
  await ok(t, d, 'network', 'create', '--ipv6', '--subnet', subnet, '--subnet', v6, net);
  const c = `c-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', c, '--network', net, d.image, 'sleep', '600');
  const ep = JSON.parse(await ok(t, d, 'inspect', '-f', `{{json (index .NetworkSettings.Networks "${net}")}}`, c));
  t.is(ep.IPAddress, `${prefix}.2`);
  t.is(ep.GlobalIPv6Address, `${v6.split('::')[0]}::2`);
  t.is(ep.GlobalIPv6PrefixLen, 64);
  const addrs = await ok(t, d, 'exec', c, 'ip', '-o', 'addr');
  t.true(addrs.includes(`${ep.GlobalIPv6Address}/64`), addrs);
  const member = Object.values(JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].Containers)[0] as Record<
    string,
    string
  >;
  t.is(member.IPv6Address, `${ep.GlobalIPv6Address}/64`);
  await ok(t, d, 'rm', '-f', c);
  await ok(t, d, 'network', 'rm', net);
});

test('macvlan: containers on a parent reach each other; a missing parent is a clear error; rm leaves no link', async (t) => {
  const d = await startNetnsDaemon(t);
  // The parent is a veth pair made inside the daemon's namespace: never the machine's NIC.
  const parent = `mv${uid().slice(0, 6)}`;
  for (const args of [
    ['link', 'add', parent, 'type', 'veth', 'peer', 'name', `${parent}p`],
    ['link', 'set', parent, 'up'],
    ['link', 'set', `${parent}p`, 'up'],
  ]) {
    const r = await d.inNs('ip', args);
    t.is(r.code, 0, r.stderr);
  }
  const net = `mv-${uid()}`;
  await ok(
    t,
    d,
    'network',
    'create',
    '-d',
    'macvlan',
    '--subnet',
    uniqueSubnet().subnet,
    '-o',
    `parent=${parent}`,
    net,
  );
  const web = `mvweb-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', web, '--network', net, d.image, 'sh', '-c', SERVE);
  const ip = await ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, web);
  t.regex(await fetchEventually(d, net, ip), /200 OK[\s\S]*hello-from/);

  const badName = `mvbad-${uid()}`;
  const bad = await d.cli(
    'network',
    'create',
    '-d',
    'macvlan',
    '--subnet',
    uniqueSubnet().subnet,
    '-o',
    'parent=nosuchif0',
    badName,
  );
  t.not(bad.code, 0);
  t.regex(bad.stderr, /nosuchif0/);
  t.false((await ok(t, d, 'network', 'ls', '--format', '{{.Name}}')).split('\n').includes(badName));

  await ok(t, d, 'rm', '-f', web);
  await ok(t, d, 'network', 'rm', net);
  const left = await d.inNs('ip', ['-j', 'link', 'show', 'type', 'macvlan']);
  t.deepEqual(JSON.parse(left.stdout || '[]'), []);
});

test('network inspect of none and host lists their running containers, as dockerd', async (t) => {
  const d = await startNetnsDaemon(t);
  for (const net of ['none', 'host']) {
    const name = `${net}-${uid()}`;
    const id = await ok(t, d, 'run', '-d', '--network', net, '--name', name, d.image, 'sleep', '60');
    const listed = JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].Containers as Record<
      string,
      Record<string, string>
    >;
    t.like(listed[id], { Name: name, MacAddress: '', IPv4Address: '', IPv6Address: '' });
    t.regex(listed[id]?.EndpointID ?? '', /^[0-9a-f]{64}$/);
    await ok(t, d, 'rm', '-f', name);
    const after = JSON.parse(await ok(t, d, 'network', 'inspect', net))[0].Containers as Record<string, unknown>;
    t.false(id in after);
  }
});

test('a renamed container answers to its new name on user networks, no longer to the old one', async (t) => {
  const d = await startNetnsDaemon(t);
  const net = `ren-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, net);
  const [before, after] = [`old-${uid()}`, `new-${uid()}`];
  await ok(t, d, 'run', '-d', '--name', before, '--network', net, d.image, 'sh', '-c', SERVE);
  t.regex(await fetchEventually(d, net, before), /200 OK/);
  await ok(t, d, 'rename', before, after);
  t.regex(await fetchFrom(d, net, after), /200 OK/);
  t.regex(await fetchFrom(d, net, before), /bad address/);
});

test('publishing port 53 beside the embedded DNS: allowed, and names on the network still resolve', async (t) => {
  const d = await startNetnsDaemon(t);
  const net = `dns53-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, net);
  const web = `web-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', web, '--network', net, d.image, 'sh', '-c', SERVE);
  await ok(t, d, 'run', '-d', '--network', net, '-p', '53:53/udp', '-p', '53:53/tcp', d.image, 'sleep', '600');
  t.regex(await fetchEventually(d, net, web), /200 OK/);
});

/** A resolver inside the daemon's namespace on `address`:53 that knows one name (loopback-only traffic). */
const FAKE_UPSTREAM = `
const dgram = require('node:dgram');
const [address, name, ip] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  let o = 12, labels = [];
  while (m[o]) { labels.push(m.subarray(o + 1, o + 1 + m[o]).toString()); o += m[o] + 1; }
  const q = m.subarray(12, o + 5);
  const hit = labels.join('.') === name && m.readUInt16BE(o + 1) === 1;
  const head = Buffer.alloc(12);
  m.copy(head, 0, 0, 2);
  head.writeUInt16BE(hit ? 0x8180 : 0x8183, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(hit ? 1 : 0, 6);
  const ans = hit ? Buffer.concat([Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4]), Buffer.from(ip.split('.').map(Number))]) : Buffer.alloc(0);
  s.send(Buffer.concat([head, q, ans]), r.port, r.address);
});
s.bind(53, address, () => console.log('ready'));
`;

test("--dns on a user network: the embedded DNS forwards that container's queries there; resolv.conf names only the gateway", async (t) => {
  const d = await startNetnsDaemon(t);
  const upstream = `10.253.${Math.floor(Math.random() * 250)}.1`;
  t.is((await d.inNs('ip', ['addr', 'add', `${upstream}/32`, 'dev', 'lo'])).code, 0);
  const fake = new ManagedProcess('nsenter', [
    `--net=/run/netns/${d.netns}`,
    nodeBin,
    '-e',
    FAKE_UPSTREAM,
    upstream,
    'only-upstream.test',
    '10.253.9.9',
  ]);
  t.teardown(() => fake.stop(5_000));
  for (let i = 0; !fake.output().includes('ready'); i++) {
    if (fake.status || i > 200) t.fail(`fake upstream did not start: ${fake.output()}`);
    await sleep(50);
  }
  const net = `dns-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, net);
  const withDns = await d.cli(
    'run',
    '--rm',
    '--network',
    net,
    '--dns',
    upstream,
    d.image,
    'sh',
    '-c',
    'grep ^nameserver /etc/resolv.conf; nslookup only-upstream.test',
  );
  // One nameserver: the network's gateway (the embedded DNS).
  t.is(withDns.stdout.split('\n').filter((l) => l.startsWith('nameserver')).length, 1, withDns.stdout);
  t.notRegex(withDns.stdout, new RegExp(`nameserver ${upstream}`));
  t.regex(withDns.stdout, /10\.253\.9\.9/);
  // Without --dns this daemon's network has no upstream at all.
  const without = await d.cli('run', '--rm', '--network', net, d.image, 'nslookup', 'only-upstream.test');
  t.notRegex(without.stdout, /10\.253\.9\.9/);
  // The whole file as dockerd 20.10 wrote it for the same flags (its nameserver: 127.0.0.11).
  const flags = ['--dns-search', 'ex.com', '--dns-option', 'ndots:3'];
  const resolv = await ok(t, d, 'run', '--rm', '--network', net, ...flags, d.image, 'cat', '/etc/resolv.conf');
  t.regex(resolv, /^search ex\.com\nnameserver \S+\noptions ndots:3$/, resolv);
  const plain = await ok(
    t,
    d,
    'run',
    '--rm',
    '--network',
    net,
    '--dns-search',
    '.',
    d.image,
    'cat',
    '/etc/resolv.conf',
  );
  t.regex(plain, /^nameserver \S+\noptions (\S+ )*ndots:0$/, plain);
});

/** A bridge network with one driver option, and the web server on it publishing `publish`. */
async function serveOnBridge(t: ExecutionContext, d: NetnsDaemon, option: string, publish: string) {
  const net = `opt-${uid()}`;
  await ok(t, d, 'network', 'create', '--subnet', uniqueSubnet().subnet, '-o', option, net);
  const web = `web-${uid()}`;
  await ok(t, d, 'run', '-d', '--name', web, '--network', net, '-p', publish, d.image, 'sh', '-c', SERVE);
  return { net, web };
}

test('enable_icc=false: containers of the network cannot reach each other; the host still reaches a published port', async (t) => {
  const d = await startNetnsDaemon(t);
  const { net, web } = await serveOnBridge(t, d, 'com.docker.network.bridge.enable_icc=false', '127.0.0.1::8080');
  const port = /:(\d+)$/.exec(await ok(t, d, 'port', web, '8080'))![1]!;
  let fromHost = '';
  for (let i = 0; i < 20 && !fromHost.includes('200 OK'); i++, await sleep(200))
    fromHost = (await d.inNs('busybox', ['nc', '-w', '3', '127.0.0.1', port], { stdin: 'GET / HTTP/1.0\r\n\r\n' }))
      .stdout;
  t.regex(fromHost, /200 OK/);
  const ip = await ok(t, d, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, web);
  t.notRegex(await fetchFrom(d, net, ip), /200 OK/);
});

test('host_binding_ipv4: ports published without an address bind there', async (t) => {
  const d = await startNetnsDaemon(t);
  const { web } = await serveOnBridge(t, d, 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1', '8080');
  t.regex(await ok(t, d, 'port', web, '8080'), /^127\.0\.0\.1:\d+$/);
});
