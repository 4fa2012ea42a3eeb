import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { run, sleep } from '../harness/index.js';
import { startNetnsDaemon, uid } from '../harness/netns-daemon.js';

// docker-compose 1.29 (Debian `docker-compose`) against a skiffd in its own network namespace.

const hasCompose = (await run('sh', ['-c', 'command -v docker-compose'])).code === 0;
const maybe = hasCompose ? test : test.skip;

maybe(
  'docker-compose up: services reach each other by name, a published port answers, down removes everything',
  async (t) => {
    const d = await startNetnsDaemon(t);
    const dir = await mkdtemp(join(tmpdir(), 'skiff-compose-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const project = `p${uid()}`;
    await writeFile(
      join(dir, 'docker-compose.yml'),
      `version: "3.9"
services:
  web:
    image: ${d.image}
    command: ["sh", "-c", "echo hello-compose > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
    ports: ["127.0.0.1::8080"]
  client:
    image: ${d.image}
    command: ["sleep", "600"]
    depends_on: [web]
    links: ["web:frontend"]
`,
    );
    const compose = (...args: string[]) =>
      run('docker-compose', ['-p', project, '-f', join(dir, 'docker-compose.yml'), ...args], {
        env: { ...process.env, DOCKER_HOST: d.host, COMPOSE_INTERACTIVE_NO_CLI: '1' },
        cwd: dir,
        timeoutMs: 180_000,
      });
    t.teardown(() => compose('down', '-t', '0').then(() => undefined));
    const up = await compose('up', '-d');
    t.is(up.code, 0, up.stderr);

    const net = JSON.parse((await d.cli('network', 'inspect', `${project}_default`)).stdout)[0];
    t.is(net.Labels['com.docker.compose.project'], project);
    t.is(Object.keys(net.Containers).length, 2);

    // By service name, from the other service (the server may still be starting).
    let got = '';
    for (let i = 0; i < 20 && !got.includes('hello-compose'); i++) {
      if (i) await sleep(200);
      const r = await compose(
        'exec',
        '-T',
        'client',
        'sh',
        '-c',
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 web 8080",
      );
      got = r.stdout + r.stderr;
    }
    t.regex(got, /200 OK[\s\S]*hello-compose/);
    // A legacy link's alias, for the linking service only (as dockerd's embedded DNS answers it).
    const viaLink = await compose('exec', '-T', 'client', 'nslookup', 'frontend');
    t.regex(viaLink.stdout, /Name:\s+frontend\s+Address:? \d+\.\d+\.\d+\.\d+/, viaLink.stdout + viaLink.stderr);
    const fromWeb = await compose('exec', '-T', 'web', 'nslookup', 'frontend');
    t.notRegex(fromWeb.stdout, /Name:\s+frontend/);

    const port = await compose('port', 'web', '8080');
    const m = /^127\.0\.0\.1:(\d+)$/m.exec(port.stdout);
    t.truthy(m, `docker-compose port: ${port.stdout} ${port.stderr}`);
    const fromHost = await d.inNs('busybox', ['nc', '-w', '3', '127.0.0.1', m![1]!], {
      stdin: 'GET / HTTP/1.0\r\n\r\n',
    });
    t.regex(fromHost.stdout, /hello-compose/);

    const down = await compose('down', '-t', '0');
    t.is(down.code, 0, down.stderr);
    t.is((await d.cli('ps', '-aq')).stdout.trim(), '');
    t.is((await d.cli('network', 'inspect', `${project}_default`)).code, 1);
    const links = JSON.parse((await d.inNs('ip', ['-j', 'link', 'show'])).stdout) as { ifname: string }[];
    t.deepEqual(
      links.map((l) => l.ifname).filter((n) => n !== 'lo' && n !== 'skiff0'),
      [],
      'no veth or bridge is left',
    );
  },
);
