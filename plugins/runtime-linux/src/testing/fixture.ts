import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEntry, Runtime } from '@skiff/core/plugin-api';
import { buildOciSpec, type OciSpecInput } from '../../../../core/dist/containers/oci-spec.js';
import { LinuxRuntime } from '../linux-runtime.js';

const BUSYBOX = '/bin/busybox';
let applets: string[] | undefined;

/** A root filesystem made of the host's static busybox and its applet symlinks. */
export async function busyboxRootfs(dir: string): Promise<void> {
  applets ??= execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox');
  await mkdir(join(dir, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'etc', 'tmp', 'root']) await mkdir(join(dir, d), { recursive: true });
  await copyFile(BUSYBOX, join(dir, 'bin/busybox'));
  await Promise.all(applets.map((a) => symlink('busybox', join(dir, 'bin', a))));
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\nwheel:x:10:root\nnogroup:x:65534:\n');
}

export interface Fixture {
  /** Unique task id. */
  id: string;
  base: string;
  bundle: string;
  logPath: string;
  stateDir: string;
  runtime: LinuxRuntime;
  /** Writes config.json for `args` (and input overrides) into the bundle. */
  writeConfig(args: string[], over?: Partial<OciSpecInput>): Promise<void>;
  /** Creates the task from the bundle (no terminal, no stdin). */
  create(): Promise<{ pid: number }>;
  /** A second runtime on the same state dir and binary: what a restarted daemon would construct. */
  reopen(): LinuxRuntime;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export async function fixture(t: Teardown, opts: { stateDir?: string; binary?: string } = {}): Promise<Fixture> {
  const id = `skiff-t-${randomBytes(6).toString('hex')}`;
  const base = await mkdtemp(join(tmpdir(), 'skiff-rt-'));
  const bundle = join(base, 'bundle');
  const rootfs = join(bundle, 'rootfs');
  await busyboxRootfs(rootfs);
  const stateDir = opts.stateDir ?? join(base, 'state');
  const binary = opts.binary ?? 'runc';
  const logPath = join(base, 'container.log');
  const runtime = new LinuxRuntime({ binary, stateDir });
  const extra: LinuxRuntime[] = [];
  t.teardown(async () => {
    await runtime.kill(id, 'KILL', { all: true }).catch(() => {});
    await runtime.wait(id).catch(() => {});
    await runtime.delete(id).catch(() => {});
    for (const r of [runtime, ...extra]) await r.close();
    await rm(base, { recursive: true, force: true });
  });
  return {
    id,
    base,
    bundle,
    logPath,
    stateDir,
    runtime,
    async writeConfig(args, over = {}) {
      const spec = buildOciSpec({
        id,
        rootfs,
        args,
        env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=skifftest'],
        cwd: '/',
        user: { uid: 0, gid: 0, additionalGids: [10] },
        hostname: 'skifftest',
        terminal: false,
        readonlyRootfs: false,
        network: { mode: 'new' },
        cgroupsPath: `/skiff-test-${id}`,
        ...over,
      });
      await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
    },
    create() {
      return runtime.create({ id, bundle, terminal: false, stdin: false, logPath });
    },
    reopen() {
      const r = new LinuxRuntime({ binary, stateDir });
      extra.push(r);
      return r;
    },
  };
}

export async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

export function text(entries: LogEntry[], stream?: 'stdout' | 'stderr'): string {
  return entries
    .filter((e) => !stream || e.stream === stream)
    .map((e) => e.data.toString('utf8'))
    .join('');
}

/** create + start + wait; returns the exit code and the whole log. */
export async function run(
  rt: Runtime,
  f: Fixture,
  args: string[],
  over: Partial<OciSpecInput> = {},
): Promise<{ exitCode: number; log: LogEntry[] }> {
  await f.writeConfig(args, over);
  await rt.create({ id: f.id, bundle: f.bundle, terminal: over.terminal ?? false, stdin: false, logPath: f.logPath });
  await rt.start(f.id);
  const exit = await rt.wait(f.id);
  const log = await collect(rt.logs(f.id, f.logPath, { follow: false }));
  return { exitCode: exit.exitCode, log };
}
