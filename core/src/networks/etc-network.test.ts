import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { writeNetworkEtcFiles } from '../containers/etc-files.js';

test('hosts and resolv.conf after attach: addresses, extra hosts, only the network resolver, rewritten in place', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-etc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const paths = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf') };
  await writeFile(paths.hosts, 'old\n');
  await writeFile(paths.resolvConf, 'old\n');
  const inodes = [(await stat(paths.hosts)).ino, (await stat(paths.resolvConf)).ino];
  writeNetworkEtcFiles(paths, {
    hostname: 'web',
    domainname: 'example.org',
    addresses: ['10.1.2.3'],
    extraHosts: ['db:10.9.9.9'],
    resolver: { nameservers: ['10.1.2.1'], options: ['ndots:0'] },
    dns: ['192.0.2.53'],
    dnsSearch: ['corp.example'],
    dnsOptions: [],
  });
  const hosts = await readFile(paths.hosts, 'utf8');
  t.regex(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  t.regex(hosts, /^10\.9\.9\.9\tdb$/m);
  t.regex(hosts, /^10\.1\.2\.3\tweb\.example\.org web$/m);
  const resolv = await readFile(paths.resolvConf, 'utf8');
  const ns = resolv.split('\n').filter((l) => l.startsWith('nameserver'));
  // --dns servers are the network resolver's upstreams for this container, not nameservers of its own.
  t.deepEqual(ns, ['nameserver 10.1.2.1']);
  // dockerd's order for its 127.0.0.11: search, nameserver, options; nothing else of the host's.
  t.is(resolv, 'search corp.example\nnameserver 10.1.2.1\noptions ndots:0\n');
  // ndots:0 is added unless the user set ndots; `--dns-search .` means no search list.
  const again = (o: { dnsSearch: string[]; dnsOptions: string[] }) => {
    writeNetworkEtcFiles(paths, {
      hostname: 'web',
      domainname: '',
      addresses: [],
      extraHosts: [],
      resolver: { nameservers: ['10.1.2.1'] },
      dns: [],
      ...o,
    });
    return readFile(paths.resolvConf, 'utf8');
  };
  t.is(
    await again({ dnsSearch: ['.'], dnsOptions: ['ndots:3', 'edns0'] }),
    'nameserver 10.1.2.1\noptions ndots:3 edns0\n',
  );
  t.regex(await again({ dnsSearch: [], dnsOptions: ['edns0'] }), /^nameserver 10\.1\.2\.1\noptions edns0 ndots:0\n$/m);
  t.deepEqual([(await stat(paths.hosts)).ino, (await stat(paths.resolvConf)).ino], inodes, 'same files (bind mounts)');
});
