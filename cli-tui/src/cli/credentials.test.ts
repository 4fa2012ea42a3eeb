import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import {
  convertToHostname,
  CredentialHelperError,
  Credentials,
  encodeAuthHeader,
  HelperStore,
  INDEX_SERVER,
  registryKey,
} from './credentials.js';
import { ConfigFileError, configFilePath, loadConfig, parseConfig } from './docker-config.js';

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-creds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('config path: $DOCKER_CONFIG, else ~/.docker', (t) => {
  t.is(configFilePath({ DOCKER_CONFIG: '/x/y' }), '/x/y/config.json');
  t.is(configFilePath({ HOME: '/home/u' }), '/home/u/.docker/config.json');
  t.is(configFilePath({ DOCKER_CONFIG: '', HOME: '/h' }), '/h/.docker/config.json');
});

test('hostnames and registry keys like docker', (t) => {
  t.is(convertToHostname('https://reg.example:5000/v2/'), 'reg.example:5000');
  t.is(convertToHostname('http://localhost:5000'), 'localhost:5000');
  t.is(convertToHostname('127.0.0.1:5000'), '127.0.0.1:5000');
  t.is(registryKey('docker.io'), INDEX_SERVER);
  t.is(registryKey('127.0.0.1:5000'), '127.0.0.1:5000');
});

test('X-Registry-Auth is base64url JSON of the set fields; no login sends {}', (t) => {
  t.is(encodeAuthHeader(undefined), 'e30=');
  const header = encodeAuthHeader({ username: 'u', password: 'p?>', serveraddress: 'r:1' });
  t.false(/[+/]/.test(header));
  t.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), {
    username: 'u',
    password: 'p?>',
    serveraddress: 'r:1',
  });
});

test('malformed config files are refused with the file named; a missing one is empty', async (t) => {
  const dir = await tempDir(t);
  t.deepEqual(await loadConfig(join(dir, 'none.json')), {});
  t.deepEqual(parseConfig('', 'f'), {});
  for (const text of [
    '{',
    '[]',
    '{"auths": 3}',
    '{"auths": {"a": "b"}}',
    '{"credsStore": 1}',
    '{"credHelpers": {"a": 1}}',
  ]) {
    const err = t.throws(() => parseConfig(text, '/c.json'), { instanceOf: ConfigFileError });
    t.true(err?.message.startsWith('error loading config file: /c.json: '), err?.message);
  }
});

test('the file store keeps other fields, writes 0600 atomically, finds entries by hostname', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      psFormat: 'table {{.ID}}',
      auths: { 'https://old.example/v1/': { auth: Buffer.from('a:b').toString('base64') } },
    }),
  );
  const creds = await Credentials.load(file, {});
  t.like(await creds.get('old.example'), { username: 'a', password: 'b', serveraddress: 'https://old.example/v1/' });
  t.is(await creds.get('other.example'), undefined);
  await creds.storeFor('r:5000').store({ serveraddress: 'r:5000', username: 'me', password: 'pa:ss' });
  const saved = JSON.parse(await readFile(file, 'utf8'));
  t.is(saved.psFormat, 'table {{.ID}}');
  t.is(saved.auths['r:5000'].auth, Buffer.from('me:pa:ss').toString('base64'));
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.like(await (await Credentials.load(file, {})).get('r:5000'), { username: 'me', password: 'pa:ss' });
  await creds.storeFor('r:5000').erase('r:5000');
  t.false('r:5000' in JSON.parse(await readFile(file, 'utf8')).auths);
});

async function stubHelper(t: ExecutionContext, body: string): Promise<{ env: NodeJS.ProcessEnv; name: string }> {
  const dir = await tempDir(t);
  const name = 'unittest';
  await writeFile(join(dir, `docker-credential-${name}`), `#!/bin/sh\n${body}\n`);
  await chmod(join(dir, `docker-credential-${name}`), 0o755);
  return { env: { PATH: `${dir}:${process.env.PATH}` }, name };
}

test('credHelpers win over credsStore; a helper answers get, store and erase', async (t) => {
  const dir = await tempDir(t);
  const log = join(dir, 'log');
  const { env, name } = await stubHelper(
    t,
    `input=$(cat); echo "$1 $input" >> ${log}
case "$1" in
  get) [ "$input" = "known:1" ] && echo '{"ServerURL":"known:1","Username":"hu","Secret":"hs"}' && exit 0
       [ "$input" = "tok:1" ] && echo '{"ServerURL":"tok:1","Username":"<token>","Secret":"T"}' && exit 0
       echo "credentials not found in native keychain"; exit 1 ;;
  store|erase) exit 0 ;;
esac`,
  );
  const file = join(dir, 'config.json');
  const creds = new Credentials(
    file,
    { credsStore: 'nosuchhelper', credHelpers: { 'known:1': name, 'tok:1': name } },
    env,
  );
  t.is(creds.helperFor('known:1'), name);
  t.is(creds.helperFor('elsewhere:1'), 'nosuchhelper');
  t.like(await creds.get('known:1'), { username: 'hu', password: 'hs' });
  t.like(await creds.get('tok:1'), { identitytoken: 'T' });
  await creds.storeFor('known:1').store({ serveraddress: 'known:1', username: 'a', password: 'b' });
  t.deepEqual(JSON.parse(await readFile(file, 'utf8')).auths, { 'known:1': {} });
  await creds.storeFor('known:1').erase('known:1');
  t.deepEqual(JSON.parse(await readFile(file, 'utf8')).auths, {});
  const calls = await readFile(log, 'utf8');
  t.regex(calls, /^store \{"ServerURL":"known:1","Username":"a","Secret":"b"\}$/m);
  t.regex(calls, /^erase known:1$/m);
  const missing = await t.throwsAsync(creds.get('elsewhere:1'), { instanceOf: CredentialHelperError });
  t.regex(missing?.message ?? '', /docker-credential-nosuchhelper": executable file not found in \$PATH/);
});

test('a helper that fails or prints garbage is an error, not a crash', async (t) => {
  const broken = await stubHelper(t, 'echo "boom"; exit 3');
  const store = new HelperStore(broken.name, new Credentials('/nonexistent/c.json', {}, {}).fileStore, broken.env);
  const err = await t.throwsAsync(store.get('r:1'), { instanceOf: CredentialHelperError });
  t.is(err?.message, 'error getting credentials - err: exit status 3, out: `boom`');
  await t.throwsAsync(store.store({ serveraddress: 'r:1', username: 'u', password: 'p' }), {
    instanceOf: CredentialHelperError,
  });
  const garbage = await stubHelper(t, 'echo "{not json"');
  const store2 = new HelperStore(garbage.name, new Credentials('/nonexistent/c.json', {}, {}).fileStore, garbage.env);
  await t.throwsAsync(store2.get('r:1'), { message: /invalid JSON/ });
});
