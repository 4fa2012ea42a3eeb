import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import test from 'ava';
import { docker, driverDaemons, pushImage, type StorageDriverName } from '../harness/index.js';

// The real docker CLI against skiffd, once per storage driver.

const drivers: StorageDriverName[] = ['vfs', 'overlay'];
const uid = () => randomBytes(4).toString('hex');

const { registry, daemonFor, stopAll } = driverDaemons({
  // Never pulled in setup: exercised by the "not pulled yet" test, in Docker's schema 2 format.
  prepareRegistry: (r) => pushImage(r.layout, `${r.host}/fresh:v1`, { format: 'v2s2' }).then(() => {}),
});
test.after.always(stopAll);

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

  test(`${driver}: docker run -i pipes stdin into the container and closes it`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const r = await docker(['run', '--rm', '-i', reg.image, 'sh', '-c', 'cat; echo done >&2'], {
      host: d.dockerHost,
      stdin: 'piped-line-1\npiped-line-2\n',
    });
    t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${d.output()}`);
    t.is(r.stdout, 'piped-line-1\npiped-line-2\n');
    t.is(r.stderr, 'done\n');
  });

  test(`${driver}: a command that cannot start exits 127/126 with the runtime's message`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const names = [`e2e-nocmd-${uid()}`, `e2e-noexec-${uid()}`];
    const r = await docker(['run', '--rm', '--name', names[0]!, reg.image, 'no-such-command'], { host: d.dockerHost });
    t.is(r.code, 127, r.stderr);
    t.regex(r.stderr, /Error response from daemon: .*executable file not found/);
    t.notRegex(r.stderr, /\{"message"/, 'the CLI decoded the error body');
    const p = await docker(['run', '--rm', '--name', names[1]!, reg.image, '/etc/passwd'], { host: d.dockerHost });
    t.is(p.code, 126, p.stderr);
    t.regex(p.stderr, /permission denied/);
    const listed = await psAll(d.dockerHost);
    t.false(
      listed.some((l) => names.some((n) => l.trimEnd().endsWith(n))),
      'failed --rm containers are removed',
    );
  });

  test(`${driver}: a missing working directory is created, as in dockerd`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const r = await docker(['run', '--rm', '-w', '/made/for/you', reg.image, 'pwd'], { host: d.dockerHost });
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, '/made/for/you\n');
  });

  test(`${driver}: the socket is 0660 and --network host/none behave like docker's`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    t.is((await stat(d.socket)).mode & 0o777, 0o660);
    const host = await docker(['run', '--rm', '--network', 'host', reg.image, 'hostname'], { host: d.dockerHost });
    t.is(host.code, 0, host.stderr);
    t.is(host.stdout.trim(), hostname());
    const none = await docker(['run', '--rm', '--network', 'none', reg.image, 'cat', '/proc/net/dev'], {
      host: d.dockerHost,
    });
    t.is(none.code, 0, none.stderr);
    const ifaces = none.stdout
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(':')[0]);
    t.deepEqual(ifaces, ['lo']);
  });
}
