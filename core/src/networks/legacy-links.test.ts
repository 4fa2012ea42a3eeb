import test from 'ava';
import type { ContainerRecord } from '../containers/container-types.js';
import { linkEnv, linkNames, linkTarget, renamedLinks, withoutLink } from './legacy-links.js';

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

test('stored links (`/db:/web/x`): their names by linked container, lookups, removal and renames of either end', (t) => {
  const parent = (name: string, links: string[] | null) =>
    ({ Name: name, HostConfig: { Links: links } }) as unknown as ContainerRecord;
  const web = parent('/web', ['/db:/web/x', '/cache:/web/cache']);
  const api = parent('/api', ['/db:/api/db']);
  t.deepEqual(
    linkNames([web, api, parent('/lone', null)]),
    new Map([
      ['/db', ['/web/x', '/api/db']],
      ['/cache', ['/web/cache']],
    ]),
  );
  t.is(linkTarget(web, '/web/x'), '/db');
  t.is(linkTarget(web, '/web/nosuch'), undefined);
  t.deepEqual(withoutLink(web, '/web/x'), ['/cache:/web/cache']);
  t.is(withoutLink(api, '/api/db'), null);
  t.deepEqual(renamedLinks(web, '/db', '/db2'), ['/db2:/web/x', '/cache:/web/cache']);
  t.deepEqual(renamedLinks(web, '/web', '/webx'), ['/db:/webx/x', '/cache:/webx/cache']);
  // A name that merely starts like the renamed one is another container.
  t.deepEqual(renamedLinks(parent('/web2', ['/db:/web2/x']), '/web', '/webx'), ['/db:/web2/x']);
});
