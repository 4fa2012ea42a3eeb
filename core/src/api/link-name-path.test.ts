import test from 'ava';
import { escapeLinkName } from './link-name-path.js';

test('a link name in a container path gets its slash escaped; other paths stay', (t) => {
  t.is(escapeLinkName('GET', '/containers/web/db/json'), '/containers/web%2Fdb/json');
  t.is(escapeLinkName('DELETE', '/containers/web/db?link=1'), '/containers/web%2Fdb?link=1');
  t.is(escapeLinkName('POST', '/containers/web/db/stop?t=1'), '/containers/web%2Fdb/stop?t=1');
  for (const [method, url] of [
    ['GET', '/containers/json?all=1'],
    ['GET', '/containers/abc/json'],
    ['GET', '/containers/abc/attach/ws'],
    ['DELETE', '/containers/abc'],
    ['POST', '/containers/create?name=x'],
    ['GET', '/images/library/busybox/json'],
  ] as const)
    t.is(escapeLinkName(method, url), url);
});
