import test from 'ava';
import type { ContainerRecord } from '../containers/container-types.js';
import { InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import { containerFilter, type FilterTarget } from './container-filters.js';

function target(
  id: string,
  created: string,
  over: { running?: boolean; exit?: number; view?: Partial<FilterTarget['view']> } = {},
): FilterTarget {
  const c = {
    Id: id.repeat(64).slice(0, 64),
    Name: `/${id}`,
    Created: created,
    Image: 'sha256:' + 'f'.repeat(64),
    Config: { Image: 'busybox', Labels: {} },
    State: { Running: over.running ?? false, Status: over.running ? 'running' : 'exited', ExitCode: over.exit ?? 0 },
  } as unknown as ContainerRecord;
  return { c, view: { Ports: [], NetworkSettings: { Networks: {} }, Mounts: [], ...over.view } };
}

const a = target('a', '2026-01-01T00:00:01Z', { exit: 3 });
const b = target('b', '2026-01-01T00:00:02Z', {
  running: true,
  view: {
    Ports: [{ PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }],
    NetworkSettings: { Networks: { web: { NetworkID: 'n1' } } },
    Mounts: [{ Name: 'data', Destination: '/data' }],
  },
});
const c = target('c', '2026-01-01T00:00:03Z', { exit: 0 });
const all = [a, b, c];
const lookup = (ref: string) => {
  const t = all.find((x) => x.c.Name === `/${ref}` || x.c.Id.startsWith(ref));
  if (!t) throw new NotFoundError(`No such container: ${ref}`);
  return t.c;
};
const names = (f: Record<string, string[]>) =>
  all.filter(containerFilter(new Map(Object.entries(f)), lookup)).map((t) => t.c.Name.slice(1));

test('before, since, exited, publish, expose, network and volume filter like moby', (t) => {
  t.deepEqual(names({ before: ['c'] }), ['a', 'b']);
  t.deepEqual(names({ since: ['a'] }), ['b', 'c']);
  t.deepEqual(names({ since: ['a'], before: ['c'] }), ['b']);
  t.deepEqual(names({ exited: ['3'] }), ['a']);
  t.deepEqual(names({ exited: ['0'] }), ['c'], 'a running container never matches exited');
  t.deepEqual(names({ publish: ['8080'] }), ['b']);
  t.deepEqual(names({ publish: ['8000-8100/tcp'] }), ['b']);
  t.deepEqual(names({ publish: ['8080/udp'] }), []);
  t.deepEqual(names({ expose: ['80'] }), ['b']);
  t.deepEqual(names({ network: ['web'] }), ['b']);
  t.deepEqual(names({ network: ['n1'] }), ['b']);
  t.deepEqual(names({ volume: ['data'] }), ['b']);
  t.deepEqual(names({ volume: ['/data'] }), ['b']);
  t.deepEqual(names({ status: ['exited'], exited: ['0', '3'] }), ['a', 'c']);
});

test('bad filters are 400s; an unknown before/since container is a 404', (t) => {
  t.throws(() => names({ bogus: ['x'] }), { instanceOf: InvalidParameterError, message: "invalid filter 'bogus'" });
  t.throws(() => names({ exited: ['x'] }), { instanceOf: InvalidParameterError });
  t.throws(() => names({ publish: ['80/foo'] }), { instanceOf: InvalidParameterError });
  t.throws(() => names({ before: ['nosuch'] }), { instanceOf: NotFoundError });
});
