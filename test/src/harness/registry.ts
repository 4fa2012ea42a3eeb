import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describeExit, ManagedProcess } from './managed-process.js';
import { freePort, sleep } from './proc.js';

export interface Registry {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  port: number;
  /** Temp dir holding the config and the blob storage. */
  dir: string;
  pid: number;
  output(): string;
  /** Stops the registry and deletes its storage. */
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Log to this file and detach (see ManagedProcess); default: in-memory log, stopped with us. */
  logFile?: string;
  /** Give up waiting for /v2/ after this long (default 30 s). */
  timeoutMs?: number;
}

export class RegistryStartError extends Error {
  override name = 'RegistryStartError';
}

function registryConfig(port: number, storage: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storage)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/**
 * Starts Debian's Distribution registry (`docker-registry serve`) on a free loopback port with
 * a temp storage root, no auth and plain HTTP. Resolves once `GET /v2/` answers 200.
 */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skiff-registry-'));
  const config = path.join(dir, 'config.yml');
  let lastError = '';
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      await writeFile(config, registryConfig(port, path.join(dir, 'data')));
      const proc = new ManagedProcess('docker-registry', ['serve', config], { logFile: opts.logFile });
      const ready = await waitReady(port, proc, opts.timeoutMs ?? 30_000);
      if (ready === 'ready') {
        return {
          host: `127.0.0.1:${port}`,
          port,
          dir,
          pid: proc.pid,
          output: () => proc.output(),
          stop: async () => {
            await proc.stop(10_000);
            await rm(dir, { recursive: true, force: true });
          },
        };
      }
      await proc.stop(5_000);
      lastError = `${ready}\n${proc.output()}`;
      if (!/address already in use/i.test(proc.output())) break; // only a port race is worth a retry
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  await rm(dir, { recursive: true, force: true });
  throw new RegistryStartError(`docker-registry did not start: ${lastError.trim()}`);
}

async function waitReady(port: number, proc: ManagedProcess, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.status) return `docker-registry exited (${describeExit(proc.status)})`;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return 'ready';
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return `no answer on 127.0.0.1:${port}/v2/ after ${timeoutMs} ms`;
}
