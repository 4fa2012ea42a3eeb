import test from 'ava';
import { linkEnv } from './legacy-links.js';

test('linkEnv: the default port (lowest, tcp first), ranges of three or more, each port, the name and Env', (t) => {
  const env = linkEnv(
    '/web/my-db',
    '10.0.0.2',
    ['PATH=/bin', 'HOME=/root', 'A=1=2', 'BARE'],
    ['81/udp', '80/udp', '80/tcp', '82/tcp'],
  );
  t.is(env[0], 'MY_DB_PORT=tcp://10.0.0.2:80');
  // 80/tcp, 80/udp, 81/udp, 82/tcp: contiguous by number (docker's nextContiguous ignores the protocol).
  t.true(env.includes('MY_DB_PORT_80_TCP_START=tcp://10.0.0.2:80'));
  t.true(env.includes('MY_DB_PORT_80_TCP_END=tcp://10.0.0.2:82'));
  t.true(env.includes('MY_DB_PORT_81_UDP=udp://10.0.0.2:81'));
  t.deepEqual(env.slice(-2), ['MY_DB_NAME=/web/my-db', 'MY_DB_ENV_A=1=2']);
  t.deepEqual(linkEnv('/w/x', '10.0.0.3', [], []), ['X_NAME=/w/x']);
});
