import { randomBytes } from 'node:crypto';
import test from 'ava';
import { api, docker, driverDaemons } from '../harness/index.js';

// `docker ps -s` and inspect `?size=1`: what a container wrote, and its whole filesystem.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');

for (const driver of ['overlay', 'vfs'] as const) {
  test(`${driver}: ps -s and inspect --size count the container's own bytes on top of its image`, async (t) => {
    const [d, reg] = await Promise.all([daemonFor(driver), registry()]);
    const host = d.dockerHost;
    const name = `size-${uid()}`;
    const run = await docker(
      ['run', '--network', 'none', '--name', name, reg.image, 'sh', '-c', 'head -c 3000000 /dev/zero > /big'],
      { host },
    );
    t.is(run.code, 0, run.stderr);
    const id = (await docker(['inspect', '-f', '{{.Id}}', name], { host })).stdout.trim();
    const res = await api(host, 'GET', `/containers/${id}/json?size=1`);
    const { SizeRw, SizeRootFs } = res.json as { SizeRw: number; SizeRootFs: number };
    t.true(SizeRw >= 3_000_000 && SizeRw < 3_200_000, `SizeRw ${SizeRw}`);
    t.true(SizeRootFs > SizeRw + 500_000, `SizeRootFs ${SizeRootFs}`);
    // Without ?size, dockerd leaves both out.
    t.false('SizeRw' in ((await api(host, 'GET', `/containers/${id}/json`)).json as object));
    const ps = await docker(['ps', '-a', '-s', '--filter', `name=${name}`, '--format', '{{.Size}}'], { host });
    t.regex(ps.stdout.trim(), /^3(\.\d+)?MB \(virtual \d+(\.\d+)?MB\)$/);
  });
}
