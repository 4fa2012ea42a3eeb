/**
 * The environment a legacy link gives the linking container (docker's links.Link.ToEnv): the
 * linked container's ports (`DB_PORT_5432_TCP=tcp://172.17.0.2:5432`, ranges of three or more as
 * `_START`/`_END`), its name (`DB_NAME=/web/db`) and its Env (`DB_ENV_X=…`, HOME and PATH left out).
 */
export function linkEnv(
  name: string,
  childIp: string,
  childEnv: readonly string[],
  exposed: readonly string[],
): string[] {
  const alias = name
    .slice(name.lastIndexOf('/') + 1)
    .toUpperCase()
    .replaceAll('-', '_');
  const ports = exposed
    .map((k) => {
      const [port = '', proto = 'tcp'] = k.split('/');
      return { port, n: Number(port), proto: proto.toLowerCase() };
    })
    .filter((p) => Number.isInteger(p.n))
    .sort((a, b) => a.n - b.n || Number(b.proto === 'tcp') - Number(a.proto === 'tcp'));
  const env: string[] = [];
  const url = (p: { port: string; proto: string }) => `${p.proto}://${childIp}:${p.port}`;
  const key = (p: { port: string; proto: string }) => `${alias}_PORT_${p.port}_${p.proto.toUpperCase()}`;
  if (ports[0]) env.push(`${alias}_PORT=${url(ports[0])}`);
  for (let i = 0; i < ports.length;) {
    const p = ports[i]!;
    let j = i;
    while (j + 1 < ports.length && ports[j + 1]!.n <= p.n + (j + 1 - i)) j++;
    if (j > i + 1) {
      const q = ports[j]!;
      env.push(
        `${key(p)}_START=${url(p)}`,
        `${key(p)}_ADDR=${childIp}`,
        `${key(p)}_PROTO=${p.proto}`,
        `${key(p)}_PORT_START=${p.port}`,
        `${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_END=${url(q)}`,
        `${alias}_PORT_${p.port}_${q.proto.toUpperCase()}_PORT_END=${q.port}`,
      );
      i = j + 1;
    } else i++;
  }
  for (const p of ports)
    env.push(
      `${key(p)}=${url(p)}`,
      `${key(p)}_ADDR=${childIp}`,
      `${key(p)}_PORT=${p.port}`,
      `${key(p)}_PROTO=${p.proto}`,
    );
  env.push(`${alias}_NAME=${name}`);
  for (const e of childEnv) {
    const eq = e.indexOf('=');
    if (eq < 0) continue;
    const k = e.slice(0, eq);
    if (k !== 'HOME' && k !== 'PATH') env.push(`${alias}_ENV_${k}=${e.slice(eq + 1)}`);
  }
  return env;
}
