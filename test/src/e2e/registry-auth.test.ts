import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  api,
  type BusyboxRegistry,
  createTestCa,
  type Daemon,
  docker,
  htpasswdAuthConfig,
  inspectRemote,
  type Registry,
  registryWithBusybox,
  runOk,
  startDaemon,
  startRegistry,
  startTokenServer,
  type TestCa,
  type TokenServer,
} from '../harness/index.js';

// docker login / pull / push through skiffd against Debian's registry: plain, htpasswd basic
// auth, and bearer tokens from a token server; and TLS with certs.d CAs and client certificates.

const USER = 'skiffer';
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const uid = () => randomBytes(4).toString('hex');

let work: string;
let certsDir: string;
let ca: TestCa;
let daemon: Daemon;
let plain: BusyboxRegistry;
let basic: Registry;
let token: Registry;
let tokenServer: TokenServer;
const stops: (() => Promise<unknown>)[] = [];

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'skiff-regauth-'));
  certsDir = path.join(work, 'certs.d');
  await mkdir(certsDir);
  await mkdir(path.join(work, 'ca'));
  ca = await createTestCa(path.join(work, 'ca'));
  const authDir = path.join(work, 'htpasswd');
  await mkdir(authDir);
  const htpasswd = await htpasswdAuthConfig(authDir, { [USER]: PASSWORD });
  tokenServer = await startTokenServer(ca, { [USER]: PASSWORD });
  stops.push(() => tokenServer.stop());
  [plain, basic, token, daemon] = await Promise.all([
    registryWithBusybox(),
    startRegistry({ auth: htpasswd }),
    startRegistry({ auth: tokenServer.authConfig }),
    startDaemon({ storageDriver: 'vfs', config: { 'certs-dir': certsDir } }),
  ]);
  stops.push(
    () => daemon.stop(),
    () => plain.stop(),
    () => basic.stop(),
    () => token.stop(),
  );
  const pull = await docker(['pull', plain.image], { host: daemon.dockerHost });
  if (pull.code !== 0) throw new Error(`docker pull ${plain.image}: ${pull.stderr}\n${daemon.output()}`);
});

test.after.always(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

/** A private DOCKER_CONFIG, so logins persist between the commands of one test. */
async function clientConfig(t: ExecutionContext): Promise<NodeJS.ProcessEnv> {
  const dir = await mkdtemp(path.join(work, 'cli-'));
  await writeFile(path.join(dir, 'config.json'), '{}\n');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { DOCKER_CONFIG: dir };
}

function cli(args: string[], env: NodeJS.ProcessEnv, stdin?: string) {
  return docker(args, { host: daemon.dockerHost, env, ...(stdin !== undefined ? { stdin } : {}) });
}

/** Copies the busybox layout into an authenticated registry with skopeo. */
async function seed(ref: string): Promise<void> {
  await runOk(
    'skopeo',
    [
      '--insecure-policy',
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${USER}:${PASSWORD}`,
      `oci:${plain.layout}:latest`,
      `docker://${ref}`,
    ],
    { timeoutMs: 120_000 },
  );
}

async function tag(src: string, dst: string, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await cli(['tag', src, dst], env);
  if (r.code !== 0) throw new Error(`docker tag ${src} ${dst} exited ${r.code}: ${r.stderr}`);
}

function digestLine(stdout: string, tagName: string): { digest: string; size: number } | undefined {
  const m = new RegExp(`^${tagName}: digest: (sha256:[0-9a-f]{64}) size: (\\d+)$`, 'm').exec(stdout);
  return m ? { digest: m[1]!, size: Number(m[2]) } : undefined;
}

async function stillAnswers(t: ExecutionContext): Promise<void> {
  const ping = await api(daemon.dockerHost, 'GET', '/_ping');
  t.is(ping.status, 200);
}

test('plain registry: push to a new repository mounts layers, a second push finds them, pull by digest', async (t) => {
  const env = await clientConfig(t);
  const repo = `${plain.host}/copy-${uid()}`;
  const target = `${repo}:v1`;
  await tag(plain.image, target, env);

  const push = await cli(['push', target], env);
  t.is(push.code, 0, `${push.stderr}\n--- skiffd:\n${daemon.output()}`);
  t.true(push.stdout.includes(`The push refers to repository [${repo}]`), push.stdout);
  t.regex(push.stdout, /^[0-9a-f]{12}: Mounted from busybox$/m);
  const pushed = digestLine(push.stdout, 'v1');
  t.truthy(pushed, push.stdout);

  const remote = await inspectRemote(target);
  t.is(remote.Digest, pushed?.digest);
  // As dockerd: the pushed manifest's digest becomes one of the image's RepoDigests.
  const digests = await cli(['image', 'inspect', '-f', '{{json .RepoDigests}}', target], env);
  t.true((JSON.parse(digests.stdout) as string[]).includes(`${repo}@${pushed?.digest}`), digests.stdout);

  const again = await cli(['push', target], env);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /^[0-9a-f]{12}: Layer already exists$/m);
  t.is(digestLine(again.stdout, 'v1')?.digest, pushed?.digest);

  const byDigest = await cli(['pull', `${repo}@${pushed?.digest}`], env);
  t.is(byDigest.code, 0, byDigest.stderr);
  t.true(byDigest.stdout.includes(`Digest: ${pushed?.digest}`), byDigest.stdout);
  await stillAnswers(t);
});

test('plain registry: pushing what is not there fails with dockerd’s messages', async (t) => {
  const env = await clientConfig(t);
  const missing = await cli(['push', `${plain.host}/never-${uid()}:v1`], env);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/never-/);

  const noTag = await cli(['push', `${plain.host}/busybox:nope`], env);
  t.is(noTag.code, 1);
  t.regex(noTag.stderr, /tag does not exist: 127\.0\.0\.1:\d+\/busybox:nope/);

  const raw = await api(daemon.dockerHost, 'POST', '/v1.41/images/busybox/push?tag=latest');
  t.is(raw.status, 400);
  t.regex(String((raw.json as { message?: string })?.message), /missing X-Registry-Auth/);
  await stillAnswers(t);
});

for (const kind of ['basic', 'token'] as const) {
  const reg = () => (kind === 'basic' ? basic : token);

  test(`${kind} auth: a wrong password fails docker login with the registry's refusal`, async (t) => {
    const env = await clientConfig(t);
    const r = await cli(['login', reg().host, '-u', USER, '--password-stdin'], env, 'not-the-password\n');
    t.is(r.code, 1, r.stdout);
    if (kind === 'basic')
      t.regex(r.stderr, /login attempt to http:\/\/127\.0\.0\.1:\d+\/v2\/ failed with status: 401 Unauthorized/);
    else t.regex(r.stderr, /unauthorized: incorrect username or password/);
    if (kind === 'token') t.true(tokenServer.requests.some((q) => q.outcome === 'denied' && q.account === USER));
    await stillAnswers(t);
  });

  test(`${kind} auth: docker login, pull by tag and digest, push to a new repository`, async (t) => {
    const env = await clientConfig(t);
    const seedRef = `${reg().host}/seed-${uid()}:v1`;
    await seed(seedRef);

    const anonymous = await cli(['pull', seedRef], env);
    t.is(anonymous.code, 1, anonymous.stdout);

    const login = await cli(['login', reg().host, '-u', USER, '--password-stdin'], env, `${PASSWORD}\n`);
    t.is(login.code, 0, `${login.stderr}\n--- skiffd:\n${daemon.output()}`);
    t.regex(login.stdout, /Login Succeeded/);

    // Pushed before anything of this registry is local, so no mount source exists: a real upload.
    const repo = `${reg().host}/app-${uid()}`;
    const target = `${repo}:v2`;
    await tag(plain.image, target, env);
    const push = await cli(['push', target], env);
    t.is(push.code, 0, `${push.stderr}\n--- skiffd:\n${daemon.output()}`);
    t.regex(push.stdout, /^[0-9a-f]{12}: Pushed$/m);
    const pushed = digestLine(push.stdout, 'v2');
    t.truthy(pushed, push.stdout);
    if (kind === 'token') {
      const name = repo.slice(reg().host.length + 1);
      t.true(tokenServer.requests.some((q) => q.query.getAll('scope').includes(`repository:${name}:pull,push`)));
    }

    const pull = await cli(['pull', seedRef], env);
    t.is(pull.code, 0, `${pull.stderr}\n--- skiffd:\n${daemon.output()}`);
    const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(pull.stdout)?.[1];
    t.truthy(digest, pull.stdout);
    const byDigest = await cli(['pull', `${seedRef.replace(/:v1$/, '')}@${digest}`], env);
    t.is(byDigest.code, 0, byDigest.stderr);

    // Without the login the registry refuses the same image.
    const fresh = await clientConfig(t);
    const denied = await cli(['pull', target], fresh);
    t.is(denied.code, 1);
    t.regex(denied.stderr, /unauthorized|authentication required|no basic auth credentials/i);

    const back = await cli(['pull', `${repo}@${pushed?.digest}`], env);
    t.is(back.code, 0, back.stderr);
    await stillAnswers(t);
  });
}

/** `os.hostname()` when it resolves to loopback: a registry name that is not insecure by default. */
async function loopbackHostname(): Promise<string | undefined> {
  const name = os.hostname();
  const addrs = await lookup(name, { all: true }).catch(() => []);
  return addrs.length > 0 && addrs.every((a) => a.address === '127.0.0.1') ? name : undefined;
}

test('TLS registry: certs.d CA and client certificate are used; without them the pull fails', async (t) => {
  const hostname = await loopbackHostname();
  if (!hostname) {
    t.log(`${os.hostname()} does not resolve to 127.0.0.1 only; nothing to check`);
    t.pass();
    return;
  }
  const server = await ca.issue(`registry-${uid()}`, { hosts: [hostname] });
  const client = await ca.issue(`client-${uid()}`, { client: true });
  const reg = await startRegistry({
    hostname,
    tls: { certificate: server.certFile, key: server.keyFile, clientCas: [ca.certFile] },
  });
  t.teardown(() => reg.stop());
  const env = await clientConfig(t);
  const ref = `${reg.host}/tls-${uid()}:v1`;
  await runOk('skopeo', [
    '--insecure-policy',
    'copy',
    '--quiet',
    '--dest-cert-dir',
    await certDir(t, client),
    '--dest-tls-verify=false',
    `oci:${plain.layout}:latest`,
    `docker://${ref}`,
  ]);

  const untrusted = await cli(['pull', ref], env);
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /certificate|tls/i);

  const hostDir = path.join(certsDir, reg.host);
  await mkdir(hostDir, { recursive: true });
  await writeFile(path.join(hostDir, 'ca.crt'), ca.cert);
  const noClientCert = await cli(['pull', ref], env);
  t.is(noClientCert.code, 1, noClientCert.stdout);

  await writeFile(path.join(hostDir, 'client.cert'), client.cert);
  await writeFile(path.join(hostDir, 'client.key'), client.key);
  const ok = await cli(['pull', ref], env);
  t.is(ok.code, 0, `${ok.stderr}\n--- skiffd:\n${daemon.output()}`);

  await writeFile(path.join(hostDir, 'orphan.key'), client.key);
  const broken = await cli(['pull', ref], env);
  t.is(broken.code, 1);
  t.regex(broken.stderr, /missing client certificate orphan\.cert for key orphan\.key/);
  await rm(path.join(hostDir, 'orphan.key'));
  await stillAnswers(t);
});

/** A skopeo cert dir (`*.cert` + `*.key`) holding a client certificate. */
async function certDir(t: ExecutionContext, c: { cert: string; key: string }): Promise<string> {
  const dir = await mkdtemp(path.join(work, 'skopeo-certs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'client.cert'), c.cert);
  await writeFile(path.join(dir, 'client.key'), c.key);
  return dir;
}
