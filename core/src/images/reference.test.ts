import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import {
  canonicalString,
  familiarName,
  familiarString,
  parseReference,
  repositoryName,
  validateTag,
  withDefaultTag,
} from './reference.js';

const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const DIGEST = `sha256:${HEX}`;

const good: Array<[string, { domain: string; path: string; tag?: string; digest?: string }, string, string]> = [
  // input, parsed, familiarString, canonicalString
  ['busybox', { domain: 'docker.io', path: 'library/busybox' }, 'busybox', 'docker.io/library/busybox'],
  [
    'busybox:latest',
    { domain: 'docker.io', path: 'library/busybox', tag: 'latest' },
    'busybox:latest',
    'docker.io/library/busybox:latest',
  ],
  ['docker.io/busybox', { domain: 'docker.io', path: 'library/busybox' }, 'busybox', 'docker.io/library/busybox'],
  [
    'index.docker.io/library/busybox:1.36',
    { domain: 'docker.io', path: 'library/busybox', tag: '1.36' },
    'busybox:1.36',
    'docker.io/library/busybox:1.36',
  ],
  ['user/repo', { domain: 'docker.io', path: 'user/repo' }, 'user/repo', 'docker.io/user/repo'],
  ['docker.io/library/a/b', { domain: 'docker.io', path: 'library/a/b' }, 'library/a/b', 'docker.io/library/a/b'],
  [
    '127.0.0.1:5000/busybox',
    { domain: '127.0.0.1:5000', path: 'busybox' },
    '127.0.0.1:5000/busybox',
    '127.0.0.1:5000/busybox',
  ],
  ['localhost/foo', { domain: 'localhost', path: 'foo' }, 'localhost/foo', 'localhost/foo'],
  [
    'localhost:5000/a/b:tag',
    { domain: 'localhost:5000', path: 'a/b', tag: 'tag' },
    'localhost:5000/a/b:tag',
    'localhost:5000/a/b:tag',
  ],
  [
    `name@${DIGEST}`,
    { domain: 'docker.io', path: 'library/name', digest: DIGEST },
    `name@${DIGEST}`,
    `docker.io/library/name@${DIGEST}`,
  ],
  [
    `name:tag@${DIGEST}`,
    { domain: 'docker.io', path: 'library/name', tag: 'tag', digest: DIGEST },
    `name:tag@${DIGEST}`,
    `docker.io/library/name:tag@${DIGEST}`,
  ],
  [
    `foo.com:8080/bar@${DIGEST}`,
    { domain: 'foo.com:8080', path: 'bar', digest: DIGEST },
    `foo.com:8080/bar@${DIGEST}`,
    `foo.com:8080/bar@${DIGEST}`,
  ],
  ['[::1]:5000/foo:v1', { domain: '[::1]:5000', path: 'foo', tag: 'v1' }, '[::1]:5000/foo:v1', '[::1]:5000/foo:v1'],
  ['Foo/bar', { domain: 'Foo', path: 'bar' }, 'Foo/bar', 'Foo/bar'],
  ['EXAMPLE.com/x/y', { domain: 'EXAMPLE.com', path: 'x/y' }, 'EXAMPLE.com/x/y', 'EXAMPLE.com/x/y'],
  [
    'a__b-c---e_f/g.h',
    { domain: 'docker.io', path: 'a__b-c---e_f/g.h' },
    'a__b-c---e_f/g.h',
    'docker.io/a__b-c---e_f/g.h',
  ],
  [
    'foo_bar.com:8080',
    { domain: 'docker.io', path: 'library/foo_bar.com', tag: '8080' },
    'foo_bar.com:8080',
    'docker.io/library/foo_bar.com:8080',
  ],
  [
    `sha256:${HEX}`,
    { domain: 'docker.io', path: 'library/sha256', tag: HEX },
    `sha256:${HEX}`,
    `docker.io/library/sha256:${HEX}`,
  ],
  [
    'busybox:Latest_1.2-rc',
    { domain: 'docker.io', path: 'library/busybox', tag: 'Latest_1.2-rc' },
    'busybox:Latest_1.2-rc',
    'docker.io/library/busybox:Latest_1.2-rc',
  ],
  [
    `b:${'t'.repeat(128)}`,
    { domain: 'docker.io', path: 'library/b', tag: 't'.repeat(128) },
    `b:${'t'.repeat(128)}`,
    `docker.io/library/b:${'t'.repeat(128)}`,
  ],
  [
    `x.io/${'a'.repeat(250)}`,
    { domain: 'x.io', path: 'a'.repeat(250) },
    `x.io/${'a'.repeat(250)}`,
    `x.io/${'a'.repeat(250)}`,
  ],
];

for (const [input, parsed, familiar, canonical] of good) {
  test(`parses ${input.slice(0, 60)}`, (t) => {
    const ref = parseReference(input);
    t.deepEqual({ ...ref }, parsed);
    t.is(familiarString(ref), familiar);
    t.is(canonicalString(ref), canonical);
    t.is(repositoryName(ref), `${parsed.domain}/${parsed.path}`);
  });
}

const bad: Array<[string, string | RegExp]> = [
  ['', 'invalid reference format'],
  ['Busybox', 'invalid reference format: repository name must be lowercase'],
  ['user/Repo:Tag', 'invalid reference format: repository name must be lowercase'],
  ['localhost:5000/Foo', 'invalid reference format: repository name must be lowercase'],
  ['busybox:', 'invalid reference format'],
  [':tag', 'invalid reference format'],
  ['@', 'invalid reference format'],
  ['busybox@', 'invalid reference format'],
  ['busybox@sha256:abc', 'invalid reference format'],
  [`busybox@sha256:${HEX.toUpperCase()}`, 'invalid checksum digest format'],
  [`busybox@sha256:${HEX.slice(1)}`, 'invalid checksum digest length'],
  [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
  [HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`],
  ['a/', 'invalid reference format'],
  ['/a', 'invalid reference format'],
  ['a//b', 'invalid reference format'],
  ['-a', 'invalid reference format'],
  ['a-', 'invalid reference format'],
  ['a..b', 'invalid reference format'],
  ['a___b', 'invalid reference format'],
  ['aa/asdf$$^/aa', 'invalid reference format'],
  [`b:${'t'.repeat(129)}`, 'invalid reference format'],
  ['b:-tag', 'invalid reference format'],
  ['b:.tag', 'invalid reference format'],
  ['busybox:tag:tag', 'invalid reference format'],
  ['busybox latest', 'invalid reference format'],
  ['busybox\n', 'invalid reference format'],
  ['http://foo/bar', 'invalid reference format'],
  ['-foo.com/bar', 'invalid reference format'],
  ['foo.com:port/bar', 'invalid reference format'],
  ['../../etc/passwd', 'invalid reference format'],
  ['a__b.c/d', 'invalid reference format'],
  ['a'.repeat(256), 'repository name must not be more than 255 characters'],
  [`x.io/${'a'.repeat(251)}`, 'repository name must not be more than 255 characters'],
];

for (const [input, message] of bad) {
  test(`rejects ${JSON.stringify(input.slice(0, 60))}`, (t) => {
    const err = t.throws(() => parseReference(input), { instanceOf: InvalidParameterError });
    if (typeof message === 'string') t.is(err?.message, message);
    else t.regex(err?.message ?? '', message);
    t.is(err?.status, 400);
  });
}

test('withDefaultTag adds latest only when neither tag nor digest is present', (t) => {
  t.is(canonicalString(withDefaultTag(parseReference('busybox'))), 'docker.io/library/busybox:latest');
  t.is(familiarString(withDefaultTag(parseReference('busybox'))), 'busybox:latest');
  t.is(withDefaultTag(parseReference('busybox:1')).tag, '1');
  const byDigest = withDefaultTag(parseReference(`busybox@${DIGEST}`));
  t.is(byDigest.tag, undefined);
  t.is(byDigest.digest, DIGEST);
});

test('familiarName strips docker.io and library/ only for official single-level names', (t) => {
  t.is(familiarName(parseReference('busybox')), 'busybox');
  t.is(familiarName(parseReference('127.0.0.1:5000/busybox:v1')), '127.0.0.1:5000/busybox');
  t.is(familiarName(parseReference('docker.io/library/a/b')), 'library/a/b');
  t.is(familiarName(parseReference('docker.io/someone/app')), 'someone/app');
  t.is(familiarName({ domain: 'docker.io', path: 'library/x' }), 'x');
});

test('validateTag', (t) => {
  t.notThrows(() => validateTag('v1.0_rc-2'));
  t.notThrows(() => validateTag('A'));
  for (const badTag of ['', '-x', '.x', 'a:b', 'a/b', 'x'.repeat(129)]) {
    t.throws(() => validateTag(badTag), { instanceOf: InvalidParameterError, message: 'invalid tag format' });
  }
});
