import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DEFAULT_HOST, EndpointError, parseHost, resolveEndpoint } from './endpoint.js';

test('-H wins over SKIFF_HOST and DOCKER_HOST', (t) => {
  const ep = resolveEndpoint(['unix:///tmp/flag.sock'], {
    SKIFF_HOST: 'unix:///tmp/s.sock',
    DOCKER_HOST: 'unix:///tmp/d.sock',
  });
  t.deepEqual(ep, { kind: 'unix', path: '/tmp/flag.sock', url: 'unix:///tmp/flag.sock' });
});

test('SKIFF_HOST wins over DOCKER_HOST, which wins over the default', (t) => {
  t.is(
    resolveEndpoint([], { SKIFF_HOST: 'unix:///tmp/s.sock', DOCKER_HOST: 'unix:///tmp/d.sock' }).url,
    'unix:///tmp/s.sock',
  );
  t.is(resolveEndpoint([], { DOCKER_HOST: 'tcp://127.0.0.1:2375' }).url, 'tcp://127.0.0.1:2375');
  t.is(resolveEndpoint([], { SKIFF_HOST: '', DOCKER_HOST: ' ' }).url, DEFAULT_HOST);
  t.is(resolveEndpoint([], {}).url, 'unix:///run/skiff/skiff.sock');
});

test('tcp hosts: default port, bare host:port, IPv6', (t) => {
  t.deepEqual(parseHost('tcp://10.0.0.1'), { kind: 'tcp', host: '10.0.0.1', port: 2375, url: 'tcp://10.0.0.1:2375' });
  t.deepEqual(parseHost('localhost:1234'), { kind: 'tcp', host: 'localhost', port: 1234, url: 'tcp://localhost:1234' });
  t.deepEqual(parseHost('tcp://[::1]:99'), { kind: 'tcp', host: '::1', port: 99, url: 'tcp://[::1]:99' });
  t.is((parseHost('tcp://h', { tls: true }) as { port: number }).port, 2376);
});

test('bad hosts are EndpointErrors', (t) => {
  for (const bad of [
    'ssh://user@host',
    'tcp://h:0',
    'tcp://h:99999',
    'tcp://h:abc',
    '/run/x.sock',
    'unix://relative.sock',
    'tcp://h:1/path',
  ]) {
    t.throws(() => parseHost(bad), { instanceOf: EndpointError }, bad);
  }
  t.throws(() => resolveEndpoint(['unix:///a', 'unix:///b'], {}), { message: 'Specify only one -H' });
});

test('TLS material comes from DOCKER_CERT_PATH for tcp endpoints', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-cli-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.pem'), 'CA');
  const ep = resolveEndpoint(['tcp://127.0.0.1'], { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir });
  t.is(ep.kind, 'tcp');
  if (ep.kind !== 'tcp') return;
  t.is(ep.port, 2376);
  t.is(ep.tls?.ca?.toString(), 'CA');
  t.is(ep.tls?.cert, undefined);
  t.true(ep.tls?.verify);
  t.is(resolveEndpoint(['unix:///s'], { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }).kind, 'unix');
});
