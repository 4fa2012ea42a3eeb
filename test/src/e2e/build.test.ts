import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  api,
  docker,
  dockerCli,
  driverDaemons,
  registryWithBusybox,
  run,
  runOk,
  sleep,
  startRestartableDaemon,
} from '../harness/index.js';
import { startNetnsDaemon } from '../harness/netns-daemon.js';

// `docker build` with the real docker CLI against skiffd's classic builder (POST /build).
// skiffd's /_ping says `Builder-Version: 1`. The docker CLI 28 here has no buildx plugin: with
// DOCKER_BUILDKIT unset it prints a deprecation notice and uses the legacy builder (version=1);
// with DOCKER_BUILDKIT=1 it refuses locally. DOCKER_BUILDKIT=0 selects the legacy builder quietly,
// so the tests set it, and one test checks the unset case too.

const hasCompose = (await run('sh', ['-c', 'command -v docker-compose'])).code === 0;
const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');
const LEGACY = { DOCKER_BUILDKIT: '0' };
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function contextDir(t: ExecutionContext, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-build-ctx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

/** Starts `docker build --no-cache dir` and resolves once its RUN container runs (the CLI keeps going). */
async function buildUntilRunning(t: ExecutionContext, host: string, dir: string) {
  const config = await mkdtemp(join(tmpdir(), 'skiff-build-cli-'));
  t.teardown(() => rm(config, { recursive: true, force: true }));
  await writeFile(join(config, 'config.json'), '{}');
  const child = spawn(dockerCli(), ['build', '--no-cache', dir], {
    env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: config, DOCKER_BUILDKIT: '0' },
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  const id = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /Running in ([0-9a-f]{12})/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`docker build ended first: ${out}`)));
  });
  return { child, id };
}

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const cli = (...args: string[]) => docker(args, { host, env: LEGACY, timeoutMs: 240_000 });
  return { d, reg, host, cli };
}

const count = (s: string, what: string) => s.split(what).length - 1;

/** A ustar archive of `entries` (enough for hostile contexts: files, symlinks, any name). */
function tarOf(entries: { name: string; content?: string; linkname?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.content ?? '');
    const h = Buffer.alloc(512);
    const put = (off: number, len: number, v: string) => h.write(v, off, len, 'utf8');
    put(0, 100, e.name);
    put(100, 8, e.linkname ? '0000777\0' : '0000644\0');
    put(108, 8, '0000000\0');
    put(116, 8, '0000000\0');
    put(124, 12, `${(e.linkname ? 0 : body.length).toString(8).padStart(11, '0')}\0`);
    put(136, 12, '00000000000\0');
    h.fill(' ', 148, 156);
    put(156, 1, e.linkname ? '2' : '0');
    if (e.linkname) put(157, 100, e.linkname);
    put(257, 8, 'ustar\u000000');
    let sum = 0;
    for (const b of h) sum += b;
    put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(h);
    if (!e.linkname && body.length) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

test('every instruction: the image has the config and files Docker gives it, and runs', async (t) => {
  const { reg, cli } = await setup();
  const tag = `every-${uid()}:v1`;
  const dir = await contextDir(t, {
    'hello.txt': 'hello-from-ctx\n',
    'payload/inner.txt': 'inside the tar\n',
    'ignored.txt': 'must not reach the daemon\n',
    '.dockerignore': 'ignored.txt\n',
    Dockerfile: `ARG BASE=${reg.image}
FROM \${BASE} AS base
ARG GREETING=hello
ENV APP_HOME=/app SPACED="two words"
LABEL org.test.one="1" two=2
WORKDIR $APP_HOME
COPY hello.txt ./
ADD payload.tar /extracted/
RUN echo "$GREETING from RUN" > /app/run.txt \\
  # a comment inside the continuation
  && cat hello.txt
COPY --chown=65534:65534 hello.txt /owned.txt
RUN ["sh", "-c", "echo exec-form > /exec.txt"]
USER nobody
EXPOSE 8080 53/udp
VOLUME /data
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD true
STOPSIGNAL SIGUSR1
SHELL ["/bin/sh", "-c"]
MAINTAINER tester
ONBUILD RUN echo triggered > /tmp/onbuild.txt
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/run.txt /app/hello.txt"]
`,
  });
  await runOk('tar', ['-cf', join(dir, 'payload.tar'), '-C', join(dir, 'payload'), 'inner.txt']);
  const b = await cli('build', '-t', tag, dir);
  t.is(b.code, 0, b.stderr + b.stdout);
  t.regex(b.stdout, /Step 1\/21 : ARG BASE=/);
  t.regex(b.stdout, /Step 2\/21 : FROM \$\{BASE\} AS base/);
  t.regex(b.stdout, / ---> Running in [0-9a-f]{12}\n/);
  t.regex(b.stdout, /Removing intermediate container [0-9a-f]{12}\n/);
  t.regex(b.stdout, /hello-from-ctx\n/, 'RUN output is streamed');
  t.regex(b.stdout, /Successfully built [0-9a-f]{12}\n/);
  t.regex(b.stdout, new RegExp(`Successfully tagged ${tag}\\n`));

  const img = JSON.parse((await cli('image', 'inspect', tag)).stdout)[0];
  const c = img.Config;
  t.true(c.Env.includes('APP_HOME=/app'));
  t.true(c.Env.includes('SPACED=two words'));
  t.false(
    c.Env.some((e: string) => e.startsWith('GREETING=')),
    'ARGs do not persist',
  );
  t.deepEqual(c.Labels, { 'org.test.one': '1', two: '2' });
  t.is(c.WorkingDir, '/app');
  t.is(c.User, 'nobody');
  t.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '53/udp': {} });
  t.deepEqual(c.Volumes, { '/data': {} });
  t.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Timeout: 5e9, Retries: 2 });
  t.is(c.StopSignal, 'SIGUSR1');
  t.deepEqual(c.Shell, ['/bin/sh', '-c']);
  t.deepEqual(c.OnBuild, ['RUN echo triggered > /tmp/onbuild.txt']);
  t.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
  t.deepEqual(c.Cmd, ['cat /app/run.txt /app/hello.txt']);
  t.is(img.Author, 'tester');
  t.regex(img.Parent, /^sha256:[0-9a-f]{64}$/, 'a built image names the image of the step before');

  const out = await cli('run', '--rm', tag);
  t.is(out.code, 0, out.stderr);
  t.is(out.stdout, 'hello from RUN\nhello-from-ctx\n');
  const files = await cli(
    'run',
    '--rm',
    '--user',
    '0',
    tag,
    'cat /extracted/inner.txt /exec.txt; stat -c "%u:%g" /owned.txt; ls /app; test -e /app/ignored.txt || echo no-ignored',
  );
  t.is(files.stdout, 'inside the tar\nexec-form\n65534:65534\nhello.txt\nrun.txt\nno-ignored\n');

  // History: one entry per step, metadata steps as empty layers.
  const history = JSON.parse(
    (await cli('history', '--no-trunc', '--format', '{{json .}}', tag)).stdout.split('\n')[0]!,
  );
  t.regex(history.CreatedBy, /#\(nop\) +CMD \["cat \/app\/run.txt \/app\/hello.txt"\]/);
  const raw = JSON.parse((await cli('image', 'inspect', '-f', '{{json .RootFS.Layers}}', tag)).stdout);
  const base = JSON.parse((await cli('image', 'inspect', '-f', '{{json .RootFS.Layers}}', reg.image)).stdout);
  // WORKDIR, COPY, ADD, RUN, COPY --chown, RUN (exec): one layer each; metadata steps none.
  t.is(raw.length, base.length + 6);

  // A child image runs the ONBUILD trigger.
  const child = await contextDir(t, { Dockerfile: `FROM ${tag}\nRUN ls /tmp\n` });
  const cb = await cli('build', '-t', `child-${uid()}`, child);
  t.is(cb.code, 0, cb.stderr + cb.stdout);
  t.regex(cb.stdout, /# Executing 1 build trigger\n/);
  t.regex(cb.stdout, /onbuild\.txt/);
});

test('a rebuild uses the cache for every step; --no-cache does not; changed files miss from there on', async (t) => {
  const { reg, cli } = await setup();
  const tag = `cache-${uid()}`;
  const dir = await contextDir(t, {
    'a.txt': 'one\n',
    Dockerfile: `FROM ${reg.image}\nENV X=1\nRUN echo ran > /ran\nCOPY a.txt /a.txt\nRUN cat /a.txt\nCMD ["cat", "/a.txt"]\n`,
  });
  const first = await cli('build', '-t', tag, dir);
  t.is(first.code, 0, first.stderr);
  t.is(count(first.stdout, 'Using cache'), 0);
  const id1 = (await cli('image', 'inspect', '-f', '{{.Id}}', tag)).stdout.trim();

  const again = await cli('build', '-t', tag, dir);
  t.is(again.code, 0, again.stderr);
  t.is(count(again.stdout, ' ---> Using cache\n'), 5, again.stdout);
  t.notRegex(again.stdout, /Running in/);
  t.is((await cli('image', 'inspect', '-f', '{{.Id}}', tag)).stdout.trim(), id1);

  const nocache = await cli('build', '--no-cache', '-t', tag, dir);
  t.is(nocache.code, 0, nocache.stderr);
  t.is(count(nocache.stdout, 'Using cache'), 0);
  t.not((await cli('image', 'inspect', '-f', '{{.Id}}', tag)).stdout.trim(), id1);

  await writeFile(join(dir, 'a.txt'), 'two\n');
  const changed = await cli('build', '-t', tag, dir);
  t.is(changed.code, 0, changed.stderr);
  t.is(count(changed.stdout, 'Using cache'), 2, changed.stdout);
  t.is((await cli('run', '--rm', tag)).stdout, 'two\n');
});

test('a failing RUN names its command and exit code, and skiffd keeps serving', async (t) => {
  const { reg, cli, host } = await setup();
  const dir = await contextDir(t, { Dockerfile: `FROM ${reg.image}\nRUN echo before\nRUN exit 3\nRUN echo never\n` });
  const b = await cli('build', '-t', `fail-${uid()}`, dir);
  t.is(b.code, 3, b.stdout);
  t.regex(b.stderr + b.stdout, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
  t.notRegex(b.stdout, /never/);
  // `false` exits 1, as `docker build` then does.
  const f = await contextDir(t, { Dockerfile: `FROM ${reg.image}\nRUN false\n` });
  const bf = await cli('build', '--force-rm', f);
  t.is(bf.code, 1);
  t.regex(bf.stderr, /The command '\/bin\/sh -c false' returned a non-zero code: 1/);
  // Quiet: the held-back step output and the error come in-band (exit code kept), as dockerd sends them.
  const quiet = await cli('build', '-q', dir);
  t.is(quiet.code, 3, quiet.stderr);
  t.is(quiet.stdout, '');
  t.regex(
    quiet.stderr,
    /Step 2\/4 : RUN echo before\n ---> Using cache\n[^]*Step 3\/4 : RUN exit 3\n[^]*The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/,
  );
  // As dockerd: the failed step's container stays unless --force-rm; --rm=false keeps every one.
  const ran = (out: string) => [...out.matchAll(/Running in ([0-9a-f]{12})/g)].map((m) => m[1]!);
  const ctrExists = async (id: string) => (await cli('container', 'inspect', id)).code === 0;
  const [, failedId] = ran(b.stdout);
  t.true(await ctrExists(failedId!));
  t.false(await ctrExists(ran(bf.stdout)[0]!));
  const kept = await cli('build', '--rm=false', await contextDir(t, { Dockerfile: `FROM ${reg.image}\nRUN true\n` }));
  t.is(kept.code, 0, kept.stderr);
  t.true(await ctrExists(ran(kept.stdout)[0]!));
  await cli('rm', '-f', failedId!, ran(kept.stdout)[0]!);
  t.is((await api(host, 'GET', '/_ping')).status, 200);
});

test('bad input: malformed Dockerfiles, unknown target, missing Dockerfile, bad platform → clear errors', async (t) => {
  const { reg, cli, host } = await setup();
  const err = async (files: Record<string, string>, ...args: string[]) => {
    const dir = await contextDir(t, files);
    const r = await cli('build', ...args, dir);
    t.not(r.code, 0);
    return r.stderr;
  };
  t.regex(
    await err({ Dockerfile: `FROM ${reg.image}\nBOGUS thing\n` }),
    /dockerfile parse error line 2: unknown instruction: BOGUS/,
  );
  t.regex(await err({ Dockerfile: `FROM ${reg.image}\nENV A=1 B\n` }), /line 2: Syntax error - can't find = in "B"/);
  t.regex(await err({ Dockerfile: `FROM ${reg.image}\nCOPY only\n` }), /COPY requires at least two arguments/);
  t.regex(await err({ Dockerfile: 'RUN echo no from\n' }), /no build stage in current context/);
  t.regex(
    await err({ Dockerfile: `FROM ${reg.image} AS a\n` }, '--target', 'nope'),
    /failed to reach build target nope/,
  );
  t.regex(await err({ Dockerfile: `FROM ${reg.image}\n` }, '--platform', 'linux/arm64'), /not supported/);
  t.regex(await err({ Dockerfile: `FROM --platform=linux/arm64 ${reg.image}\n` }), /not supported/);
  t.regex(await err({ 'other.txt': 'x' }), /Dockerfile/);
  t.regex(await err({ Dockerfile: `FROM ${reg.image}\nCOPY missing.txt /\n` }), /missing\.txt/);
  t.regex(await err({ Dockerfile: 'FROM 127.0.0.1:1/nothing/here\n' }), /127\.0\.0\.1:1/);
  // What the daemon says when the context has no such Dockerfile (the CLI checks its own side first;
  // dockerd 20.10 answers 500 there).
  const noFile = await api(
    host,
    'POST',
    '/v1.41/build?dockerfile=sub%2FNope',
    tarOf([{ name: 'a.txt', content: 'x' }]),
    {
      headers: { 'content-type': 'application/x-tar' },
    },
  );
  t.true(noFile.status >= 400, noFile.body);
  t.regex(noFile.body, /Cannot locate specified Dockerfile: sub\/Nope/);
  const empty = await api(host, 'POST', '/v1.41/build', tarOf([{ name: 'Dockerfile', content: '' }]), {
    headers: { 'content-type': 'application/x-tar' },
  });
  t.is(empty.status, 400);
  t.regex(empty.body, /cannot be empty/);
  const badTag = await api(
    host,
    'POST',
    '/v1.41/build?t=Bad%20Name',
    tarOf([{ name: 'Dockerfile', content: `FROM ${reg.image}\n` }]),
    {
      headers: { 'content-type': 'application/x-tar' },
    },
  );
  t.is(badTag.status, 400, badTag.body);
  const squash = await api(
    host,
    'POST',
    '/v1.41/build?squash=1',
    tarOf([{ name: 'Dockerfile', content: `FROM ${reg.image}\n` }]),
    {
      headers: { 'content-type': 'application/x-tar' },
    },
  );
  t.is(squash.status, 400);
  t.regex(squash.body, /squash is only supported with experimental mode/);
  const badJson = await api(host, 'POST', '/v1.41/build?buildargs=%7Bnot', Buffer.alloc(1024), {
    headers: { 'content-type': 'application/x-tar' },
  });
  t.is(badJson.status, 400);
  t.is((await api(host, 'GET', '/_ping')).status, 200);
});

test('builds work on the vfs storage driver too', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('vfs'), registry()]);
  const cli = (...args: string[]) => docker(args, { host: d.dockerHost, env: LEGACY, timeoutMs: 240_000 });
  const tag = `vfs-${uid()}`;
  const dir = await contextDir(t, {
    'a.txt': 'from-context\n',
    Dockerfile: `FROM ${reg.image}\nWORKDIR /w\nCOPY a.txt .\nRUN rm /bin/ls && cat a.txt > b.txt\nCMD ["cat", "/w/b.txt"]\n`,
  });
  const b = await cli('build', '-t', tag, dir);
  t.is(b.code, 0, b.stderr + b.stdout);
  t.is((await cli('run', '--rm', tag)).stdout, 'from-context\n');
  t.not((await cli('run', '--rm', tag, 'ls')).code, 0, 'the deletion is a whiteout in the RUN layer');
  const again = await cli('build', '-t', tag, dir);
  t.is(count(again.stdout, ' ---> Using cache\n'), 4, again.stdout);
});

test('a client that goes away cancels the build: the RUN container is killed', async (t) => {
  const { reg, host, cli } = await setup();
  const dir = await contextDir(t, { Dockerfile: `FROM ${reg.image}\nRUN sleep 600\n` });
  const { child, id } = await buildUntilRunning(t, host, dir);
  child.kill('SIGKILL');
  let state = '';
  for (let i = 0; i < 100 && state !== 'exited'; i++) {
    if (i) await sleep(200);
    state = (await cli('container', 'inspect', '-f', '{{.State.Status}}', id)).stdout.trim();
  }
  t.is(state, 'exited');
  t.is((await api(host, 'GET', '/_ping')).status, 200);
  await cli('rm', '-f', id);
});

test('a hostile context is refused with 400 and writes nothing outside its directory', async (t) => {
  const { d, reg, host } = await setup();
  const marker = `escape-${uid()}`;
  const post = (entries: Parameters<typeof tarOf>[0]) =>
    api(
      host,
      'POST',
      '/v1.41/build?t=hostile',
      tarOf([{ name: 'Dockerfile', content: `FROM ${reg.image}\nCOPY . /ctx/\n` }, ...entries]),
      {
        headers: { 'content-type': 'application/x-tar' },
        timeoutMs: 120_000,
      },
    );
  const up = await post([{ name: `../../${marker}`, content: 'x' }]);
  t.is(up.status, 400, up.body);
  const viaLink = await post([
    { name: 'link', linkname: d.root },
    { name: `link/${marker}`, content: 'x' },
  ]);
  t.true(viaLink.status === 400 || viaLink.status === 200, viaLink.body);
  for (const dir of [d.root, join(d.root, 'tmp'), join(d.root, '..')])
    t.false(await exists(join(dir, marker)), `${dir}/${marker}`);
  t.is((await api(host, 'GET', '/_ping')).status, 200);
});

test('ADD downloads a URL (from a loopback server) and COPY/ADD of missing sources fail clearly', async (t) => {
  const { reg, cli } = await setup();
  const server = createServer((req, res) => {
    if (req.url === '/file.txt') res.end('downloaded-content\n');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const tag = `add-url-${uid()}`;
  const dir = await contextDir(t, {
    Dockerfile: `FROM ${reg.image}\nADD http://127.0.0.1:${port}/file.txt /downloaded.txt\nCMD ["cat", "/downloaded.txt"]\n`,
  });
  const b = await cli('build', '-t', tag, dir);
  t.is(b.code, 0, b.stderr + b.stdout);
  t.is((await cli('run', '--rm', tag)).stdout, 'downloaded-content\n');
  const missing = await contextDir(t, { Dockerfile: `FROM ${reg.image}\nADD http://127.0.0.1:${port}/nope /x\n` });
  const m = await cli('build', missing);
  t.not(m.code, 0);
  t.regex(m.stderr, /404|Not Found/i);
});

test('multi-stage: --target, COPY --from a stage and an image, build args, several -t, -f in a subdirectory', async (t) => {
  const { reg, cli } = await setup();
  const [t1, t2] = [`multi-${uid()}:one`, `multi-${uid()}:two`];
  const dir = await contextDir(t, {
    'sub/Build.dockerfile': `ARG BASE
FROM \${BASE} AS builder
ARG WHO=default
RUN echo "built by $WHO" > /artifact && echo "proxy=$HTTP_PROXY" > /proxy
FROM builder AS extra
RUN echo extra > /extra
FROM scratch AS final
COPY --from=builder /artifact /proxy /
COPY --from=0 /bin/busybox /bin/busybox
COPY --from=${reg.image} /bin/busybox /bin/sh
CMD ["/bin/busybox", "cat", "/artifact"]
FROM builder AS never
RUN exit 1
`,
  });
  const b = await cli(
    'build',
    '-f',
    join(dir, 'sub/Build.dockerfile'),
    '--build-arg',
    `BASE=${reg.image}`,
    '--build-arg',
    'WHO=tester',
    '--build-arg',
    'UNUSED=1',
    '--build-arg',
    'HTTP_PROXY=http://proxy.invalid:3128',
    '--compress',
    '--target',
    'final',
    '-t',
    t1,
    '-t',
    t2,
    dir,
  );
  t.is(b.code, 0, b.stderr + b.stdout);
  t.regex(b.stdout, /\[Warning\] One or more build-args \[UNUSED\] were not consumed/);
  t.regex(b.stdout, new RegExp(`Successfully tagged ${t1}\\n`));
  t.regex(b.stdout, new RegExp(`Successfully tagged ${t2}\\n`));
  t.notRegex(b.stdout, /exit 1/);
  const id1 = (await cli('image', 'inspect', '-f', '{{.Id}}', t1)).stdout.trim();
  t.is((await cli('image', 'inspect', '-f', '{{.Id}}', t2)).stdout.trim(), id1);
  const out = await cli('run', '--rm', t1);
  t.is(out.stdout, 'built by tester\n', out.stderr);
  // Proxy args reach RUN without an ARG, and stay out of the history.
  t.is(
    (await cli('run', '--rm', '--entrypoint', '/bin/busybox', t1, 'cat', '/proxy')).stdout,
    'proxy=http://proxy.invalid:3128\n',
  );
  const t3 = `multi-${uid()}:builder`;
  const builder = await cli(
    'build',
    '-f',
    join(dir, 'sub/Build.dockerfile'),
    '--build-arg',
    `BASE=${reg.image}`,
    '--build-arg',
    'WHO=tester',
    '--build-arg',
    'HTTP_PROXY=http://proxy.invalid:3128',
    '--target',
    'builder',
    '-t',
    t3,
    dir,
  );
  t.is(count(builder.stdout, ' ---> Using cache\n'), 2, builder.stdout);
  const history = (await cli('history', '--no-trunc', '--format', '{{.CreatedBy}}', t3)).stdout;
  t.regex(history, /\|1 WHO=tester \/bin\/sh -c echo "built by \$WHO"/);
  t.notRegex(history, /proxy\.invalid/);
  // The final stage has only the copied files: no /bin/ls.
  const ls = await cli('run', '--rm', '--entrypoint', '/bin/ls', t1);
  t.not(ls.code, 0);
});

test('quiet builds print the image ID; labels from the request are set; the unset-DOCKER_BUILDKIT CLI works', async (t) => {
  const { reg, host } = await setup();
  const dir = await contextDir(t, { Dockerfile: `FROM ${reg.image}\nRUN echo loud\n` });
  const iidDir = await mkdtemp(join(tmpdir(), 'skiff-build-iid-'));
  t.teardown(() => rm(iidDir, { recursive: true, force: true }));
  const q = await docker(['build', '-q', '--iidfile', join(iidDir, 'iid'), '--label', 'from=request\'s "$HOME"', dir], {
    host,
    env: LEGACY,
  });
  t.is(q.code, 0, q.stderr);
  t.regex(q.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  t.notRegex(q.stdout, /loud/);
  t.is((await readFile(join(iidDir, 'iid'), 'utf8')).trim(), q.stdout.trim(), '--iidfile gets the ID');
  const labels = await docker(['image', 'inspect', '-f', '{{json .Config.Labels}}', q.stdout.trim()], { host });
  t.deepEqual(JSON.parse(labels.stdout), { from: 'request\'s "$HOME"' }, 'label values are taken literally');
  // No DOCKER_BUILDKIT at all: docker 28 without buildx warns and falls back to this builder.
  const plain = await docker(['build', '--pull', '--iidfile', join(iidDir, 'aux'), dir], { host });
  t.is(plain.code, 0, plain.stderr);
  t.regex(plain.stderr, /legacy builder is deprecated/);
  t.regex(plain.stdout, /Status: Image is up to date for /, '--pull pulls the base image again');
  t.regex(plain.stdout, /Successfully built/);
  t.regex(await readFile(join(iidDir, 'aux'), 'utf8'), /^sha256:[0-9a-f]{64}$/, 'the aux message carries the ID');
  // A Dockerfile on stdin, no context (the CLI wraps it in a tar).
  const stdin = await docker(['build', '-t', `stdin-${uid()}`, '-'], {
    host,
    env: LEGACY,
    stdin: `FROM ${reg.image}\nRUN echo from-stdin\n`,
  });
  t.is(stdin.code, 0, stdin.stderr);
  t.regex(stdin.stdout, /from-stdin\n/);
});

test('the build cache survives a restart and a crash during a build; leftovers are cleaned up', async (t) => {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startRestartableDaemon({ storageDriver: 'overlay', insecureRegistries: [reg.host] });
  t.teardown(() => d.stop());
  const cli = (...args: string[]) => docker(args, { host: d.current.dockerHost, env: LEGACY, timeoutMs: 240_000 });
  const dir = await contextDir(t, {
    'f.txt': 'x\n',
    Dockerfile: `FROM ${reg.image}\nRUN echo a > /a\nCOPY f.txt /f.txt\nLABEL k=v\n`,
  });
  const first = await cli('build', '-t', 'kept:1', dir);
  t.is(first.code, 0, first.stderr);
  await d.restart('sigterm');
  const again = await cli('build', '-t', 'kept:1', dir);
  t.is(again.code, 0, again.stderr);
  t.is(count(again.stdout, ' ---> Using cache\n'), 3, again.stdout);
  // Prune forgets it.
  const prune = await api(d.current.dockerHost, 'POST', '/v1.41/build/prune');
  t.is(prune.status, 200);
  const third = await cli('build', '-t', 'kept:1', dir);
  t.is(count(third.stdout, 'Using cache'), 0);
  // A daemon killed during a build comes back clean and with its cache.
  const slow = await contextDir(t, { Dockerfile: `FROM ${reg.image}\nRUN sleep 600\n` });
  const { child, id } = await buildUntilRunning(t, d.current.dockerHost, slow);
  t.true((await readdir(join(d.current.root, 'tmp'))).some((n) => n.startsWith('build-')));
  await d.restart('sigkill');
  child.kill('SIGKILL');
  await cli('rm', '-f', id);
  const fourth = await cli('build', '-t', 'kept:1', dir);
  t.is(fourth.code, 0, fourth.stderr);
  t.is(count(fourth.stdout, ' ---> Using cache\n'), 3, fourth.stdout);
  // Nothing of the builds (contexts, scratch directories) is left in the daemon's temporary directory.
  const left = await readdir(join(d.current.root, 'tmp')).catch(() => [] as string[]);
  t.deepEqual(
    left.filter((n) => n.startsWith('build-')),
    [],
  );
});

test('RUN uses the network mode of the request (default: the daemon default bridge)', async (t) => {
  const d = await startNetnsDaemon(t);
  const dir = await contextDir(t, {
    Dockerfile: `FROM ${d.image}\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' ' > /nets\nRUN (grep buildhost /etc/hosts || echo no-host) > /hosts\nCMD ["cat", "/nets"]\n`,
  });
  const build = async (...args: string[]) => {
    const tag = `net-${uid()}`;
    const b = await d.cli('build', '--no-cache', ...args, '-t', tag, dir);
    t.is(b.code, 0, b.stderr + b.stdout);
    return (await d.cli('run', '--rm', '--network', 'none', tag)).stdout;
  };
  t.regex(await build(), /eth0 lo/);
  t.is(await build('--network', 'none'), 'lo ');
  const withHost = `net-${uid()}`;
  const h = await d.cli('build', '--no-cache', '--add-host', 'buildhost:10.9.8.7', '-t', withHost, dir);
  t.is(h.code, 0, h.stderr);
  t.regex((await d.cli('run', '--rm', withHost, 'cat', '/hosts')).stdout, /^10\.9\.8\.7\s+buildhost$/m);
  const bad = await d.cli('build', '--no-cache', '--network', 'no-such-net', dir);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /no-such-net/);
});

(hasCompose ? test : test.skip)(
  'docker-compose up --build: a Dockerfile, a named volume and a published port',
  async (t) => {
    const d = await startNetnsDaemon(t);
    const dir = await contextDir(t, {
      'app/Dockerfile': `FROM ${d.image}\nRUN mkdir -p /www && echo built-by-compose > /www/index.html\nEXPOSE 8080\nCMD ["sh", "-c", "cp /www/index.html /data/copied.html; exec httpd -f -p 8080 -h /www"]\n`,
      'docker-compose.yml': `version: "3.9"
services:
  web:
    build: ./app
    ports: ["127.0.0.1:18080:8080"]
    volumes: ["store:/data"]
volumes:
  store: {}
`,
    });
    const project = `b${uid()}`;
    const compose = (...args: string[]) =>
      run('docker-compose', ['-p', project, '-f', join(dir, 'docker-compose.yml'), ...args], {
        env: { ...process.env, DOCKER_HOST: d.host, COMPOSE_INTERACTIVE_NO_CLI: '1', DOCKER_BUILDKIT: '0' },
        cwd: dir,
        timeoutMs: 240_000,
      });
    t.teardown(() => compose('down', '-v', '-t', '0').then(() => undefined));
    const up = await compose('up', '--build', '-d');
    t.is(up.code, 0, up.stderr + up.stdout);
    let got = '';
    for (let i = 0; i < 30 && !got.includes('built-by-compose'); i++) {
      if (i) await new Promise((r) => setTimeout(r, 300));
      got = (await d.inNs('sh', ['-c', "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 127.0.0.1 18080"]))
        .stdout;
    }
    t.regex(got, /built-by-compose/);
    const vol = JSON.parse((await d.cli('volume', 'inspect', `${project}_store`)).stdout)[0];
    t.is(vol.Name, `${project}_store`);
    const copied = await d.cli('run', '--rm', '-v', `${project}_store:/data`, d.image, 'cat', '/data/copied.html');
    t.is(copied.stdout, 'built-by-compose\n');
  },
);
