import { readFile, writeFile } from 'node:fs/promises';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';

/** Writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf into `dir`. */
export async function writeEtcFiles(
  dir: string,
  opts: { hostname: string; domainname: string; hostNetwork: boolean },
): Promise<{ hostname: string; hosts: string; resolvConf: string }> {
  const paths = { hostname: join(dir, 'hostname'), hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf') };
  const name = opts.hostNetwork ? hostHostname() : opts.hostname;
  let hosts =
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
  if (opts.hostNetwork) {
    hosts = await readFile('/etc/hosts', 'utf8').catch(() => hosts);
  }
  await Promise.all([
    writeFile(paths.hostname, `${name}\n`, { mode: 0o644 }),
    writeFile(paths.hosts, hosts, { mode: 0o644 }),
    writeFile(paths.resolvConf, await resolvConf(opts.hostNetwork), { mode: 0o644 }),
  ]);
  return paths;
}

/** The host's resolv.conf; outside the host network, loopback resolvers are unreachable, so they go (as in dockerd). */
async function resolvConf(hostNetwork: boolean): Promise<string> {
  const text = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  if (hostNetwork) return text;
  const lines = text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  return `${lines.join('\n').trim()}\n`;
}
