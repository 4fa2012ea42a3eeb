import { existsSync } from 'node:fs';
import test from 'ava';
import { api, sleep } from '../harness/index.js';
import { startNetnsDaemon, uid, uniqueSubnet } from '../harness/netns-daemon.js';

// A VM container's NIC is a tap in the container's network namespace, mirrored (tc) to the
// container's veth: bridge networks, published ports and the embedded DNS work unchanged.

const VM_CONFIG = { runtimes: { vm: { runtimeType: 'vm' } } };

test('a port published from a VM container answers on 127.0.0.1; the VM reaches containers by name', async (t) => {
  if (!existsSync('/var/cache/skiff/vm/manifest.json')) return t.fail('no VM assets: run skiff-vm-assets');
  const d = await startNetnsDaemon(t, { config: VM_CONFIG });
  const net = `vmnet-${uid()}`;
  const created = await d.cli('network', 'create', '--subnet', uniqueSubnet().subnet, net);
  t.is(created.code, 0, created.stderr);

  const web = `vmweb-${uid()}`;
  const serve = 'echo hello-from-vm > /tmp/index.html; exec httpd -f -p 8080 -h /tmp';
  const run = await d.cli(
    'run',
    '-d',
    '--runtime',
    'vm',
    '--name',
    web,
    '--network',
    net,
    '-p',
    '127.0.0.1::8080',
    d.image,
    'sh',
    '-c',
    serve,
  );
  t.is(run.code, 0, `${run.stderr}\n${d.output()}`);
  const port = /^127\.0\.0\.1:(\d+)$/.exec((await d.cli('port', web, '8080')).stdout.trim())?.[1];
  t.truthy(port);
  let got = '';
  for (let i = 0; i < 100 && !got.includes('200 OK'); i++) {
    got = (await d.inNs('busybox', ['nc', '-w', '3', '127.0.0.1', port!], { stdin: 'GET / HTTP/1.0\r\n\r\n' })).stdout;
    if (!got.includes('200 OK')) await sleep(200);
  }
  t.regex(got, /200 OK[\s\S]*hello-from-vm/, (await d.cli('logs', web)).stderr);

  // A runc container serves; a VM client on the same network finds it through the embedded DNS.
  const peer = `peer-${uid()}`;
  const peerRun = await d.cli(
    'run',
    '-d',
    '--name',
    peer,
    '--network',
    net,
    d.image,
    'sh',
    '-c',
    'echo hello-from-runc > /tmp/index.html; exec httpd -f -p 8080 -h /tmp',
  );
  t.is(peerRun.code, 0, peerRun.stderr);
  const client = await d.cli(
    'run',
    '--rm',
    '--runtime',
    'vm',
    '--network',
    net,
    d.image,
    'sh',
    '-c',
    `for i in 1 2 3 4 5; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${peer} 8080 && exit 0; sleep 1; done; cat /etc/resolv.conf; exit 1`,
  );
  t.is(client.code, 0, `${client.stdout}${client.stderr}`);
  t.regex(client.stdout, /200 OK[\s\S]*hello-from-runc/);
  await d.cli('rm', '-f', web, peer);
});

test('a VM container joins several networks: connected before the start, while it runs, and disconnected', async (t) => {
  if (!existsSync('/var/cache/skiff/vm/manifest.json')) return t.fail('no VM assets: run skiff-vm-assets');
  const d = await startNetnsDaemon(t, { config: VM_CONFIG });
  const [netA, netB, netC] = [`vmneta-${uid()}`, `vmnetb-${uid()}`, `vmnetc-${uid()}`];
  const gateways = new Map<string, string>();
  for (const n of [netA, netB, netC]) {
    const { subnet, prefix } = uniqueSubnet();
    gateways.set(n, `${prefix}.1`);
    const r = await d.cli('network', 'create', '--subnet', subnet, n);
    t.is(r.code, 0, r.stderr);
  }
  // A runc server on B and one on C: the VM reaches each only through the NIC for that network.
  const [peerB, peerC, vm] = [`peerb-${uid()}`, `peerc-${uid()}`, `vmm-${uid()}`];
  for (const [peer, net] of [
    [peerB, netB],
    [peerC, netC],
  ] as const) {
    const serve = `echo hello-from-${peer} > /tmp/index.html; exec httpd -f -p 8080 -h /tmp`;
    const r = await d.cli('run', '-d', '--name', peer, '--network', net, d.image, 'sh', '-c', serve);
    t.is(r.code, 0, r.stderr);
  }
  const ipOf = async (name: string, net: string) =>
    (await d.cli('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name)).stdout.trim();
  // By name: the embedded DNS knows the names of each of the container's networks.
  // Tries for ~45 s: a TCG guest on a busy machine (VM tests run side by side) can miss nc's 3 s.
  const fetchFrom = (peer: string) =>
    d.cli(
      'exec',
      vm,
      'sh',
      '-c',
      [
        'for i in $(seq 15); do',
        `out=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${peer} 8080) && [ -n "$out" ] && break; sleep 1;`,
        'done; printf "%s\\n" "$out"',
      ].join(' '),
    );

  // Connected before the start (as docker-compose does with a service's second network).
  t.is((await d.cli('create', '--runtime', 'vm', '--network', netA, '--name', vm, d.image, 'sleep', '600')).code, 0);
  const connectB = await d.cli('network', 'connect', netB, vm);
  t.is(connectB.code, 0, connectB.stderr);
  const started = await d.cli('start', vm);
  t.is(started.code, 0, `${started.stderr}\n${d.output()}`);
  const addrs = (await d.cli('exec', vm, 'ip', '-o', '-4', 'addr', 'show')).stdout;
  t.true(addrs.includes(`eth0    inet ${await ipOf(vm, netA)}/`), addrs);
  t.true(addrs.includes(`eth1    inet ${await ipOf(vm, netB)}/`), addrs);
  // Reaching `peer` (on `net`) by name; a failure shows what the VM saw.
  const reaches = async (peer: string, net: string, why: string) => {
    const got = await fetchFrom(peer);
    if (new RegExp(`200 OK[\\s\\S]*hello-from-${peer}`).test(got.stdout)) return t.pass();
    const seen = await d.cli(
      'exec',
      vm,
      'sh',
      '-c',
      `cat /etc/resolv.conf; ip -o addr; ip route; ip -o link; nslookup ${peer}; ping -c 1 -W 2 ${await ipOf(peer, net)}`,
    );
    t.fail(`${why}: exec exit ${got.code}: ${got.stderr}\n${seen.stdout}${seen.stderr}\n${d.output().slice(-4000)}`);
  };
  await reaches(peerB, netB, 'connected before the start');
  // One default route, the gateway network's (the name that sorts first), as runc's namespaces have it.
  const defaults = async () =>
    (await d.cli('exec', vm, 'ip', 'route')).stdout
      .split('\n')
      .filter((l) => l.startsWith('default'))
      .map((l) => l.trim().replace(/\s+/g, ' '));
  t.deepEqual(await defaults(), [`default via ${gateways.get(netA)} dev eth0`]);

  // Connected while it runs: a NIC is plugged into the VM, /etc/hosts follows.
  const connectC = await d.cli('network', 'connect', netC, vm);
  t.is(connectC.code, 0, `${connectC.stderr}\n${d.output()}`);
  const ipC = await ipOf(vm, netC);
  t.regex(
    (await d.cli('exec', vm, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth2')).stdout,
    new RegExp(`inet ${ipC}/`),
  );
  t.true((await d.cli('exec', vm, 'cat', '/etc/hosts')).stdout.includes(ipC));
  await reaches(peerC, netC, 'connected while it runs');

  // Disconnected while it runs: the NIC leaves the VM.
  const disconnectC = await d.cli('network', 'disconnect', netC, vm);
  t.is(disconnectC.code, 0, disconnectC.stderr);
  t.false((await d.cli('exec', vm, 'ip', '-o', 'link')).stdout.includes('eth2'));
  t.not((await d.cli('exec', vm, 'nc', '-w', '2', await ipOf(peerC, netC), '8080')).code, 0);
  await reaches(peerB, netB, 'the other networks stay');
  // And again: the freed port takes the next NIC.
  t.is((await d.cli('network', 'connect', netC, vm)).code, 0);
  await reaches(peerC, netC, 'connected again');
  // The first network (the boot NIC's) disconnected: that NIC goes down, the others carry on.
  t.is((await d.cli('network', 'disconnect', netA, vm)).code, 0);
  t.deepEqual(await defaults(), [`default via ${gateways.get(netB)} dev eth1`]);
  t.false(/\beth0\b/.test((await d.cli('exec', vm, 'ip', '-o', 'addr')).stdout));
  await reaches(peerB, netB, 'by name, through the remaining network');
  // A paused VM takes no NIC: the connect fails with the shim's words and is undone.
  t.is((await d.cli('pause', vm)).code, 0);
  const whilePaused = await d.cli('network', 'connect', netA, vm);
  t.not(whilePaused.code, 0);
  t.regex(whilePaused.stderr, /is paused: unpause it to change its networks/);
  t.false((await d.cli('inspect', '-f', '{{json .NetworkSettings.Networks}}', vm)).stdout.includes(netA));
  t.is((await d.cli('unpause', vm)).code, 0);
  t.is((await d.cli('inspect', '-f', '{{.State.Running}}', vm)).stdout.trim(), 'true');
  // Connected again: the network whose name sorts first takes the default route over.
  const again = await d.cli('network', 'connect', netA, vm);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(await defaults(), [`default via ${gateways.get(netA)} dev eth0`]);
  // Its address (and MAC) are the ones the parked boot NIC had: the new NIC has them, not that one.
  const addrsNow = (await d.cli('exec', vm, 'ip', '-o', '-4', 'addr')).stdout;
  t.true(addrsNow.includes(`eth0    inet ${await ipOf(vm, netA)}/`), addrsNow);
  t.false(addrsNow.includes('unused0'), addrsNow);
  await reaches(peerB, netB, 'the first network back: the other networks stay');
  await d.cli('rm', '-f', vm, peerB, peerC);
});

test('a VM container created with two networks (API ≥ 1.44 clients) starts with a NIC for each', async (t) => {
  if (!existsSync('/var/cache/skiff/vm/manifest.json')) return t.fail('no VM assets: run skiff-vm-assets');
  const d = await startNetnsDaemon(t, { config: VM_CONFIG });
  const [netA, netB] = [`vmneta-${uid()}`, `vmnetb-${uid()}`];
  for (const n of [netA, netB]) t.is((await d.cli('network', 'create', '--subnet', uniqueSubnet().subnet, n)).code, 0);
  const two = `vm2-${uid()}`;
  const made = await api(d.host, 'POST', `/containers/create?name=${two}`, {
    Image: d.image,
    Cmd: ['ip', '-o', '-4', 'addr', 'show'],
    HostConfig: { Runtime: 'vm', NetworkMode: netA },
    NetworkingConfig: { EndpointsConfig: { [netA]: {}, [netB]: {} } },
  });
  t.is(made.status, 201, made.body);
  const start = await d.cli('start', '-a', two);
  t.is(start.code, 0, start.stderr);
  t.regex(start.stdout, /eth0\s+inet /);
  t.regex(start.stdout, /eth1\s+inet /);
  await d.cli('rm', '-f', two);
});

test('a VM container on an IPv6 network has its IPv6 address and reaches a runc container over IPv6', async (t) => {
  if (!existsSync('/var/cache/skiff/vm/manifest.json')) return t.fail('no VM assets: run skiff-vm-assets');
  const d = await startNetnsDaemon(t, { config: VM_CONFIG });
  const net = `vm6-${uid()}`;
  const v6 = `fd42:${(0x1000 + Math.floor(Math.random() * 0xefff)).toString(16)}::/64`;
  const created = await d.cli('network', 'create', '--ipv6', '--subnet', uniqueSubnet().subnet, '--subnet', v6, net);
  t.is(created.code, 0, created.stderr);
  const peer = `peer6-${uid()}`;
  t.is((await d.cli('run', '-d', '--name', peer, '--network', net, d.image, 'sleep', '600')).code, 0);
  const peer6 = (
    await d.cli('inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").GlobalIPv6Address}}`, peer)
  ).stdout.trim();
  t.regex(peer6, /^fd42:/);
  const vm = `vm6-${uid()}`;
  const run = await d.cli(
    'run',
    '--name',
    vm,
    '--runtime',
    'vm',
    '--network',
    net,
    d.image,
    'sh',
    '-c',
    `ip -o -6 addr show dev eth0 scope global; ip -6 route show default; ping6 -c 1 -W 5 ${peer6}`,
  );
  t.is(run.code, 0, `${run.stdout}${run.stderr}`);
  // The address IPAM gave it (the peer has ::2, the gateway ::1).
  t.true(run.stdout.includes(`inet6 ${v6.split('::')[0]}::3/64 scope global`), run.stdout);
  t.regex(run.stdout, /^default via fd42:\S+ dev eth0/m);
  t.regex(run.stdout, /1 packets received/);
  await d.cli('rm', '-f', vm, peer);
});
