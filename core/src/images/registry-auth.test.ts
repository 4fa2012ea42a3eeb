import test from 'ava';
import { credentialsOf, decodeRegistryAuth, parseWwwAuthenticate } from './registry-auth.js';

test('parses a Bearer challenge with quoted parameters', (t) => {
  const [c] = parseWwwAuthenticate(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
  );
  t.is(c?.scheme, 'bearer');
  t.deepEqual(
    { ...c?.params },
    {
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/busybox:pull',
    },
  );
});

test('parses several challenges, escapes, tokens and odd spacing', (t) => {
  const cs = parseWwwAuthenticate(
    'Basic realm="a \\"quoted\\", realm" , Bearer realm=https://x/t,  error=insufficient_scope',
  );
  t.deepEqual(
    cs.map((c) => [c.scheme, { ...c.params }]),
    [
      ['basic', { realm: 'a "quoted", realm' }],
      ['bearer', { realm: 'https://x/t', error: 'insufficient_scope' }],
    ],
  );
  t.deepEqual(
    parseWwwAuthenticate(['Basic', 'Bearer realm="r"']).map((c) => c.scheme),
    ['basic', 'bearer'],
  );
});

test('garbage challenges never throw', (t) => {
  for (const h of [
    '',
    '=',
    '"',
    ',,,',
    'Bearer realm="unterminated',
    'Bearer ="x"',
    '\u0000\u0001',
    'Basic dXNlcjpwYXNz==',
    'Bearer __proto__=x',
  ]) {
    t.notThrows(() => parseWwwAuthenticate(h), h);
  }
  const [c] = parseWwwAuthenticate('Bearer __proto__="x",realm="r"');
  t.is(c?.params.realm, 'r');
  t.is(({} as Record<string, unknown>).x, undefined);
  t.deepEqual(parseWwwAuthenticate(undefined), []);
});

test('credentials from an AuthConfig', (t) => {
  t.deepEqual(credentialsOf(undefined), { kind: 'none' });
  t.deepEqual(credentialsOf({}), { kind: 'none' });
  t.deepEqual(credentialsOf({ username: 'u', password: 'p' }), { kind: 'basic', username: 'u', password: 'p' });
  t.deepEqual(credentialsOf({ auth: Buffer.from('u:p:x').toString('base64') }), {
    kind: 'basic',
    username: 'u',
    password: 'p:x',
  });
  t.deepEqual(credentialsOf({ auth: Buffer.from('nocolon').toString('base64') }), { kind: 'none' });
  t.deepEqual(credentialsOf({ username: 'u', identitytoken: 'tok' }), { kind: 'refresh', username: 'u', token: 'tok' });
  t.deepEqual(credentialsOf({ registrytoken: 'bt', username: 'u', password: 'p' }), { kind: 'bearer', token: 'bt' });
});

test('decodes X-Registry-Auth like dockerd does for pulls', (t) => {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  t.is(decodeRegistryAuth(undefined), undefined);
  t.is(decodeRegistryAuth(''), undefined);
  t.is(decodeRegistryAuth('e30='), undefined);
  t.deepEqual(decodeRegistryAuth(enc({ username: 'u', password: 'p?>', serveraddress: 'r:5000' })), {
    username: 'u',
    password: 'p?>',
    serveraddress: 'r:5000',
  });
  t.deepEqual(decodeRegistryAuth(Buffer.from('{"identitytoken":"x"}').toString('base64')), { identitytoken: 'x' });
  t.is(decodeRegistryAuth('!!!not base64'), undefined);
  t.is(decodeRegistryAuth(enc([1, 2])), undefined);
  t.deepEqual(decodeRegistryAuth(enc({ username: 5, password: 'p', extra: 'x' })), { password: 'p' });
});
