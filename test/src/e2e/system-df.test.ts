import { randomBytes } from 'node:crypto';
import test from 'ava';
import { api, docker, driverDaemons } from '../harness/index.js';

// `docker system df` (GET /system/df): images with their containers and shared bytes, containers
// with their sizes, volumes with their users and bytes, in dockerd 20.10's shape.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

interface Df {
  LayersSize: number;
  Images: Array<{ Id: string; Containers: number; Size: number; SharedSize: number }>;
  Containers: Array<{ Id: string; SizeRw: number; SizeRootFs: number }>;
  Volumes: Array<{ Name: string; UsageData: { RefCount: number; Size: number } }>;
  BuildCache: unknown[] | null;
  BuilderSize: number;
}

test('docker system df counts images, containers and volumes as dockerd does', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const vol = `df-${randomBytes(4).toString('hex')}`;
  const run = await docker(
    [
      'run',
      '--network',
      'none',
      '-v',
      `${vol}:/data`,
      reg.image,
      'sh',
      '-c',
      'head -c 1000 /dev/zero > /data/f; head -c 5000 /dev/zero > /w',
    ],
    { host },
  );
  t.is(run.code, 0, run.stderr);
  const ps = await docker(['ps', '-lq', '--no-trunc'], { host });
  const id = ps.stdout.trim();
  t.regex(id, /^[0-9a-f]{64}$/, JSON.stringify(ps));

  const df = (await api(host, 'GET', '/system/df')).json as Df;
  const image = (await docker(['inspect', '-f', '{{.Image}}', id], { host })).stdout.trim();
  const img = df.Images.find((i) => i.Id === image);
  t.is(img?.Containers, 1, JSON.stringify({ image, images: df.Images.map((i) => i.Id) }));
  t.true((img?.SharedSize ?? -1) >= 0);
  t.true(df.LayersSize >= (img?.Size ?? Infinity), `LayersSize ${df.LayersSize}`);
  const c = df.Containers.find((x) => x.Id === id);
  t.true((c?.SizeRw ?? 0) >= 5000, `SizeRw ${c?.SizeRw}`);
  t.deepEqual(df.Volumes.find((v) => v.Name === vol)?.UsageData, { RefCount: 1, Size: 1000 });
  t.is(df.BuildCache, null, 'as dockerd 20.10 answers with the classic builder');
  t.is(df.BuilderSize, 0);

  const text = await docker(['system', 'df'], { host });
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/m);
  t.regex(text.stdout, /^Local Volumes\s+\d+\s+\d+\s+/m);
  const verbose = await docker(['system', 'df', '-v'], { host });
  t.is(verbose.code, 0, verbose.stderr);
  t.regex(verbose.stdout, new RegExp(`^${vol}\\s+1\\s+1kB$`, 'm'));
});
