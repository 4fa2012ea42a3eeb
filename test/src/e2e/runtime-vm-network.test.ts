import { existsSync } from 'node:fs';
import test from 'ava';
import { sleep } from '../harness/index.js';
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
