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

test('a VM container joins one network: a second is refused at connect, and at start when it was created with two', async (t) => {
  if (!existsSync('/var/cache/skiff/vm/manifest.json')) return t.fail('no VM assets: run skiff-vm-assets');
  const d = await startNetnsDaemon(t, { config: VM_CONFIG });
  const [netA, netB] = [`vmneta-${uid()}`, `vmnetb-${uid()}`];
  for (const n of [netA, netB]) {
    const r = await d.cli('network', 'create', '--subnet', uniqueSubnet().subnet, n);
    t.is(r.code, 0, r.stderr);
  }
  const [vm, runc, two] = [`vm1-${uid()}`, `runc2-${uid()}`, `vm2-${uid()}`];
  const create = await d.cli('create', '--runtime', 'vm', '--network', netA, '--name', vm, d.image, 'sleep', '600');
  t.is(create.code, 0, create.stderr);
  const refused = await d.cli('network', 'connect', netB, vm);
  t.is(refused.code, 1);
  t.regex(
    refused.stderr,
    new RegExp(`runtime vm, which connects a container to one network: disconnect it from ${netA} first`),
  );
  t.is((await d.cli('start', vm)).code, 0);
  t.is((await d.cli('network', 'connect', netB, vm)).code, 1, 'nor while it runs');
  const joined = await d.cli('inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', vm);
  t.is(joined.stdout.trim(), netA);
  // runc containers are not limited.
  t.is((await d.cli('create', '--network', netA, '--name', runc, d.image, 'true')).code, 0);
  t.is((await d.cli('network', 'connect', netB, runc)).code, 0);

  // Two networks given at create (API ≥ 1.44 clients): start says why the VM cannot run it.
  const made = await api(d.host, 'POST', `/containers/create?name=${two}`, {
    Image: d.image,
    Cmd: ['true'],
    HostConfig: { Runtime: 'vm', NetworkMode: netA },
    NetworkingConfig: { EndpointsConfig: { [netA]: {}, [netB]: {} } },
  });
  t.is(made.status, 201, made.body);
  const start = await d.cli('start', two);
  t.not(start.code, 0);
  t.regex(start.stderr, /the vm runtime connects a container to one network; this one also has eth1/);
  t.is((await d.cli('inspect', '-f', '{{.State.Running}}', two)).stdout.trim(), 'false');
  t.is((await d.cli('inspect', '-f', '{{.State.Running}}', vm)).stdout.trim(), 'true', 'skiffd serves on');
  await d.cli('rm', '-f', vm, runc, two);
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
