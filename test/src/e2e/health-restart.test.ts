import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import { docker, registryWithBusybox, sleep, startRestartableDaemon } from '../harness/index.js';
import { MediaTypes, pushBlob, pushManifest } from '../harness/image-builder.js';

// Healthchecks from the image config (moby: daemon/create.go merges the image's Healthcheck;
// `--no-healthcheck` is Test ["NONE"]) and State.Health across a restart of skiffd: the last five
// probes, the failing streak and the status are persisted, and probing goes on from them.

const MS = 1_000_000;

interface Health {
  Status: string;
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

/** Tags `busybox:<tag>` in the registry: the busybox image with `Healthcheck` added to its config. */
async function pushHealthcheckImage(registry: string, tag: string, healthcheck: Record<string, unknown>) {
  const accept = { accept: MediaTypes.OciManifest };
  const manifest = (await (
    await fetch(`http://${registry}/v2/busybox/manifests/latest`, { headers: accept })
  ).json()) as {
    config: { digest: string; size: number; mediaType: string };
  };
  const config = (await (await fetch(`http://${registry}/v2/busybox/blobs/${manifest.config.digest}`)).json()) as {
    config: Record<string, unknown>;
  };
  config.config.Healthcheck = healthcheck;
  const bytes = Buffer.from(JSON.stringify(config));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await pushBlob(registry, 'busybox', { bytes, size: bytes.length, digest });
  manifest.config = { ...manifest.config, digest, size: bytes.length };
  await pushManifest(registry, 'busybox', tag, Buffer.from(JSON.stringify(manifest)), MediaTypes.OciManifest);
  return `${registry}/busybox:${tag}`;
}

/** Polls `probe` until `done` holds (generous deadline: the machine is shared). */
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string, limitMs = 120_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(200);
  }
}

test('image healthcheck is inherited, --no-healthcheck disables it; State.Health survives a skiffd restart', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startRestartableDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(() => d.stop());
  const cli = (...args: string[]) => docker(args, { host: d.current.dockerHost });
  const healthOf = async (name: string) =>
    JSON.parse((await cli('inspect', '-f', '{{json .State.Health}}', name)).stdout) as Health | null;

  const healthcheck = {
    Test: ['CMD-SHELL', 'echo probe; test -f /tmp/healthy'],
    Interval: 500 * MS,
    Timeout: 2000 * MS,
    Retries: 2,
  };
  const image = await pushHealthcheckImage(reg.host, `hc-${randomBytes(4).toString('hex')}`, healthcheck);
  t.is((await cli('pull', image)).code, 0);

  const name = `hc-${randomBytes(4).toString('hex')}`;
  const r = await cli('run', '-d', '--network', 'none', '--name', name, image, 'sleep', '600');
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse((await cli('inspect', '-f', '{{json .Config.Healthcheck}}', name)).stdout), healthcheck);

  // --no-healthcheck: the image's check is off; no State.Health at all.
  const off = `nohc-${randomBytes(4).toString('hex')}`;
  t.is((await cli('run', '-d', '--network', 'none', '--no-healthcheck', '--name', off, image, 'sleep', '600')).code, 0);
  // As in dockerd 20.10: Test is NONE, the image's other fields are merged in (moby's merge()).
  t.deepEqual(JSON.parse((await cli('inspect', '-f', '{{json .Config.Healthcheck}}', off)).stdout), {
    ...healthcheck,
    Test: ['NONE'],
  });

  // Failing probes: unhealthy after 2, and the log fills up to its last five.
  await until(
    () => healthOf(name),
    (h) => h !== null && h.Status === 'unhealthy' && h.FailingStreak >= 6 && h.Log.length === 5,
    'a full log of failures',
  );
  // Pausing stops the probes; wait until the record stops changing (a probe may be under way).
  t.is((await cli('pause', name)).code, 0);
  let before = await healthOf(name);
  for (let stable = 0; stable < 3;) {
    await sleep(1000);
    const now = await healthOf(name);
    stable = JSON.stringify(now) === JSON.stringify(before) ? stable + 1 : 0;
    before = now;
  }
  t.truthy(before);
  t.is(before!.Log.length, 5);
  // (A probe under way when the container froze fails too.)
  t.true(
    before!.Log.every((l) => l.ExitCode !== 0),
    JSON.stringify(before!.Log),
  );

  await d.restart('sigkill');
  // As persisted: status, failing streak and the five probes, not a fresh "starting".
  t.deepEqual(await healthOf(name), before);
  t.regex((await cli('ps', '--filter', `name=${name}`, '--format', '{{.Status}}')).stdout, /\(Paused\)/);
  t.is(await healthOf(off), null);

  // Probing goes on from the persisted streak once the container runs again.
  t.is((await cli('unpause', name)).code, 0);
  const after = await until(
    () => healthOf(name),
    (h) => h !== null && h.FailingStreak > before!.FailingStreak,
    'the next probe',
  );
  t.is(after!.Status, 'unhealthy');
  t.is(after!.Log.length, 5);
  // The log goes on from the persisted one: its older entries, then the new probes.
  const fresh = after!.Log.filter((l) => !before!.Log.some((b) => b.Start === l.Start)).length;
  t.true(fresh >= 1 && fresh <= 5);
  t.deepEqual(after!.Log.slice(0, 5 - fresh), before!.Log.slice(fresh));
  t.regex((await cli('ps', '--filter', `name=${name}`, '--format', '{{.Status}}')).stdout, /\(unhealthy\)/);

  // And it recovers as usual.
  t.is((await cli('exec', name, 'touch', '/tmp/healthy')).code, 0);
  await until(
    () => healthOf(name),
    (h) => h !== null && h.Status === 'healthy' && h.FailingStreak === 0,
    'healthy',
  );
  const ps = (await cli('ps', '--filter', `name=${off}`, '--format', '{{.Status}}')).stdout;
  t.notRegex(ps, /health/);
  await cli('rm', '-f', name, off);
});
