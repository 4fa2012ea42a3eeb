import { randomBytes } from 'node:crypto';
import test from 'ava';
import { driverDaemons, pushImage, type StorageDriverName, skiff } from '../harness/index.js';

// The same flows as docker-cli.test.ts, through the skiff CLI.

const drivers: StorageDriverName[] = ['vfs', 'overlay'];
const uid = () => randomBytes(4).toString('hex');
const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

for (const driver of drivers) {
  test(`${driver}: skiff version and info show the server`, async (t) => {
    const d = await daemonFor(driver);
    const v = await skiff(['version'], { host: d.dockerHost });
    t.is(v.code, 0, v.stderr);
    t.regex(v.stdout.split(/^Server:/m)[1] ?? '', /API version:\s+1\.41\b/);
    const i = await skiff(['info'], { host: d.dockerHost });
    t.is(i.code, 0, i.stderr);
    t.regex(i.stdout, new RegExp(`Storage Driver: ${driver}`));
  });

  test(`${driver}: skiff run --rm prints output; exit codes propagate; ps, images, rm`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const hello = await skiff(['run', '--rm', reg.image, 'echo', 'hello'], { host: d.dockerHost });
    t.is(hello.code, 0, `${hello.stderr}\n--- skiffd:\n${d.output()}`);
    t.is(hello.stdout, 'hello\n');

    const name = `skiff-exit3-${uid()}`;
    const r = await skiff(['run', '--name', name, reg.image, 'sh', '-c', 'exit 3'], { host: d.dockerHost });
    t.is(r.code, 3, r.stderr);
    const ps = await skiff(['ps', '-a'], { host: d.dockerHost });
    t.is(ps.code, 0, ps.stderr);
    const line = ps.stdout.split('\n').find((l) => l.trimEnd().endsWith(name));
    t.regex(line ?? '', /Exited \(3\)/, ps.stdout);

    const images = await skiff(['images'], { host: d.dockerHost });
    t.regex(images.stdout, new RegExp(`${reg.host.replace(/\./g, '\\.')}/busybox\\s+latest\\s+[0-9a-f]{12}`));

    const rm = await skiff(['rm', name], { host: d.dockerHost });
    t.is(rm.code, 0, rm.stderr);
    t.is(rm.stdout.trim(), name);
    const after = await skiff(['ps', '-a'], { host: d.dockerHost });
    t.false(after.stdout.includes(name));
  });

  test(`${driver}: skiff run -d, ps, rm -f`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const name = `skiff-detached-${uid()}`;
    const r = await skiff(['run', '-d', '--name', name, reg.image, 'sleep', '60'], { host: d.dockerHost });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout.trim(), /^[0-9a-f]{64}$/);
    const ps = await skiff(['ps'], { host: d.dockerHost });
    t.regex(ps.stdout.split('\n').find((l) => l.endsWith(name)) ?? '', /Up /);
    t.not((await skiff(['rm', name], { host: d.dockerHost })).code, 0, 'a running container needs -f');
    const rm = await skiff(['rm', '-f', name], { host: d.dockerHost });
    t.is(rm.code, 0, rm.stderr);
    t.false((await skiff(['ps', '-a'], { host: d.dockerHost })).stdout.includes(name));
  });

  test(`${driver}: skiff pull and run of an image not pulled yet`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const ref = `${reg.host}/busybox:skiff-${driver}`;
    // Tag on the registry side only, so the daemon has never seen this reference.
    await pushImage(reg.layout, ref);
    const r = await skiff(['run', '--rm', ref, 'echo', 'pulled-and-ran'], { host: d.dockerHost });
    t.is(r.code, 0, r.stderr);
    t.true(r.stderr.includes(`Unable to find image '${ref}' locally`), r.stderr);
    t.is(r.stdout, 'pulled-and-ran\n');
    const pull = await skiff(['pull', `${reg.host}/nosuch-${uid()}`], { host: d.dockerHost });
    t.is(pull.code, 1);
    t.regex(pull.stderr, /manifest unknown|not found/);
  });
}
