import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { InsecureRegistryPolicy, registryHost, splitHostPort } from './registry-hosts.js';

test('docker.io maps to registry-1.docker.io', (t) => {
  t.is(registryHost('docker.io'), 'registry-1.docker.io');
  t.is(registryHost('index.docker.io'), 'registry-1.docker.io');
  t.is(registryHost('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('splitHostPort', (t) => {
  t.deepEqual(splitHostPort('127.0.0.1:5000'), { hostname: '127.0.0.1', port: 5000 });
  t.deepEqual(splitHostPort('[::1]:5000'), { hostname: '::1', port: 5000 });
  t.deepEqual(splitHostPort('[::1]'), { hostname: '::1' });
  t.deepEqual(splitHostPort('example.com'), { hostname: 'example.com' });
});

test('loopback and localhost are insecure by default; other hosts are HTTPS only', (t) => {
  const p = new InsecureRegistryPolicy();
  for (const h of [
    '127.0.0.1:5000',
    '127.3.2.1',
    'localhost',
    'localhost:5000',
    '[::1]:5000',
    'registry.localhost:80',
  ]) {
    t.true(p.isInsecure(h), h);
    t.deepEqual(p.schemes(h), ['https', 'http'], h);
  }
  for (const h of [
    'registry-1.docker.io',
    '10.0.0.1:5000',
    'example.com:5000',
    '128.0.0.1',
    '[::2]:5000',
    'localhost.example.com',
  ]) {
    t.false(p.isInsecure(h), h);
    t.deepEqual(p.schemes(h), ['https'], h);
  }
});

test('configured names and CIDRs', (t) => {
  const p = new InsecureRegistryPolicy(['myregistry:5000', '10.1.0.0/16', 'fd00::/8', 'Upper.Example']);
  t.true(p.isInsecure('myregistry:5000'));
  t.false(p.isInsecure('myregistry:5001'));
  t.false(p.isInsecure('myregistry'));
  t.true(p.isInsecure('10.1.2.3:5000'));
  t.false(p.isInsecure('10.2.0.1:5000'));
  t.true(p.isInsecure('[fd00::1]:5000'));
  t.true(p.isInsecure('upper.example'));
});

test('bad insecure-registry entries are configuration errors', (t) => {
  for (const bad of ['', 'http://x:5000', '10.0.0.0/33', 'x/8', '10.0.0.0/abc', '::/129']) {
    t.throws(() => new InsecureRegistryPolicy([bad]), { instanceOf: InvalidParameterError }, bad);
  }
});
