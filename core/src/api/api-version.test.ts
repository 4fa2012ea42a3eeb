import test from 'ava';
import { compareVersions, splitVersion, versionProblem } from './api-version.js';

test('versions compare numerically', (t) => {
  t.true(compareVersions('1.9', '1.12') < 0);
  t.is(compareVersions('1.41', '1.41'), 0);
  t.true(compareVersions('1.50', '1.41') > 0);
});

test('the version prefix is split off paths with and without query', (t) => {
  t.deepEqual(splitVersion('/v1.41/containers/json?all=1'), { version: '1.41', url: '/containers/json?all=1' });
  t.deepEqual(splitVersion('/_ping'), { url: '/_ping' });
  t.deepEqual(splitVersion('/v1.24/images/127.0.0.1:5000/busybox/json'), {
    version: '1.24',
    url: '/images/127.0.0.1:5000/busybox/json',
  });
  t.deepEqual(splitVersion('/version'), { url: '/version' });
});

test('too new and too old versions get dockerd messages', (t) => {
  t.is(versionProblem('1.99'), 'client version 1.99 is too new. Maximum supported API version is 1.41');
  t.regex(versionProblem('1.11')!, /client version 1.11 is too old\. Minimum supported API version is 1.12/);
  t.is(versionProblem('1.24'), undefined);
  t.is(versionProblem(undefined), undefined);
});
