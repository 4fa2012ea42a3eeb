import test from 'ava';
import { describePreview, resolveSpec } from './plugin-manage.js';

test('local specs are made absolute for the daemon; npm names and URLs are left alone', (t) => {
  const cwd = '/home/u/src';
  t.is(resolveSpec('./it.tgz', cwd), '/home/u/src/it.tgz');
  t.is(resolveSpec('../pkg', cwd), '/home/u/pkg');
  t.is(resolveSpec('.', cwd), '/home/u/src');
  t.is(resolveSpec('it-1.0.0.tgz', cwd), '/home/u/src/it-1.0.0.tgz');
  t.is(resolveSpec('~/p.tgz', cwd, '/root'), '/root/p.tgz');
  t.is(resolveSpec('file:./x', cwd), 'file:/home/u/src/x');
  t.is(resolveSpec('/abs/it.tgz', cwd), '/abs/it.tgz');
  t.is(resolveSpec('skiff-plugin-x', cwd), 'skiff-plugin-x');
  t.is(resolveSpec('@scope/skiff-plugin-x@1.2.0', cwd), '@scope/skiff-plugin-x@1.2.0');
  t.is(resolveSpec('https://example.org/p.tgz', cwd), 'https://example.org/p.tgz');
});

test('the install preview names package, version, kind, driver, integrity and host range', (t) => {
  const text = describePreview({
    Package: 'skiff-plugin-x',
    Version: '1.0.0',
    Integrity: 'sha512-abc',
    Kind: 'storage',
    Name: 'x',
    HostRange: '^0.1.0',
    Spec: 'skiff-plugin-x',
  });
  for (const re of [
    /Package: +skiff-plugin-x/,
    /Version: +1\.0\.0/,
    /Kind: +storage/,
    /Driver: +x/,
    /Integrity: +sha512-abc/,
    /@skiff\/core \^0\.1\.0/,
  ]) {
    t.regex(text, re);
  }
});
