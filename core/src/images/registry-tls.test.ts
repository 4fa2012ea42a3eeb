import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { RegistryAgents, readHostTlsFiles } from './registry-tls.js';

test('reads certs.d like dockerd: *.crt CAs, *.cert with its *.key, and refuses orphans', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-certsd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.is(await readHostTlsFiles(join(dir, 'absent')), undefined);

  await writeFile(join(dir, 'b.crt'), 'CA-B');
  await writeFile(join(dir, 'a.crt'), 'CA-A');
  await writeFile(join(dir, 'client.cert'), 'CERT');
  await writeFile(join(dir, 'client.key'), 'KEY');
  await writeFile(join(dir, 'README'), 'ignored');
  t.deepEqual(await readHostTlsFiles(dir), { ca: ['CA-A', 'CA-B'], cert: 'CERT', key: 'KEY' });

  await writeFile(join(dir, 'lonely.cert'), 'X');
  await t.throwsAsync(readHostTlsFiles(dir), {
    instanceOf: InvalidParameterError,
    message: /missing key lonely\.key for client certificate lonely\.cert/,
  });
  await rm(join(dir, 'lonely.cert'));
  await writeFile(join(dir, 'orphan.key'), 'X');
  await t.throwsAsync(readHostTlsFiles(dir), {
    message: /missing client certificate orphan\.cert for key orphan\.key/,
  });
});

test('one agent per host, rebuilt when its certs.d directory changes; plain HTTP shares one', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-certsd-'));
  const agents = new RegistryAgents({ certsDir: dir });
  t.teardown(async () => {
    agents.close();
    await rm(dir, { recursive: true, force: true });
  });
  const none = await agents.agentFor(new URL('https://reg.example:5000/'), false);
  t.is(await agents.agentFor(new URL('https://other.example/'), false), none);
  t.is(await agents.agentFor(new URL('https://../escape/'), false), none);
  await mkdir(join(dir, 'reg.example:5000'));
  await writeFile(join(dir, 'reg.example:5000', 'ca.crt'), 'not really a PEM');
  const withCa = await agents.agentFor(new URL('https://reg.example:5000/'), false);
  t.not(withCa, none);
  t.is(await agents.agentFor(new URL('https://reg.example:5000/'), false), withCa);
  await writeFile(join(dir, 'reg.example:5000', 'extra.crt'), 'another');
  t.not(await agents.agentFor(new URL('https://reg.example:5000/'), false), withCa);
  const plain = await agents.agentFor(new URL('http://reg.example:5000/'), true);
  t.is(await agents.agentFor(new URL('http://other.example/'), true), plain);
  t.not(plain, withCa);
});
