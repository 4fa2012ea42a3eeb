import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  type DockerdPeer,
  docker,
  dockerdPeerBinary,
  driverDaemons,
  htpasswdAuthConfig,
  pullIntoPeer,
  type RunResult,
  type Registry,
  skiff,
  startDockerdPeer,
  startRegistry,
} from '../harness/index.js';
import { startNetnsDaemon, uniqueSubnet } from '../harness/netns-daemon.js';

// The skiff CLI's image, network, volume, system, login/logout and plugin commands, each run next
// to the docker CLI against the same daemon: what they print must be the same (ids and ages are
// the daemon's, so equal; only relative ages are normalised, since time passes between the runs).

const CI = process.env.CI === 'true';
const uid = () => randomBytes(4).toString('hex');
const { registry, daemonFor, stopAll } = driverDaemons();
const cleanups: (() => Promise<unknown>)[] = [];
test.after.always(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await stopAll();
});

const peerUnavailable = await dockerdPeerBinary().then(
  () => undefined,
  (e: Error) => e,
);
if (peerUnavailable && !CI) console.log(`dockerd peer tests skipped: ${peerUnavailable.message}`);
const withPeer = peerUnavailable && !CI ? test.skip : test;
let peerP: Promise<DockerdPeer> | undefined;
function peer(): Promise<DockerdPeer> {
  peerP ??= (async () => {
    const reg = await registry();
    const p = await startDockerdPeer({ insecureRegistries: [reg.host] });
    cleanups.push(() => p.stop());
    await pullIntoPeer(p, reg.image);
    return p;
  })();
  return peerP;
}

const AGO = /(Less than a second|About an? \w+|\d+ \w+) ago/g;
/** Ages tick between the two runs and change column widths: with ages, cells are compared, not padding. */
const normalise = (text: string) =>
  text.search(AGO) >= 0 ? text.replace(AGO, '<age> ago').replace(/ {2,}/g, '  ') : text;
/** Usage texts name the program: "Usage:  skiff images …", "Run 'skiff images --help'". */
const asDocker = (text: string) => text.replace(/(Usage: {2}|'|^)skiff([ :])/gm, '$1docker$2');

interface Both {
  docker: RunResult;
  skiff: RunResult;
}

/** Runs the same arguments through both CLIs against `host`. */
async function both(host: string, args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<Both> {
  const opts = { host, env, ...(stdin !== undefined ? { stdin } : {}) };
  const d = await docker(args, { ...opts, env: { DOCKER_BUILDKIT: '0', ...env } });
  const s = await skiff(args, opts);
  return { docker: d, skiff: s };
}

/** Same exit code, same stdout and stderr (ages normalised). */
async function same(t: ExecutionContext, host: string, args: string[], stdin?: string): Promise<Both> {
  const r = await both(host, args, {}, stdin);
  const label = `skiff ${args.join(' ')}`;
  t.is(r.skiff.code, r.docker.code, `${label}: exit code\n${r.skiff.stderr}\n---docker:\n${r.docker.stderr}`);
  t.is(normalise(r.skiff.stdout), normalise(r.docker.stdout), `${label}: stdout`);
  t.is(asDocker(r.skiff.stderr), r.docker.stderr, `${label}: stderr`);
  return r;
}

test('image ls, history, inspect, tag and rmi print what docker prints', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('vfs'), registry()]);
  const repo = `cli-img-${uid()}`;
  const tagged = await skiff(['tag', reg.image, `${repo}:one`], { host: d.dockerHost });
  t.is(tagged.code, 0, tagged.stderr);
  t.is(tagged.stdout, '');
  t.is((await skiff(['image', 'tag', reg.image, `${repo}:two`], { host: d.dockerHost })).code, 0);

  for (const args of [
    ['images', repo],
    ['image', 'ls', repo],
    ['images', '-q', repo],
    ['images', '--no-trunc', repo],
    ['images', '--digests', reg.image],
    ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}', repo],
    ['images', '--format', 'table {{.Repository}}\t{{.Tag}}\t{{.CreatedAt}}', repo],
    ['images', '--filter', `reference=${repo}:one`],
    ['images', '--filter', 'dangling=true', '--filter', `reference=${repo}`],
    ['history', reg.image],
    ['image', 'history', '--no-trunc', '-H=false', reg.image],
    ['history', '-q', reg.image],
    ['history', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', reg.image],
    ['image', 'inspect', '--format', '{{.Id}} {{.Os}}/{{.Architecture}} {{json .RepoTags}}', `${repo}:one`],
  ]) {
    await same(t, d.dockerHost, args);
  }
  // Whole inspect documents: the same objects (docker re-indents the daemon's bytes).
  const inspect = await both(d.dockerHost, ['image', 'inspect', `${repo}:one`]);
  t.is(inspect.skiff.code, 0, inspect.skiff.stderr);
  t.deepEqual(JSON.parse(inspect.skiff.stdout), JSON.parse(inspect.docker.stdout));
  t.regex(inspect.skiff.stdout, /^\[\n {4}\{\n {8}"Id": "sha256:[0-9a-f]{64}",\n/);

  // --format json: the same objects (docker escapes <> as \u003c/\u003e; both are the same JSON).
  const json = await both(d.dockerHost, ['images', '--format', 'json', repo]);
  const rows = (text: string) =>
    text
      .trim()
      .split('\n')
      .map((l) => ({ ...JSON.parse(l), CreatedSince: '' }));
  t.deepEqual(rows(json.skiff.stdout), rows(json.docker.stdout));

  // Bad input: the same errors and exit codes.
  await same(t, d.dockerHost, ['images', '--filter', 'no-equals-sign']);
  await same(t, d.dockerHost, ['image', 'inspect', `${repo}:nosuch`]);
  await same(t, d.dockerHost, ['history', `${repo}:nosuch`]);
  await same(t, d.dockerHost, ['tag', reg.image, 'UPPER/case']);
  await same(t, d.dockerHost, ['rmi', `${repo}:nosuch`]);
  await same(t, d.dockerHost, ['rmi', '-f', `${repo}:nosuch`]);
  const usage = await same(t, d.dockerHost, ['image', 'ls', '--bogus']);
  t.is(usage.skiff.code, 125);

  // rmi: one "Untagged:" line per tag, the image stays while a tag is left.
  const rmOne = await skiff(['rmi', `${repo}:one`], { host: d.dockerHost });
  t.is(rmOne.code, 0, rmOne.stderr);
  t.is(rmOne.stdout, `Untagged: ${repo}:one\n`);
  const rmTwo = await skiff(['image', 'rm', `${repo}:two`], { host: d.dockerHost });
  t.is(rmTwo.stdout, `Untagged: ${repo}:two\n`);
  t.is((await skiff(['images', '-q', repo], { host: d.dockerHost })).stdout, '');
});

test('save, load and import move images through tar archives; bad archives are refused', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-save-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const repo = `cli-save-${uid()}`;
  t.is((await skiff(['tag', reg.image, `${repo}:v1`], { host: d.dockerHost })).code, 0);
  const archive = path.join(dir, 'img.tar');
  const save = await skiff(['save', '-o', archive, `${repo}:v1`], { host: d.dockerHost });
  t.is(save.code, 0, save.stderr);
  t.is(save.stdout, '');
  t.is((await skiff(['rmi', `${repo}:v1`], { host: d.dockerHost })).code, 0);

  const load = await skiff(['load', '-i', archive], { host: d.dockerHost });
  t.is(load.code, 0, load.stderr);
  t.is(load.stdout, `Loaded image: ${repo}:v1\n`);
  const run = await skiff(['run', '--rm', `${repo}:v1`, 'echo', 'loaded'], { host: d.dockerHost });
  t.is(run.stdout, 'loaded\n', run.stderr);

  // The same archive through stdin, and what docker prints for it.
  const stdinLoad = await both(d.dockerHost, ['load'], {}, (await readFile(archive)).toString('latin1'));
  t.is(stdinLoad.skiff.code, stdinLoad.docker.code, stdinLoad.skiff.stderr);

  const missing = await same(t, d.dockerHost, ['load', '-i', path.join(dir, 'nosuch.tar')]);
  t.is(missing.skiff.code, 1);
  const garbage = path.join(dir, 'garbage.tar');
  await writeFile(garbage, randomBytes(4096));
  const bad = await skiff(['load', '-i', garbage], { host: d.dockerHost });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /Error response from daemon|error/i);
  t.is((await skiff(['version'], { host: d.dockerHost })).code, 0, 'the daemon still answers');

  // import: a root filesystem tarball becomes an image with the given changes.
  const rootfs = path.join(dir, 'rootfs');
  await mkdir(path.join(rootfs, 'etc'), { recursive: true });
  await writeFile(path.join(rootfs, 'etc', 'hello'), 'imported\n');
  const { runOk } = await import('../harness/index.js');
  await runOk('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  const imported = await skiff(
    ['import', '-c', 'ENV FROM_IMPORT=yes', '-m', 'from skiff', path.join(dir, 'rootfs.tar'), `${repo}:imported`],
    { host: d.dockerHost },
  );
  t.is(imported.code, 0, imported.stderr);
  t.regex(imported.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  const env = await skiff(['image', 'inspect', '-f', '{{json .Config.Env}}', `${repo}:imported`], {
    host: d.dockerHost,
  });
  t.true(env.stdout.includes('FROM_IMPORT=yes'), env.stdout);
  for (const tag of ['v1', 'imported']) await skiff(['rmi', `${repo}:${tag}`], { host: d.dockerHost });
});

test('image prune and system prune ask first, then print docker’s report', async (t) => {
  const d = await daemonFor('vfs');
  for (const args of [
    ['image', 'prune'],
    ['image', 'prune', '-a'],
    ['system', 'prune'],
    ['volume', 'prune'],
  ]) {
    // "n" (and no answer at all) cancels without touching anything.
    await same(t, d.dockerHost, args, 'n\n');
    await same(t, d.dockerHost, args, '');
  }
  const forced = await same(t, d.dockerHost, ['image', 'prune', '-f']);
  t.is(forced.skiff.stdout, 'Total reclaimed space: 0B\n');
});

test('events print the daemon’s events for a time window like docker events', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('vfs'), registry()]);
  const since = String(Math.floor(Date.now() / 1000) - 1);
  const repo = `cli-events-${uid()}`;
  await skiff(['tag', reg.image, `${repo}:a`], { host: d.dockerHost });
  await skiff(['rmi', `${repo}:a`], { host: d.dockerHost });
  const until = String(Math.floor(Date.now() / 1000) + 1);
  const filter = ['--filter', 'type=image', '--since', since, '--until', until];
  const r = await same(t, d.dockerHost, ['events', ...filter]);
  t.regex(r.skiff.stdout, new RegExp(`^\\S+Z image tag sha256:[0-9a-f]{64} \\(name=${repo}:a\\)$`, 'm'));
  await same(t, d.dockerHost, ['system', 'events', '--format', '{{.Type}} {{.Action}}', ...filter]);
  await same(t, d.dockerHost, ['events', '--format', 'json', ...filter]);
  // A bad time: refused before asking the daemon (docker words it with Go's time layouts).
  const bad = await both(d.dockerHost, ['events', '--since', 'not-a-time', '--until', until]);
  t.is(bad.skiff.code, bad.docker.code);
  t.true(bad.skiff.stderr.includes('"not-a-time"'), bad.skiff.stderr);
});

async function authRegistry(t: ExecutionContext, user: string, password: string): Promise<Registry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-auth-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const reg = await startRegistry({ auth: await htpasswdAuthConfig(dir, { [user]: password }) });
  t.teardown(() => reg.stop());
  return reg;
}

async function configDir(t: ExecutionContext, content: unknown = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'config.json'), `${JSON.stringify(content)}\n`);
  return dir;
}

test('login stores credentials in config.json like docker; push uses them; logout removes them', async (t) => {
  const [d, busybox] = await Promise.all([daemonFor('vfs'), registry()]);
  const user = 'skiffer';
  const password = `pw-${uid()}`;
  const reg = await authRegistry(t, user, password);
  const skiffConfig = await configDir(t);
  const dockerConfig = await configDir(t);
  const login = ['login', '-u', user, '--password-stdin', reg.host];
  const s = await skiff(login, { host: d.dockerHost, env: { DOCKER_CONFIG: skiffConfig }, stdin: password });
  const k = await docker(login, { host: d.dockerHost, env: { DOCKER_CONFIG: dockerConfig }, stdin: password });
  t.is(s.code, 0, s.stderr);
  t.is(s.stdout, k.stdout);
  t.is(s.stdout, 'Login Succeeded\n');
  t.is(s.stderr.replaceAll(skiffConfig, '<config>'), k.stderr.replaceAll(dockerConfig, '<config>'));
  const saved = JSON.parse(await readFile(path.join(skiffConfig, 'config.json'), 'utf8'));
  const dockerSaved = JSON.parse(await readFile(path.join(dockerConfig, 'config.json'), 'utf8'));
  t.deepEqual(saved.auths, dockerSaved.auths);
  t.is(saved.auths[reg.host].auth, Buffer.from(`${user}:${password}`).toString('base64'));

  // The stored login is sent with push (the registry refuses anonymous pushes).
  const target = `${reg.host}/pushed-${uid()}:v1`;
  t.is((await skiff(['tag', busybox.image, target], { host: d.dockerHost })).code, 0);
  const anonymous = await skiff(['push', target], { host: d.dockerHost });
  t.is(anonymous.code, 1, anonymous.stdout);
  const push = await skiff(['push', target], { host: d.dockerHost, env: { DOCKER_CONFIG: skiffConfig } });
  t.is(push.code, 0, `${push.stdout}\n${push.stderr}`);
  t.true(push.stdout.includes(`The push refers to repository [${target.replace(/:v1$/, '')}]`), push.stdout);
  t.regex(push.stdout, /^v1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
  t.is((await skiff(['rmi', target], { host: d.dockerHost })).code, 0);

  // Wrong password, conflicting flags, no terminal to prompt on: docker's errors.
  for (const args of [
    ['login', '-u', user, '--password-stdin', reg.host],
    ['login', '-p', 'x', '--password-stdin', reg.host],
    ['login', '--password-stdin', reg.host],
    ['login', reg.host],
  ]) {
    const r = await both(d.dockerHost, args, { DOCKER_CONFIG: await configDir(t) }, 'wrong');
    t.is(r.skiff.code, r.docker.code, `${args.join(' ')}: ${r.skiff.stderr} / ${r.docker.stderr}`);
    t.is(r.skiff.stderr, r.docker.stderr, args.join(' '));
  }

  const logout = await skiff(['logout', reg.host], { host: d.dockerHost, env: { DOCKER_CONFIG: skiffConfig } });
  t.is(logout.code, 0, logout.stderr);
  t.is(logout.stdout, `Removing login credentials for ${reg.host}\n`);
  t.deepEqual(JSON.parse(await readFile(path.join(skiffConfig, 'config.json'), 'utf8')).auths, {});
});

test('credsStore and credHelpers: credentials go through docker-credential-<name>', async (t) => {
  const [d, busybox] = await Promise.all([daemonFor('vfs'), registry()]);
  const user = 'helper-user';
  const password = `pw-${uid()}`;
  const reg = await authRegistry(t, user, password);
  // A credential helper that keeps its secrets in a JSON file and logs each call.
  const bin = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-helper-'));
  t.teardown(() => rm(bin, { recursive: true, force: true }));
  const helper = `skifftest${uid()}`;
  const store = path.join(bin, 'store.json');
  const log = path.join(bin, 'calls.log');
  const script = `#!/usr/bin/env node
const fs = require('fs');
const action = process.argv[2];
const input = fs.readFileSync(0, 'utf8');
fs.appendFileSync(${JSON.stringify(log)}, action + ' ' + (action === 'store' ? JSON.parse(input).ServerURL : input) + '\\n');
let db = {};
try { db = JSON.parse(fs.readFileSync(${JSON.stringify(store)}, 'utf8')); } catch {}
if (action === 'store') { const c = JSON.parse(input); db[c.ServerURL] = c; }
else if (action === 'get') {
  if (!db[input]) { process.stdout.write('credentials not found in native keychain'); process.exit(1); }
  process.stdout.write(JSON.stringify(db[input]));
} else if (action === 'erase') delete db[input];
fs.writeFileSync(${JSON.stringify(store)}, JSON.stringify(db));
`;
  await writeFile(path.join(bin, `docker-credential-${helper}`), script);
  await chmod(path.join(bin, `docker-credential-${helper}`), 0o755);
  const env = (config: string) => ({ DOCKER_CONFIG: config, PATH: `${bin}:${process.env.PATH}` });

  for (const content of [{ credsStore: helper }, { credHelpers: { [reg.host]: helper } }]) {
    const config = await configDir(t, content);
    const login = await skiff(['login', '-u', user, '--password-stdin', reg.host], {
      host: d.dockerHost,
      env: env(config),
      stdin: password,
    });
    t.is(login.code, 0, login.stderr);
    t.is(login.stdout, 'Login Succeeded\n');
    t.false(login.stderr.includes('unencrypted'), login.stderr);
    const saved = JSON.parse(await readFile(path.join(config, 'config.json'), 'utf8'));
    t.deepEqual(saved.auths, { [reg.host]: {} }, 'only an empty entry: the secret is in the helper');
    t.like(JSON.parse(await readFile(store, 'utf8'))[reg.host], { Username: user, Secret: password });

    const target = `${reg.host}/helper-${uid()}:v1`;
    await skiff(['tag', busybox.image, target], { host: d.dockerHost });
    const push = await skiff(['push', '-q', target], { host: d.dockerHost, env: env(config) });
    t.is(push.code, 0, push.stderr);
    t.is(push.stdout, `${target}\n`);
    await skiff(['rmi', target], { host: d.dockerHost });

    const logout = await skiff(['logout', reg.host], { host: d.dockerHost, env: env(config) });
    t.is(logout.code, 0, logout.stderr);
    t.is(JSON.parse(await readFile(store, 'utf8'))[reg.host], undefined);
    const calls = await readFile(log, 'utf8');
    t.regex(calls, new RegExp(`^store ${reg.host}$`, 'm'));
    t.regex(calls, new RegExp(`^get ${reg.host}$`, 'm'));
    t.regex(calls, new RegExp(`^erase ${reg.host}$`, 'm'));
    await rm(log, { force: true });
  }

  // A helper that does not exist: a clear error, nothing stored.
  const config = await configDir(t, { credsStore: `missing${uid()}` });
  const r = await skiff(['login', '-u', user, '--password-stdin', reg.host], {
    host: d.dockerHost,
    env: env(config),
    stdin: password,
  });
  t.is(r.code, 1);
  t.regex(r.stderr, /Error saving credentials: .*executable file not found in \$PATH/);
});

test('network and volume commands print what docker prints (daemon in its own netns)', async (t) => {
  const d = await startNetnsDaemon(t);
  const { subnet, prefix } = uniqueSubnet();
  const name = `cli-net-${uid()}`;
  const created = await skiff(
    ['network', 'create', '--subnet', subnet, '--gateway', `${prefix}.1`, '--label', 'k=v', name],
    { host: d.host },
  );
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /^[0-9a-f]{64}\n$/);
  for (const args of [
    ['network', 'ls'],
    ['network', 'ls', '-q'],
    ['network', 'ls', '--no-trunc'],
    ['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Labels}} {{.Label "k"}} {{.Internal}}'],
    ['network', 'ls', '--filter', `name=${name}`],
    ['network', 'inspect', '-f', '{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}', name],
    ['network', 'inspect', 'nosuch-network'],
    ['network', 'rm', 'nosuch-network'],
    ['network', 'create', '--gateway', `${prefix}.1`, `gw-only-${uid()}`],
    ['network', 'create', '--subnet', 'not-a-cidr', `bad-${uid()}`],
    ['network', 'create', '--subnet', subnet, '--ip-range', '192.0.2.0/28', `bad-${uid()}`],
    ['network', 'create', '--subnet', subnet, '--subnet', `${prefix}.0/25`, `bad-${uid()}`],
    ['network', 'create', name],
  ]) {
    await same(t, d.host, args);
  }
  const inspect = await both(d.host, ['network', 'inspect', name]);
  t.deepEqual(JSON.parse(inspect.skiff.stdout), JSON.parse(inspect.docker.stdout));

  const box = `cli-box-${uid()}`;
  t.is((await d.cli('create', '--name', box, d.image, 'true')).code, 0);
  const c = await skiff(['network', 'connect', '--alias', 'web', name, box], { host: d.host });
  t.is(c.code, 0, c.stderr);
  const aliases = await d.cli('inspect', '-f', `{{json (index .NetworkSettings.Networks "${name}").Aliases}}`, box);
  t.true(aliases.stdout.includes('"web"'), aliases.stdout);
  const dc = await skiff(['network', 'disconnect', name, box], { host: d.host });
  t.is(dc.code, 0, dc.stderr);
  await same(t, d.host, ['network', 'disconnect', name, box]);
  const rmNet = await skiff(['network', 'rm', name], { host: d.host });
  t.is(rmNet.stdout, `${name}\n`, rmNet.stderr);
  const pruned = `cli-prune-${uid()}`;
  await skiff(['network', 'create', pruned], { host: d.host });
  const prune = await skiff(['network', 'prune', '-f'], { host: d.host });
  t.is(prune.stdout, `Deleted Networks:\n${pruned}\n\n`, prune.stderr);

  const vol = `cli-vol-${uid()}`;
  const vc = await skiff(['volume', 'create', '--label', 'team=cli', vol], { host: d.host });
  t.is(vc.stdout, `${vol}\n`, vc.stderr);
  for (const args of [
    ['volume', 'ls'],
    ['volume', 'ls', '-q'],
    ['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Labels}} {{.Label "team"}} {{.Scope}}'],
    ['volume', 'ls', '--filter', 'label=team=cli'],
    ['volume', 'ls', '--format', 'json', '--filter', `name=${vol}`],
    ['volume', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Labels}}', vol],
    ['volume', 'inspect', 'nosuch-volume'],
    ['volume', 'rm', 'nosuch-volume'],
    ['volume', 'create', '--name', 'a', 'b'],
  ]) {
    await same(t, d.host, args);
  }
  t.is((await skiff(['volume', 'rm', vol], { host: d.host })).stdout, `${vol}\n`);
  const anon = await skiff(['volume', 'create'], { host: d.host });
  t.regex(anon.stdout, /^[0-9a-f]{64}\n$/);
  const vprune = await skiff(['volume', 'prune', '-f'], { host: d.host });
  t.true(vprune.stdout.startsWith('Deleted Volumes:\n'), vprune.stdout);
  t.regex(vprune.stdout, /Total reclaimed space: \S+\n$/);
});

test('plugin ls lists the daemon’s plugins with kinds, versions and capabilities', async (t) => {
  const d = await daemonFor('vfs');
  const r = await skiff(['plugin', 'ls'], { host: d.dockerHost });
  t.is(r.code, 0, r.stderr);
  const [header, ...lines] = r.stdout.trimEnd().split('\n');
  t.regex(header ?? '', /^KIND\s+NAME\s+PACKAGE\s+VERSION\s+STATE\s+CAPABILITIES \/ REASON$/);
  // The storage driver in use has started, so it reports its capabilities.
  t.true(
    lines.some((l) => /^storage\s+vfs\s+@skiff\/storage-vfs\s+\S+\s+loaded\s+.*maxLayers=\d+/.test(l)),
    r.stdout,
  );
  t.true(
    lines.some((l) => /^runtime\s+linux\s+@skiff\/runtime-linux\s+\S+\s+loaded\s+/.test(l)),
    r.stdout,
  );
  t.false(r.stdout.includes('\x1b['), 'no colours when stdout is not a terminal');
  const q = await skiff(['plugin', 'ls', '-q'], { host: d.dockerHost });
  t.true(q.stdout.split('\n').includes('@skiff/storage-vfs'), q.stdout);
  const f = await skiff(['plugin', 'ls', '--format', '{{.Package}} {{.State}}'], { host: d.dockerHost });
  t.true(f.stdout.split('\n').includes('@skiff/storage-vfs loaded'), f.stdout);
  const bad = await skiff(['plugin', 'ls', '--format', '{{.Nope}}'], { host: d.dockerHost });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /template parsing error/);
});

test('build on skiffd: the same steps as docker build, a Dockerfile from -f and stdin, and the step’s exit code', async (t) => {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-build-s-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'data.txt'), `${uid()}\n`);
  await writeFile(path.join(dir, '.dockerignore'), '*.skip\n');
  await writeFile(path.join(dir, 'x.skip'), 'ignored\n');
  await mkdir(path.join(dir, 'files'));
  await writeFile(
    path.join(dir, 'files', 'Build.df'),
    `FROM ${reg.image}\nCOPY . /ctx\nRUN ls /ctx > /listing && cat /listing\nLABEL cli=yes\n`,
  );
  const tag = `cli-sbuild-${uid()}:v1`;
  const args = ['build', '-f', path.join(dir, 'files', 'Build.df'), '-t', tag, dir];
  const first = await skiff(args, { host: d.dockerHost });
  t.is(first.code, 0, `${first.stdout}\n${first.stderr}`);
  t.regex(first.stdout, /^Step 3\/4 : RUN ls \/ctx/m);
  t.regex(first.stdout, /^data\.txt$/m);
  t.false(first.stdout.includes('x.skip'), first.stdout);
  // Rebuilt from cache by both CLIs: the same lines.
  const again = await both(d.dockerHost, args);
  t.is(again.docker.code, 0, again.docker.stderr);
  t.is(again.skiff.code, 0, again.skiff.stderr);
  t.is(again.skiff.stdout, again.docker.stdout);
  t.is(
    (await skiff(['image', 'inspect', '-f', '{{.Config.Labels.cli}}', tag], { host: d.dockerHost })).stdout,
    'yes\n',
  );

  const fromStdin = await skiff(['build', '-'], { host: d.dockerHost, stdin: `FROM ${reg.image}\nRUN exit 4\n` });
  t.is(fromStdin.code, 4, fromStdin.stderr);
  t.regex(fromStdin.stderr, /returned a non-zero code: 4/);
  await skiff(['rmi', tag], { host: d.dockerHost });
});

withPeer('against dockerd: build prints the classic builder’s steps, and plugin ls says it is not skiff', async (t) => {
  const [p, reg] = await Promise.all([peer(), registry()]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-cli-build-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'ignored'));
  await writeFile(path.join(dir, 'ignored', 'secret'), 'no\n');
  await writeFile(path.join(dir, 'kept.txt'), 'yes\n');
  await writeFile(path.join(dir, '.dockerignore'), 'ignored\n');
  await writeFile(
    path.join(dir, 'Dockerfile'),
    `FROM ${reg.image}\nARG GREETING\nCOPY . /ctx\nRUN ls -a /ctx && echo "$GREETING"\nLABEL built.by=cli\n`,
  );
  const tag = `cli-build-${uid()}:v1`;
  const args = ['build', '--build-arg', 'GREETING=hi-there', '-t', tag, dir];
  const s = await skiff(args, { host: p.dockerHost });
  t.is(s.code, 0, `${s.stdout}\n${s.stderr}`);
  const k = await docker(args, { host: p.dockerHost, env: { DOCKER_BUILDKIT: '0' } });
  t.is(k.code, 0, k.stderr);
  // The second build is all cache hits: the same context bytes, so the same steps and ids.
  const cached = await skiff(args, { host: p.dockerHost });
  const strip = (text: string) => text.replace(/Running in [0-9a-f]{12}/g, 'Running in <id>');
  t.is(strip(cached.stdout), strip(k.stdout));
  t.regex(s.stdout, /^Sending build context to Docker daemon {2}\S+\r\r\n/);
  t.regex(s.stdout, /^Step 1\/5 : FROM /m);
  t.regex(s.stdout, /^hi-there$/m);
  t.regex(s.stdout, /^kept\.txt$/m);
  t.false(s.stdout.includes('secret') || /^ignored$/m.test(s.stdout), 'the .dockerignore was applied');
  t.regex(s.stdout, new RegExp(`^Successfully tagged ${tag}$`, 'm'));

  const iidfile = path.join(dir, 'iid');
  const quiet = await skiff(['build', '-q', '--iidfile', iidfile, '--label', 'extra=1', dir], { host: p.dockerHost });
  t.regex(quiet.stdout, /^sha256:[0-9a-f]{64}\n$/, quiet.stderr);
  t.is(await readFile(iidfile, 'utf8'), quiet.stdout.trim());
  const labels = await skiff(['image', 'inspect', '-f', '{{json .Config.Labels}}', quiet.stdout.trim()], {
    host: p.dockerHost,
  });
  t.deepEqual(JSON.parse(labels.stdout), { 'built.by': 'cli', extra: '1' });

  // A failing RUN: docker's message and the step's exit code.
  await writeFile(path.join(dir, 'Dockerfile.fail'), `FROM ${reg.image}\nRUN exit 7\n`);
  const fail = await both(p.dockerHost, ['build', '-f', path.join(dir, 'Dockerfile.fail'), dir]);
  t.is(fail.skiff.code, 7);
  t.is(fail.skiff.code, fail.docker.code);
  t.true(fail.skiff.stderr.includes("The command '/bin/sh -c exit 7' returned a non-zero code: 7"), fail.skiff.stderr);
  // -q: nothing but the id, unless the build fails: then the log goes to stderr, as docker does.
  const quietFail = await both(p.dockerHost, ['build', '-q', '-'], {}, `FROM ${reg.image}\nRUN exit 5\n`);
  t.is(quietFail.skiff.code, 5);
  t.is(quietFail.skiff.stdout, '');
  const log = (text: string) => text.replace(/Running in [0-9a-f]{12}/g, '').replace(/^DEPRECATED[^]*?\n\n/, '');
  t.is(log(quietFail.skiff.stderr), log(quietFail.docker.stderr));
  // A Dockerfile on stdin, and a missing context directory.
  const stdin = await skiff(['build', '-q', '-'], { host: p.dockerHost, stdin: `FROM ${reg.image}\nENV A=1\n` });
  t.is(stdin.code, 0, stdin.stderr);
  const nodir = await both(p.dockerHost, ['build', path.join(dir, 'nosuch')]);
  t.is(nodir.skiff.code, 1);
  t.is(nodir.skiff.code, nodir.docker.code);

  for (const args of [
    ['images', tag],
    ['history', tag],
    ['image', 'inspect', '-f', '{{.Config.Labels}}', tag],
  ]) {
    await same(t, p.dockerHost, args);
  }
  // skiffd has no GET /system/df yet; dockerd has, and the tables must agree.
  for (const args of [
    ['system', 'df'],
    ['system', 'df', '--format', 'json'],
    ['system', 'df', '-v'],
    ['system', 'df', '--format', '{{.Nope}}'],
  ]) {
    await same(t, p.dockerHost, args);
  }
  const plugins = await skiff(['plugin', 'ls'], { host: p.dockerHost });
  t.is(plugins.code, 1);
  t.regex(plugins.stderr, /is not a skiff daemon/);
});
