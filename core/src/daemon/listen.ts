import { chmod, mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { StartupError } from './engine.js';

function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Listens on a unix socket created with mode 0660 (never world-accessible, not even briefly). */
export async function listenUnix(app: FastifyInstance, host: string): Promise<string> {
  const path = host.replace(/^unix:\/\//, '');
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  if (await inUse(path)) throw new StartupError(`another daemon is already listening on ${path}`);
  await rm(path, { force: true });
  const old = process.umask(0o117);
  try {
    await app.listen({ path });
  } finally {
    process.umask(old);
  }
  await chmod(path, 0o660);
  return path;
}
