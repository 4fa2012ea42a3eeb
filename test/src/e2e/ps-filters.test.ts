import { randomBytes } from 'node:crypto';
import test from 'ava';
import { docker, driverDaemons } from '../harness/index.js';

// `docker ps -l/-n` and the filters moby applies (daemon/list.go), through the docker CLI.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

test('ps -l, -n and --filter exited/before/since/volume/network list what dockerd lists', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const tag = randomBytes(4).toString('hex');
  const names = ['one', 'two', 'three'].map((n) => `${n}-${tag}`);
  const vol = `vol-${tag}`;
  const run = (name: string, ...args: string[]) =>
    docker(['run', '--network', 'none', '--label', `ps=${tag}`, '--name', name, ...args], { host });
  t.is((await run(names[0]!, reg.image, 'sh', '-c', 'exit 3')).code, 3);
  t.is((await run(names[1]!, '-v', `${vol}:/data`, reg.image, 'true')).code, 0);
  t.is((await run(names[2]!, '-d', reg.image, 'sleep', '600')).code, 0);
  t.teardown(() => docker(['rm', '-f', ...names], { host }).then(() => undefined));
  const ps = async (...args: string[]) => {
    const r = await docker(['ps', '--filter', `label=ps=${tag}`, '--format', '{{.Names}}', ...args], { host });
    t.is(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean);
  };
  t.deepEqual(await ps(), [names[2]], 'running only');
  t.deepEqual(await ps('-l'), [names[2]]);
  t.deepEqual(await ps('-n', '2'), [names[2], names[1]], 'a limit lists stopped containers too');
  // Checked against dockerd 20.10: before/since alone do not list stopped containers.
  t.deepEqual(await ps('--filter', `before=${names[2]}`), []);
  t.deepEqual(await ps('--filter', `since=${names[0]}`), [names[2]]);
  t.deepEqual(await ps('-a', '--filter', `before=${names[2]}`), [names[1], names[0]]);
  t.deepEqual(await ps('-a', '--filter', `since=${names[0]}`), [names[2], names[1]]);
  t.deepEqual(await ps('-a', '--filter', 'exited=3'), [names[0]]);
  t.deepEqual(await ps('-a', '--filter', `volume=${vol}`), [names[1]]);
  t.deepEqual(await ps('-a', '--filter', 'volume=/data'), [names[1]]);
  t.deepEqual((await ps('-a', '--filter', 'network=none')).sort(), [...names].sort());
  const bad = await docker(['ps', '--filter', 'exited=x'], { host });
  t.not(bad.code, 0);
  t.regex(bad.stderr, /strconv.Atoi: parsing "x": invalid syntax/);
});
