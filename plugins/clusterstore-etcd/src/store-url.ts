import { InvalidParameterError } from '@skiff/core/plugin-api';

/** `etcd://a:2379,b:2379` → `['http://a:2379', 'http://b:2379']`. */
export function parseStoreUrl(url: string): { hosts: string[]; tls: boolean } {
  const m = /^(etcds?):\/\/([^/]+)\/?$/.exec(url);
  if (!m)
    throw new InvalidParameterError(`cluster-store ${JSON.stringify(url)}: expected etcd://host:port[,host:port]`);
  const tls = m[1] === 'etcds';
  const hosts = m[2]!.split(',').map((h) => {
    if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(h))
      throw new InvalidParameterError(`cluster-store ${JSON.stringify(url)}: bad member ${JSON.stringify(h)}`);
    return `${tls ? 'https' : 'http'}://${h}`;
  });
  return { hosts, tls };
}
