import test from 'ava';
import { displayablePorts } from './ports.js';
import {
  familiarString,
  fullName,
  InvalidReferenceError,
  parseNormalizedNamed,
  referenceString,
  tagNameOnly,
} from './reference.js';
import { TABLE_OPTIONS, tabwrite, VERSION_OPTIONS } from './tabwriter.js';
import { ellipsis, goQuote, truncateId } from './text.js';
import { bytesSize, humanDuration, humanSize, humanSizeWithPrecision, timeAgo } from './units.js';

test('human sizes like go-units', (t) => {
  t.is(humanSizeWithPrecision(1982354, 3), '1.98MB');
  t.is(humanSizeWithPrecision(4260000, 3), '4.26MB');
  t.is(humanSizeWithPrecision(999, 3), '999B');
  t.is(humanSizeWithPrecision(0, 3), '0B');
  t.is(humanSizeWithPrecision(1000, 3), '1kB');
  t.is(humanSizeWithPrecision(1234567890, 3), '1.23GB');
  t.is(humanSize(614829), '614.8kB');
  t.is(humanSize(32768), '32.77kB');
  t.is(humanSize(124), '124B');
  t.is(bytesSize(25276502016), '23.54GiB');
  t.is(bytesSize(1024), '1KiB');
});

test('human durations like go-units', (t) => {
  const s = 1000;
  t.is(humanDuration(500), 'Less than a second');
  t.is(humanDuration(1 * s), '1 second');
  t.is(humanDuration(32 * s), '32 seconds');
  t.is(humanDuration(90 * s), 'About a minute');
  t.is(humanDuration(47 * 60 * s), '47 minutes');
  t.is(humanDuration(83 * 60 * s), 'About an hour');
  t.is(humanDuration(2 * 3600 * s), '2 hours');
  t.is(humanDuration(3 * 86400 * s), '3 days');
  t.is(humanDuration(40 * 86400 * s), '5 weeks');
  t.is(humanDuration(100 * 86400 * s), '3 months');
  t.is(humanDuration(800 * 86400 * s), '2 years');
  t.is(timeAgo(1000, 1_090_000), 'About a minute ago');
});

test('tabwriter pads columns like Go (trailing cell unpadded, tab-less lines break blocks)', (t) => {
  t.is(
    tabwrite(['A\tBB\tC', 'long-value\tx\ty'], TABLE_OPTIONS),
    'A            BB        C\nlong-value   x         y\n',
  );
  t.is(
    tabwrite(
      ['Client:', ' Version:\t1', ' API version:\t1.41', '', ' Engine:', '  Experimental:\tfalse'],
      VERSION_OPTIONS,
    ),
    'Client:\n Version:           1\n API version:       1.41\n\n Engine:\n  Experimental:     false\n',
  );
});

test('ports grouped and mapped like docker ps', (t) => {
  t.is(
    displayablePorts([
      { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 18080, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 9999, PublicPort: 32768, Type: 'tcp' },
      { IP: '::', PrivatePort: 9999, PublicPort: 32768, Type: 'tcp' },
      { PrivatePort: 53, Type: 'udp' },
      { PrivatePort: 54, Type: 'udp' },
      { IP: '0.0.0.0', PrivatePort: 8080, PublicPort: 8080, Type: 'tcp' },
    ]),
    '53-54/udp, 0.0.0.0:8080->8080/tcp, 127.0.0.1:18080->80/tcp, 0.0.0.0:32768->9999/tcp, [::]:32768->9999/tcp',
  );
  t.is(displayablePorts(null), '');
  t.is(
    displayablePorts([
      { PrivatePort: 80, Type: 'tcp' },
      { PrivatePort: 82, Type: 'tcp' },
    ]),
    '80/tcp, 82/tcp',
  );
});

test('references normalise like distribution/reference', (t) => {
  const busybox = parseNormalizedNamed('busybox');
  t.is(fullName(busybox), 'docker.io/library/busybox');
  t.is(referenceString(tagNameOnly(busybox)), 'docker.io/library/busybox:latest');
  t.is(familiarString(tagNameOnly(busybox)), 'busybox:latest');
  const local = parseNormalizedNamed('127.0.0.1:5000/spytest:v1');
  t.deepEqual(local, { domain: '127.0.0.1:5000', path: 'spytest', tag: 'v1' });
  t.is(familiarString(local), '127.0.0.1:5000/spytest:v1');
  t.is(fullName(parseNormalizedNamed('localhost/a/b')), 'localhost/a/b');
  t.is(fullName(parseNormalizedNamed('user/app')), 'docker.io/user/app');
  const digest = `sha256:${'a'.repeat(64)}`;
  t.is(parseNormalizedNamed(`busybox@${digest}`).digest, digest);
  t.throws(() => parseNormalizedNamed('UPPER'), {
    instanceOf: InvalidReferenceError,
    message: 'invalid reference format: repository name (library/UPPER) must be lowercase',
  });
  for (const bad of ['', 'a b', 'x:', ':tag', 'a//b', '-x', 'a'.repeat(64).replace(/a/g, 'f')]) {
    t.throws(() => parseNormalizedNamed(bad), { instanceOf: InvalidReferenceError }, bad);
  }
});

test('text helpers', (t) => {
  t.is(truncateId('sha256:6766f3840167c950b619a37bb7e096a0'), '6766f3840167');
  t.is(truncateId('abc'), 'abc');
  t.is(ellipsis("sh -c 'echo hello-out; exit 3'", 20), "sh -c 'echo hello-o…");
  t.is(ellipsis('short', 20), 'short');
  t.is(goQuote('a "b"\n\x01'), '"a \\"b\\"\\n\\x01"');
});
