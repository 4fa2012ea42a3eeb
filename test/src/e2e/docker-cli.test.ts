import { randomBytes } from 'node:crypto';
import test from 'ava';
import {
  type BusyboxRegistry,
  type Daemon,
  docker,
  pushImage,
  registryWithBusybox,
  type StorageDriverName,
  startDaemon,
} from '../harness/index.js';

// The real docker CLI against skiffd, once per storage driver. One registry for the file, one
// daemon per driver, started on first use so a driver that cannot start fails only its own tests.

const drivers: StorageDriverName[] = ['vfs', 'overlay'];
const uid = () => randomBytes(4).toString('hex');

let registryP: Promise<BusyboxRegistry> | undefined;
const registry = () => {
  registryP ??= (async () => {
    const r = await registryWithBusybox();
    // Never pulled in setup: exercised by the "not pulled yet" test, in Docker's schema 2 format.
    await pushImage(r.layout, `${r.host}/fresh:v1`, { format: 'v2s2' });
    return r;
  })();
  return registryP;
};

const started: Daemon[] = [];
const daemonP = new Map<StorageDriverName, Promise<Daemon>>();
function daemonFor(driver: StorageDriverName): Promise<Daemon> {
  let p = daemonP.get(driver);
  if (!p) {
    p = (async () => {
      const reg = await registry();
      const d = await startDaemon({ storageDriver: driver, insecureRegistries: [reg.host] });
      started.push(d);
      const pull = await docker(['pull', reg.image], { host: d.dockerHost });
      if (pull.code !== 0) {
        throw new Error(`docker pull ${reg.image} exited ${pull.code}: ${pull.stderr}\n--- skiffd:\n${d.output()}`);
      }
      return d;
    })();
    daemonP.set(driver, p);
  }
  return p;
}

test.after.always(async () => {
  await Promise.all(started.map((d) => d.stop()));
  if (registryP) await (await registryP.catch(() => undefined))?.stop();
});

/** Lines of `docker ps -a --no-trunc` after the header. */
async function psAll(host: string): Promise<string[]> {
  const r = await docker(['ps', '-a', '--no-trunc'], { host });
  if (r.code !== 0) throw new Error(`docker ps -a exited ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').slice(1).filter(Boolean);
}

for (const driver of drivers) {
  test(`${driver}: docker version shows skiff's server at API 1.41`, async (t) => {
    const d = await daemonFor(driver);
    const r = await docker(['version'], { host: d.dockerHost });
    t.is(r.code, 0, r.stderr);
    const server = r.stdout.split(/^Server:/m)[1];
    t.truthy(server, `no Server: section in\n${r.stdout}`);
    t.regex(server ?? '', /API version:\s+1\.41\b/);
  });

  test(`${driver}: docker run --rm prints the command's output`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const r = await docker(['run', '--rm', reg.image, 'echo', 'hello'], { host: d.dockerHost });
    t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${d.output()}`);
    t.is(r.stdout, 'hello\n');
  });

  test(`${driver}: exit code, ps -a, rm`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const name = `e2e-exit3-${driver}-${uid()}`;
    const r = await docker(['run', '--name', name, reg.image, 'sh', '-c', 'exit 3'], { host: d.dockerHost });
    t.is(r.code, 3, `${r.stderr}\n--- skiffd:\n${d.output()}`);

    const line = (await psAll(d.dockerHost)).find((l) => l.trimEnd().endsWith(name));
    t.truthy(line, `docker ps -a does not list ${name}`);
    t.regex(line ?? '', /Exited \(3\)/);
    t.true((line ?? '').includes(reg.image.replace(/:latest$/, '')));
    const id = (line ?? '').split(/\s+/)[0] ?? '';
    t.regex(id, /^[0-9a-f]{64}$/);

    const rm = await docker(['rm', id], { host: d.dockerHost });
    t.is(rm.code, 0, rm.stderr);
    t.is(rm.stdout.trim(), id);
    t.false((await psAll(d.dockerHost)).some((l) => l.includes(id) || l.trimEnd().endsWith(name)));

    const again = await docker(['rm', id], { host: d.dockerHost });
    t.not(again.code, 0);
    t.regex(again.stderr, /No such container/i);
  });

  test(`${driver}: docker images lists the pulled image`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const r = await docker(['images'], { host: d.dockerHost });
    t.is(r.code, 0, r.stderr);
    const [repo, tag] = [`${reg.host}/busybox`, 'latest'];
    t.true(
      r.stdout.split('\n').some((l) => {
        const cols = l.split(/\s+/);
        return cols[0] === repo && cols[1] === tag && /^[0-9a-f]{12}$/.test(cols[2] ?? '');
      }),
      r.stdout,
    );
  });

  test(`${driver}: docker run of an image not pulled yet pulls it, then runs it`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const ref = `${reg.host}/fresh:v1`;
    const r = await docker(['run', '--rm', ref, 'echo', 'pulled-and-ran'], { host: d.dockerHost });
    t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${d.output()}`);
    t.true(r.stderr.includes(`Unable to find image '${ref}' locally`), r.stderr);
    t.regex(r.stderr, new RegExp(`Status: Downloaded newer image for ${ref.replace(/[.]/g, '\\.')}`));
    t.is(r.stdout, 'pulled-and-ran\n');
    const images = await docker(['images', `${reg.host}/fresh`], { host: d.dockerHost });
    t.regex(images.stdout, /fresh\s+v1\s+[0-9a-f]{12}/);
  });

  test(`${driver}: docker run of an image the registry does not have fails clearly`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const ref = `${reg.host}/nosuch-${uid()}:v1`;
    const r = await docker(['run', '--rm', ref, 'true'], { host: d.dockerHost });
    t.not(r.code, 0);
    t.true(r.stderr.includes(`Unable to find image '${ref}' locally`), r.stderr);
    t.regex(r.stderr, /not found|manifest unknown|does not exist/i);
  });
}
