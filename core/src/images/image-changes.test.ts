import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { applyChanges, splitWords } from './image-changes.js';
import { globToRegExp } from './image-filters.js';
import { parseTimestamp } from '../util/filter-values.js';

test('splitWords handles quotes and escapes as Dockerfile KEY=value instructions', (t) => {
  t.deepEqual(splitWords(`a=b c="d e" f='g h' i=j\\ k`), ['a=b', 'c=d e', 'f=g h', 'i=j k']);
  t.deepEqual(splitWords(`x="say \\"hi\\""`), ['x=say "hi"']);
  t.throws(() => splitWords('a="open'), { instanceOf: InvalidParameterError });
});

test('applyChanges builds a config from --change lines', (t) => {
  const cfg = applyChanges({}, [
    'ENV A=1 B="two words"',
    'env C 3 4',
    'CMD echo hi',
    'ENTRYPOINT ["/bin/sh", "-c"]',
    'WORKDIR /srv',
    'WORKDIR app',
    'LABEL x=y "z z"=w',
    'EXPOSE 80 53/udp 8000-8001',
    'USER nobody',
    'VOLUME ["/data"]',
    'STOPSIGNAL SIGINT',
  ]);
  t.deepEqual(cfg, {
    Env: ['A=1', 'B=two words', 'C=3 4'],
    Cmd: ['/bin/sh', '-c', 'echo hi'],
    Entrypoint: ['/bin/sh', '-c'],
    WorkingDir: '/srv/app',
    Labels: { x: 'y', 'z z': 'w' },
    ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} },
    User: 'nobody',
    Volumes: { '/data': {} },
    StopSignal: 'SIGINT',
  });
  // ENTRYPOINT alone resets an inherited CMD, as in a Dockerfile.
  t.deepEqual(applyChanges({ Cmd: ['sh'] }, ['ENTRYPOINT ["/x"]']).Cmd, null);
});

test('applyChanges refuses what dockerd refuses', (t) => {
  t.throws(() => applyChanges({}, ['RUN echo hi']), { message: 'RUN is not a valid change command' });
  t.throws(() => applyChanges({}, ['EXPOSE 70000']), { instanceOf: InvalidParameterError });
  t.throws(() => applyChanges({}, ['EXPOSE http']), { instanceOf: InvalidParameterError });
  t.throws(() => applyChanges({}, ['LABEL novalue']), { instanceOf: InvalidParameterError });
  t.throws(() => applyChanges({}, ['USER']), { instanceOf: InvalidParameterError });
  t.throws(() => applyChanges({}, ['ONBUILD RUN x']), { instanceOf: InvalidParameterError });
});

test('globToRegExp follows Go path.Match', (t) => {
  const m = (p: string, s: string) => globToRegExp(p).test(s);
  t.true(m('busybox', 'busybox'));
  t.true(m('spy/*', 'spy/tagged'));
  t.false(m('*', 'spy/tagged'));
  t.true(m('*/*:v?', 'spy/tagged:v9'));
  t.true(m('127.0.0.1:5000/b[u-z]sybox', '127.0.0.1:5000/busybox'));
  t.false(m('127.0.0.1:5000/b[^u]sybox', '127.0.0.1:5000/busybox'));
  t.false(m('a.c', 'abc'));
  for (const bad of ['[z-', 'a\\', '[]']) t.throws(() => globToRegExp(bad), { instanceOf: InvalidParameterError });
});

test('parseTimestamp accepts unix seconds, Go durations and dates', (t) => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  t.is(parseTimestamp('1700000000', 'until', now), 1_700_000_000_000);
  t.is(parseTimestamp('1h30m', 'until', now), now - 5_400_000);
  t.is(parseTimestamp('2026-01-01T00:00:00Z', 'until', now), Date.parse('2026-01-01T00:00:00Z'));
  t.throws(() => parseTimestamp('soon', 'until', now), { message: "invalid filter 'until=soon'" });
});
