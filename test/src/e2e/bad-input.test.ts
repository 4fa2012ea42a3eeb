import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { api, type Daemon, docker, expectStartFailure, freePort, jsonLines, startDaemon } from '../harness/index.js';

// Bad input gets a clear error with the status dockerd would use, and never wedges the daemon:
// after every bad request, GET /_ping still answers 200 OK.

let daemonP: Promise<Daemon> | undefined;
const daemon = () => {
  daemonP ??= startDaemon({ storageDriver: 'vfs' });
  return daemonP;
};
test.after.always(async () => {
  if (daemonP) await (await daemonP.catch(() => undefined))?.stop();
});

async function assertAlive(t: ExecutionContext, d: Daemon): Promise<void> {
  const ping = await api(d.dockerHost, 'GET', '/_ping');
  t.is(ping.status, 200, `after the bad input, /_ping answered ${ping.status}\n--- skiffd:\n${d.output()}`);
  t.is(ping.body, 'OK');
}

function messageOf(body: unknown): string | undefined {
  const m = (body as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}

test('malformed JSON to POST /containers/create is a 400 with a message', async (t) => {
  const d = await daemon();
  const r = await api(d.dockerHost, 'POST', '/v1.41/containers/create', '{"Image": "busybox", bad');
  t.is(r.status, 400, r.body);
  t.truthy(messageOf(r.json), `no JSON message in ${r.body}`);
  await assertAlive(t, d);
});

test('a create body that is JSON but not an object is a 400', async (t) => {
  const d = await daemon();
  for (const body of ['[]', '"x"', '42', 'null']) {
    const r = await api(d.dockerHost, 'POST', '/containers/create', body);
    t.is(r.status, 400, `${body}: ${r.body}`);
    t.truthy(messageOf(r.json), body);
  }
  await assertAlive(t, d);
});

test('create with a non-JSON content type is a 400', async (t) => {
  const d = await daemon();
  const r = await api(d.dockerHost, 'POST', '/containers/create', 'Image=busybox', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  t.is(r.status, 400, r.body);
  t.regex(messageOf(r.json) ?? '', /application\/json/);
  await assertAlive(t, d);
});

test('create with an unknown image is a 404 "No such image"', async (t) => {
  const d = await daemon();
  const image = `skiff-e2e-nosuch-${randomBytes(4).toString('hex')}:zzz`;
  const r = await api(d.dockerHost, 'POST', '/v1.41/containers/create', { Image: image, Cmd: ['true'] });
  t.is(r.status, 404, r.body);
  t.regex(messageOf(r.json) ?? '', /No such image/i);
  t.true((messageOf(r.json) ?? '').includes(image), r.body);
  await assertAlive(t, d);
});

test('inspect of an unknown container is a 404 "No such container"', async (t) => {
  const d = await daemon();
  const r = await api(d.dockerHost, 'GET', '/v1.41/containers/skiff-e2e-nosuch/json');
  t.is(r.status, 404, r.body);
  t.regex(messageOf(r.json) ?? '', /No such container: skiff-e2e-nosuch/);
  await assertAlive(t, d);
});

test('an unknown route is a 404, a too-new API version a 400', async (t) => {
  const d = await daemon();
  const r = await api(d.dockerHost, 'GET', '/v1.41/no/such/route');
  t.is(r.status, 404, r.body);
  const v = await api(d.dockerHost, 'GET', '/v1.99/version');
  t.is(v.status, 400, v.body);
  t.regex(v.body, /1\.99/);
  await assertAlive(t, d);
});

test('pull with an invalid reference is a 400', async (t) => {
  const d = await daemon();
  const r = await api(d.dockerHost, 'POST', '/v1.41/images/create?fromImage=UPPER%2F%2Fbad&tag=latest');
  t.is(r.status, 400, r.body);
  t.truthy(messageOf(r.json), r.body);
  await assertAlive(t, d);
});

test('pull from a registry that is down fails clearly, naming the registry', async (t) => {
  const d = await daemon();
  const port = await freePort(); // nothing listens there
  const registry = `127.0.0.1:${port}`;
  const r = await api(
    d.dockerHost,
    'POST',
    `/v1.41/images/create?fromImage=${encodeURIComponent(`${registry}/x`)}&tag=latest`,
    undefined,
    { headers: { 'X-Registry-Auth': 'e30=' } },
  );
  if (r.status >= 200 && r.status < 300) {
    // dockerd may report a failed pull in-band once the stream has started.
    const errors = jsonLines(r.body).filter((m) => m.errorDetail || m.error);
    t.true(errors.length > 0, `a 2xx pull with no error in the stream: ${r.body}`);
    t.true(JSON.stringify(errors).includes(registry), r.body);
  } else {
    t.true(r.status >= 400, r.body);
    t.true((messageOf(r.json) ?? '').includes(registry), r.body);
  }
  await assertAlive(t, d);
});

test('docker pull from a registry that is down exits non-zero with that message', async (t) => {
  const d = await daemon();
  const port = await freePort();
  const ref = `127.0.0.1:${port}/x:latest`;
  const r = await docker(['pull', ref], { host: d.dockerHost });
  t.not(r.code, 0);
  t.true(r.stderr.includes(`127.0.0.1:${port}`), r.stderr);
  await assertAlive(t, d);
});

test('malformed daemon.json: skiffd refuses to start with one clear line naming the file', async (t) => {
  const r = await expectStartFailure({ storageDriver: 'vfs', configText: '{"storage-driver": "vfs",' });
  t.not(r.code, 0);
  t.regex(r.output, /daemon\.json/);
  t.notRegex(r.output, /^\s+at /m, 'a stack trace instead of a clear error');
});

test('unknown storage driver: skiffd refuses to start and names it', async (t) => {
  const r = await expectStartFailure({ storageDriver: 'nosuchdriver' as 'vfs' });
  t.not(r.code, 0);
  t.regex(r.output, /nosuchdriver/);
  t.notRegex(r.output, /^\s+at /m, 'a stack trace instead of a clear error');
});
