import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Test helpers: a real Distribution registry (Debian's `docker-registry`) on a free loopback
 * port, and tiny images built with `umoci` and pushed with `skopeo`.
 */

const run = promisify(execFile);
const REGISTRY_BIN = '/usr/bin/docker-registry';
const START_TIMEOUT_MS = 20_000;

export interface RegistryFixture {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Temporary directory holding the config and the registry's storage. */
  root: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves once the registry logs that it listens; rejects if it exits (e.g. port taken) or stalls. */
function waitListening(child: ChildProcess, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(
      () => done(new Error(`docker-registry did not start within ${START_TIMEOUT_MS}ms:\n${log}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-8192);
      if (log.includes(`listening on ${host}`)) done();
    };
    const onExit = (code: number | null, sig: NodeJS.Signals | null) =>
      done(new Error(`docker-registry exited (${code ?? sig}) before listening:\n${log}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining so a chatty registry never blocks on a full pipe.
      child.stderr?.resume();
      if (err) reject(err);
      else resolve();
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Starts `docker-registry serve` with filesystem storage in a fresh temp dir on 127.0.0.1. */
export async function startRegistry(): Promise<RegistryFixture> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-registry-'));
  let lastError: unknown;
  // A free port can be taken between probing and binding by a parallel test: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config = join(root, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: info',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(root, 'data')}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: ${host}`,
        '  secret: skiff-test-registry',
        '',
      ].join('\n'),
    );
    const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await waitListening(child, host);
    } catch (err) {
      lastError = err;
      await stopChild(child);
      continue;
    }
    return {
      host,
      root,
      async stop() {
        await stopChild(child);
        await rm(root, { recursive: true, force: true });
      },
    };
  }
  await rm(root, { recursive: true, force: true });
  throw lastError;
}

export interface TinyImageOptions {
  /** Files to add, path inside the image → content. Default: `/hello.txt`. */
  files?: Record<string, string>;
  architecture?: string;
  /** `oci` (default) or `v2s2` (Docker schema 2). */
  format?: 'oci' | 'v2s2';
  cmd?: string[];
}

/**
 * Builds an image with umoci (one layer per file) and pushes it with skopeo to
 * `<host>/<name>:<tag>`. Returns the manifest digest skopeo reports.
 */
export async function pushTinyImage(
  host: string,
  name: string,
  tag: string,
  options: TinyImageOptions = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-umoci-'));
  try {
    const layout = join(dir, 'oci');
    const image = `${layout}:${tag}`;
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', image]);
    const files = options.files ?? { '/hello.txt': `hello from ${name}:${tag}\n` };
    let i = 0;
    for (const [target, content] of Object.entries(files)) {
      const src = join(dir, `file-${i++}`);
      await writeFile(src, content);
      await run('umoci', ['insert', '--image', image, src, target]);
    }
    const configArgs = ['config', '--image', image, '--os', 'linux'];
    if (options.architecture) configArgs.push('--architecture', options.architecture);
    for (const c of options.cmd ?? []) configArgs.push('--config.cmd', c);
    await run('umoci', configArgs);
    const digestFile = join(dir, 'digest');
    const copyArgs = ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', '--digestfile', digestFile];
    if (options.format === 'v2s2') copyArgs.push('--format', 'v2s2');
    copyArgs.push(`oci:${image}`, `docker://${host}/${name}:${tag}`);
    await run('skopeo', copyArgs);
    return (await readFile(digestFile, 'utf8')).trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
