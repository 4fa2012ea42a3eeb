import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import test from 'ava';
import Docker from 'dockerode';
import tarStream from 'tar-stream';
import { type Daemon, type BusyboxRegistry, registryWithBusybox, startDaemon } from '../harness/index.js';
import { validateResponse } from '../harness/api-schema.js';

// dockerode (the npm client) driving a real skiffd over its unix socket.

let daemon: Daemon | undefined;
let registry: BusyboxRegistry | undefined;
test.before(async () => {
  registry = await registryWithBusybox();
  daemon = await startDaemon({ storageDriver: 'overlay', insecureRegistries: [registry.host] });
});
test.after.always(async () => {
  await daemon?.stop();
  await registry?.stop();
});

const client = () => new Docker({ socketPath: daemon!.socket });
const unique = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    stream.on('data', (c: Buffer) => (s += c.toString()));
    stream.on('end', () => resolve(s));
    stream.on('error', reject);
  });
}

test.serial('pull follows progress to the end, then list and inspect the image', async (t) => {
  const d = client();
  const stream = await d.pull(registry!.image);
  const events = await new Promise<{ status?: string; error?: string }[]>((resolve, reject) =>
    d.modem.followProgress(stream, (err, out) => (err ? reject(err) : resolve(out as { status?: string }[]))),
  );
  t.true(events.length > 0);
  t.falsy(events.find((e) => e.error));
  t.regex(events.at(-1)?.status ?? '', /Downloaded newer image|Image is up to date/);
  const images = await d.listImages();
  t.true(images.some((i) => (i.RepoTags ?? []).includes(registry!.image)));
  const info = await d.getImage(registry!.image).inspect();
  t.regex(info.Id, /^sha256:[0-9a-f]{64}$/);
});

test.serial('create, start, attach (demuxed), logs, exec, wait, stop, remove, events', async (t) => {
  const d = client();
  const name = unique('dockerode');
  const since = Math.floor(Date.now() / 1000) - 1;
  const c = await d.createContainer({
    Image: registry!.image,
    name,
    Cmd: ['sh', '-c', 'echo out; echo err >&2; sleep 600'],
    HostConfig: { NetworkMode: 'none' },
  });
  const attach = await c.attach({ stream: true, stdout: true, stderr: true });
  const out = new PassThrough();
  const err = new PassThrough();
  c.modem.demuxStream(attach, out, err);
  await c.start();
  const firstOut = await new Promise<string>((resolve) => out.once('data', (b: Buffer) => resolve(b.toString())));
  const firstErr = await new Promise<string>((resolve) => err.once('data', (b: Buffer) => resolve(b.toString())));
  t.is(firstOut, 'out\n');
  t.is(firstErr, 'err\n');

  const logs = await c.logs({ stdout: true, stderr: true, follow: false });
  const lo = new PassThrough();
  const le = new PassThrough();
  const loP = collect(lo);
  const leP = collect(le);
  // Non-follow logs come back as a Buffer of multiplexed frames.
  const frames = Buffer.from(logs as unknown as Buffer);
  const src = new PassThrough();
  c.modem.demuxStream(src, lo, le);
  src.end(frames);
  src.on('end', () => {
    lo.end();
    le.end();
  });
  t.is(await loP, 'out\n');
  t.is(await leP, 'err\n');

  const follow = await c.logs({ stdout: true, stderr: true, follow: true });
  const fo = new PassThrough();
  c.modem.demuxStream(follow, fo, new PassThrough());
  const foP = collect(fo);
  follow.on('end', () => fo.end());

  const exec = await c.exec({ Cmd: ['sh', '-c', 'echo hi; exit 3'], AttachStdout: true, AttachStderr: true });
  const es = await exec.start({ hijack: true, stdin: false });
  const eo = new PassThrough();
  c.modem.demuxStream(es, eo, new PassThrough());
  const eoP = collect(eo);
  es.on('end', () => eo.end());
  t.is(await eoP, 'hi\n');
  const ei = await exec.inspect();
  t.is(ei.ExitCode, 3);
  t.false(ei.Running);

  const listed = await d.listContainers({ filters: { name: [name] } });
  t.is(listed.length, 1);
  t.is(listed[0]!.State, 'running');

  const waitP = c.wait();
  await c.stop({ t: 1 });
  const w = (await waitP) as { StatusCode: number };
  t.true(w.StatusCode === 137 || w.StatusCode === 143);
  t.is(await foP, 'out\n');
  const inspected = await c.inspect();
  t.false(inspected.State.Running);
  await c.remove();
  await t.throwsAsync(c.inspect(), { message: /no such container/i });

  const until = Math.floor(Date.now() / 1000) + 1;
  const ev = await d.getEvents({ since, until, filters: { container: [name] } });
  const text = await collect(ev);
  const actions = text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { Action: string }).Action);
  for (const a of ['create', 'start', 'die', 'destroy']) t.true(actions.includes(a), `${a} in ${actions.join(',')}`);
});

test.serial('responses match the Docker Engine API v1.41 schemas', async (t) => {
  const d = client();
  const name = unique('schema');
  const c = await d.createContainer({ Image: registry!.image, name, Cmd: ['sleep', '600'] });
  await c.start();
  const net = await d.createNetwork({ Name: unique('schemanet'), Driver: 'bridge' });
  const vol = { Name: unique('schemavol') };
  await d.createVolume({ Name: vol.Name });
  t.teardown(async () => {
    await c.remove({ force: true }).catch(() => undefined);
    await net.remove().catch(() => undefined);
    await d
      .getVolume(vol.Name)
      .remove()
      .catch(() => undefined);
  });
  const checks: [string, unknown][] = [
    ['/containers/{id}/json', await c.inspect()],
    ['/images/{name}/json', await d.getImage(registry!.image).inspect()],
    ['/info', await d.info()],
    ['/version', await d.version()],
    ['/networks/{id}', await net.inspect()],
    ['/volumes/{name}', await d.getVolume(vol.Name).inspect()],
    ['/containers/json', await d.listContainers({ all: true })],
  ];
  const mismatches = checks.flatMap(([p, body]) => validateResponse(p, 'GET', 200, body).map((m) => `${p} ${m}`));
  t.deepEqual(mismatches, []);
  // The validator itself rejects a wrong shape.
  t.true(validateResponse('/version', 'GET', 200, { Version: 1 }).length > 0);
});

test.serial('build from a tar-stream context with the classic builder', async (t) => {
  const d = client();
  const pack = tarStream.pack();
  pack.entry({ name: 'Dockerfile' }, `FROM ${registry!.image}\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n`);
  pack.entry({ name: 'hello.txt' }, 'built by dockerode\n');
  pack.finalize();
  const tag = `${unique('dockerode-build')}:v1`;
  const stream = await d.buildImage(pack as unknown as NodeJS.ReadableStream, { t: tag, version: '1' });
  const out = await new Promise<{ stream?: string; error?: string; aux?: { ID?: string } }[]>((resolve, reject) =>
    d.modem.followProgress(stream, (err, res) => (err ? reject(err) : resolve(res as { stream?: string }[]))),
  );
  t.falsy(out.find((e) => e.error));
  t.truthy(out.find((e) => e.aux?.ID?.startsWith('sha256:')));
  const c = await d.createContainer({ Image: tag, HostConfig: { NetworkMode: 'none' } });
  await c.start();
  await c.wait();
  const logs = (await c.logs({ stdout: true, follow: false })) as unknown as Buffer;
  t.is(logs.subarray(8).toString(), 'built by dockerode\n');
  await c.remove();
  await d.getImage(tag).remove();
  // A bad Dockerfile fails the build with a message in the stream.
  const bad = tarStream.pack();
  bad.entry({ name: 'Dockerfile' }, 'NOPE x\n');
  bad.finalize();
  const badOut = await d.buildImage(bad as unknown as NodeJS.ReadableStream, { t: unique('bad'), version: '1' }).then(
    (s) =>
      new Promise<unknown>((resolve, reject) =>
        d.modem.followProgress(s, (err, res) => (err ? resolve(err) : reject(new Error(JSON.stringify(res))))),
      ),
    (e: unknown) => e,
  );
  t.regex(String((badOut as Error).message ?? badOut), /unknown instruction|NOPE/i);
});

test.serial(
  'maps come back with their keys sorted, as dockerd (Go) writes them, whatever order a client sent',
  async (t) => {
    const d = client();
    // Not in Go's order on purpose: JavaScript clients keep insertion order.
    const labels = { zeta: '1', Alpha: '2', mid: '3' };
    const sorted = ['Alpha', 'mid', 'zeta'];
    const c = await d.createContainer({ name: unique('maps'), Image: registry!.image, Cmd: ['true'], Labels: labels });
    t.teardown(() => c.remove({ force: true }).catch(() => {}));
    t.deepEqual(Object.keys((await c.inspect()).Config.Labels), sorted);
    const listed = (await d.listContainers({ all: true })).find((x) => x.Id === c.id);
    t.deepEqual(Object.keys(listed!.Labels), sorted);
    const volume = unique('maps');
    await d.createVolume({ Name: volume, Labels: labels });
    t.teardown(() =>
      d
        .getVolume(volume)
        .remove()
        .catch(() => {}),
    );
    t.deepEqual(Object.keys((await d.getVolume(volume).inspect()).Labels), sorted);
  },
);
