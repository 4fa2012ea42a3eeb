import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CommandError, run, runOk } from './proc.js';

/** Bump when the image recipe changes, so cached layouts built by an older recipe are not reused. */
export const BUSYBOX_BUILDER_VERSION = '1';
export const BUSYBOX_BINARY = '/bin/busybox';
export const IMAGE_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The tag inside the OCI layout. */
export const LAYOUT_TAG = 'latest';

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export function fixturesDir(): string {
  return path.join(os.tmpdir(), 'skiff-fixtures');
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

let cached: Promise<string> | undefined;

/**
 * Path of an OCI image layout (tag `latest`) holding a busybox image built from Debian's
 * busybox-static: `/bin/busybox`, one symlink per applet in /bin, `Cmd ["sh"]`, `Env [PATH=…]`.
 * Built once and cached under `os.tmpdir()/skiff-fixtures/busybox-<hash>`, keyed by the binary
 * and the builder version. Parallel builders (ava workers) each build into their own temp dir and
 * rename it into place; the loser of the rename discards its copy.
 */
export function busyboxLayout(): Promise<string> {
  cached ??= buildOrReuse().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function buildOrReuse(): Promise<string> {
  if (!existsSync(BUSYBOX_BINARY)) {
    throw new CommandError(`${BUSYBOX_BINARY} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  }
  const key = createHash('sha256')
    .update(await sha256File(BUSYBOX_BINARY))
    .update(`builder-${BUSYBOX_BUILDER_VERSION}-${process.arch}`)
    .digest('hex')
    .slice(0, 16);
  const finalDir = path.join(fixturesDir(), `busybox-${key}`);
  if (existsSync(path.join(finalDir, 'index.json'))) return finalDir;

  await mkdir(fixturesDir(), { recursive: true });
  const work = `${finalDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await buildLayout(work);
    try {
      await rename(path.join(work, 'layout'), finalDir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Another worker won the race; its layout is as good as ours.
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(path.join(finalDir, 'index.json'))) throw e;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return finalDir;
}

async function buildLayout(work: string): Promise<void> {
  const layout = path.join(work, 'layout');
  const bundle = path.join(work, 'bundle');
  const image = `${layout}:${LAYOUT_TAG}`;
  await mkdir(work, { recursive: true });
  await runOk('umoci', ['init', '--layout', layout]);
  await runOk('umoci', ['new', '--image', image]);
  await runOk('umoci', ['unpack', '--image', image, bundle]);
  await populateRootfs(path.join(bundle, 'rootfs'));
  await runOk('umoci', ['repack', '--image', image, bundle]);
  await runOk('umoci', [
    'config',
    '--image',
    image,
    '--config.cmd',
    'sh',
    '--config.env',
    IMAGE_PATH_ENV,
    '--os',
    'linux',
    '--architecture',
    GO_ARCH[process.arch] ?? process.arch,
    '--author',
    'skiff test harness',
  ]);
  await runOk('umoci', ['gc', '--layout', layout]);
}

async function populateRootfs(rootfs: string): Promise<void> {
  for (const d of ['bin', 'dev', 'etc', 'home', 'proc', 'root', 'sys', 'usr/bin', 'var']) {
    await mkdir(path.join(rootfs, d), { recursive: true });
  }
  await mkdir(path.join(rootfs, 'tmp'), { recursive: true });
  await chmod(path.join(rootfs, 'tmp'), 0o1777);
  await chmod(path.join(rootfs, 'root'), 0o700);
  await copyFile(BUSYBOX_BINARY, path.join(rootfs, 'bin/busybox'));
  await chmod(path.join(rootfs, 'bin/busybox'), 0o755);
  const list = await runOk(BUSYBOX_BINARY, ['--list']);
  for (const applet of list.stdout.split('\n').map((s) => s.trim())) {
    if (!applet || applet === 'busybox' || applet.includes('/')) continue;
    await symlink('busybox', path.join(rootfs, 'bin', applet));
  }
  await writeFile(
    path.join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
  );
  await writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

export interface PushOptions {
  /** Manifest format written to the registry: OCI (default, as built) or Docker schema 2. */
  format?: 'oci' | 'v2s2';
}

/** Copies the layout's `latest` image to `docker://<ref>` over plain HTTP with skopeo. */
export async function pushImage(layout: string, ref: string, opts: PushOptions = {}): Promise<void> {
  const args = ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false'];
  if (opts.format === 'v2s2') args.push('--format', 'v2s2');
  args.push(`oci:${layout}:${LAYOUT_TAG}`, `docker://${ref}`);
  await runOk('skopeo', args, { timeoutMs: 120_000 });
}

/** `skopeo inspect` of a registry image (plain HTTP), parsed. */
export async function inspectRemote(ref: string, raw = false): Promise<Record<string, unknown>> {
  const args = ['--insecure-policy', 'inspect', '--tls-verify=false'];
  if (raw) args.push('--raw');
  args.push(`docker://${ref}`);
  const r = await run('skopeo', args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new CommandError(`skopeo inspect docker://${ref} failed: ${r.stderr.trim()}`, r);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
