import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type CpioEntry, cpioArchive } from './cpio.js';
import { SHARE_KINDS, SHARE_MODULES, type ShareKind } from './share.js';
import { vmlinuxFromBzImage } from './vmlinux.js';

const run = promisify(execFile);

export const DEFAULT_ASSETS_DIR = '/var/cache/skiff/vm';
/**
 * Debian's meta package for the kernel; its dependency names the versioned image package. The
 * cloud kernel boots fastest but has no 9p; `linux-image-amd64` has both virtio-fs and 9p.
 */
export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

/**
 * The initramfs's modules by group, in load order (Debian's kernels have virtio, virtio-fs, 9p and
 * fw_cfg as modules). The agent loads `base` always, a share kind's group when the VM uses that
 * kind, `net` when the VM has a NIC. `base` and `net` must be in the kernel package, a share
 * kind's group only for that kind to be usable.
 */
export const MODULE_GROUPS: readonly (readonly [string, readonly string[]])[] = [
  [
    'base',
    [
      'virtio_ring',
      'virtio',
      'virtio_pci_legacy_dev',
      'virtio_pci_modern_dev',
      'virtio_pci',
      'virtio_console',
      'qemu_fw_cfg',
    ],
  ],
  ...SHARE_KINDS.map((k) => [k, SHARE_MODULES[k]] as const),
  ['net', ['failover', 'net_failover', 'virtio_net']],
];
const REQUIRED_GROUPS = new Set(['base', 'net']);

export interface VmAssets {
  dir: string;
  /** `vmlinux` (an ELF qemu boots by PVH) when it could be taken out of the bzImage, else `vmlinuz`. */
  kernel: string;
  initrd: string;
  /** The guest kernel's release (`uname -r` in the VM). */
  release: string;
  /** Host binary: a VM container's stdin, ptys and execs (guest/host-relay.c). */
  relay: string;
  /** Host binary: the host's TSC frequency, for TCG guests (guest/host-tsc.c). */
  tsc: string;
  /** The share kinds the guest kernel has modules for. */
  shares: ShareKind[];
}

interface Manifest {
  release: string;
  /** The kernel's file name in the assets dir. */
  kernel: string;
  /** Hash of the agent source and the module list the initramfs was built from. */
  agent: string;
  /** Debian's kernel meta package the kernel came from. */
  package: string;
  shares: ShareKind[];
}

export const AGENT_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', 'guest', 'agent.c');
/** The host side of a VM's stdio (stdin, ptys, execs), built beside the guest assets. */
export const RELAY_SOURCE = join(dirname(AGENT_SOURCE), 'host-relay.c');
/** Measures the host's TSC frequency (a TCG guest's TSC is the host's). */
export const TSC_SOURCE = join(dirname(AGENT_SOURCE), 'host-tsc.c');

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** Changes whenever what buildAssets makes changes (besides the sources hashed with it). */
const ASSETS_FORMAT = 'pvh-unsigned-modules-grouped';

async function agentHash(): Promise<string> {
  const h = createHash('sha256').update(ASSETS_FORMAT);
  for (const f of [AGENT_SOURCE, RELAY_SOURCE, TSC_SOURCE]) h.update(await readFile(f));
  return h.update(JSON.stringify(MODULE_GROUPS)).digest('hex').slice(0, 16);
}

/** The assets in `dir` if they are complete and built from this agent; never builds. */
export async function findAssets(dir: string = DEFAULT_ASSETS_DIR): Promise<VmAssets | undefined> {
  const m = await readManifest(dir);
  if (!m || m.agent !== (await agentHash())) return undefined;
  return {
    dir,
    kernel: join(dir, m.kernel),
    initrd: join(dir, 'initrd.img'),
    release: m.release,
    relay: join(dir, 'skiff-vm-relay'),
    tsc: join(dir, 'skiff-vm-tsc'),
    shares: m.shares,
  };
}

const SIGNATURE_MARKER = Buffer.from('~Module signature appended~\n');

/**
 * A module without its appended signature. The guest kernel then loads it without checking an
 * RSA signature (which under TCG takes longer than the loading), tainted but not refused: Debian's
 * kernel enforces signatures only under Secure Boot lockdown, which a qemu guest never has.
 */
export function withoutSignature(ko: Buffer): Buffer {
  const end = ko.length - SIGNATURE_MARKER.length;
  if (end < 12 || !ko.subarray(end).equals(SIGNATURE_MARKER)) return ko;
  // struct module_signature (12 bytes) ends with the signature's length, big-endian.
  const sigLen = ko.readUInt32BE(end - 4);
  const start = end - 12 - sigLen;
  return start > 0 ? ko.subarray(0, start) : ko;
}

async function kernelPackage(meta: string): Promise<string> {
  const { stdout } = await run('apt-cache', ['depends', meta]);
  const dep = /Depends:\s*(linux-image-\S+)/.exec(stdout)?.[1];
  if (!dep) throw new Error(`apt-cache names no kernel image for ${meta}`);
  return dep;
}

/** `dpkg-deb --fsys-tarfile DEB | tar ARGS`: the package's files without unpacking all of them. */
async function debTar(deb: string, args: string[]): Promise<string> {
  const { stdout } = await run('sh', ['-c', 'dpkg-deb --fsys-tarfile "$0" | tar "$@"', deb, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/**
 * `<dir>/kernel-<release>/`: the kernel image and the guest modules, taken from the Debian package
 * (downloaded and unpacked once, never installed on the host).
 */
async function kernelFiles(
  dir: string,
  pkg: string,
  work: string,
  log: (msg: string) => void,
): Promise<{ kdir: string; groups: (readonly [string, readonly string[]])[] }> {
  const release = pkg.slice('linux-image-'.length);
  const kdir = join(dir, `kernel-${release}`);
  const complete = join(kdir, '.complete');
  const usable = (have: Set<string>) => MODULE_GROUPS.filter(([, ms]) => ms.every((m) => have.has(m)));
  // What an earlier build took out of the package (another format, e.g. a bare list: taken again).
  const recorded = await readFile(complete, 'utf8')
    .then((text) => JSON.parse(text) as { format?: unknown; modules?: string[] })
    .catch(() => undefined);
  if (recorded?.format === JSON.stringify(MODULE_GROUPS) && Array.isArray(recorded.modules)) {
    return { kdir, groups: usable(new Set(recorded.modules)) };
  }
  log(`downloading ${pkg}`);
  await run('apt-get', ['download', pkg], { cwd: work });
  const deb = (await readdir(work)).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
  const wanted = new Set(MODULE_GROUPS.flatMap(([, ms]) => ms));
  const kernel = `./boot/vmlinuz-${release}`;
  const members = new Map<string, string>();
  for (const path of (await debTar(join(work, deb), ['-t'])).split('\n')) {
    const name = /\/([^/]+)\.ko$/.exec(path)?.[1];
    if (name && wanted.has(name) && path.includes(`/lib/modules/${release}/`)) members.set(name, path);
  }
  for (const [group, ms] of MODULE_GROUPS) {
    const missing = ms.filter((m) => !members.has(m));
    if (REQUIRED_GROUPS.has(group) && missing.length) throw new Error(`module ${missing[0]}.ko not found in ${pkg}`);
  }
  const tree = join(work, 'x');
  await mkdir(tree);
  await debTar(join(work, deb), ['-x', '-C', tree, kernel, ...members.values()]);
  await rm(kdir, { recursive: true, force: true });
  await mkdir(kdir, { recursive: true });
  await copyFile(join(tree, kernel), join(kdir, 'vmlinuz'));
  for (const [m, path] of members) await copyFile(join(tree, path), join(kdir, `${m}.ko`));
  await writeFile(complete, JSON.stringify({ format: JSON.stringify(MODULE_GROUPS), modules: [...members.keys()] }));
  return { kdir, groups: usable(new Set(members.keys())) };
}

/**
 * Builds the guest kernel and initramfs into `dir` (idempotent: returns at once when they are
 * there and current). The kernel comes from Debian's kernel package (`kernelPackage`, default the
 * cloud kernel's meta package), downloaded with
 * `apt-get download` and unpacked with `dpkg-deb -x` (never installed on the host); the
 * initramfs holds the agent (compiled static with gcc) as /init and the virtio modules.
 */
export async function buildAssets(
  dir: string = DEFAULT_ASSETS_DIR,
  opts: { force?: boolean; kernelPackage?: string; log?: (msg: string) => void } = {},
): Promise<VmAssets> {
  const log = opts.log ?? (() => {});
  const meta = opts.kernelPackage ?? KERNEL_META_PACKAGE;
  if (!opts.force && (await readManifest(dir))?.package === meta) {
    const have = await findAssets(dir);
    if (have) return have;
  }
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, '.build-'));
  try {
    const pkg = await kernelPackage(meta);
    const { kdir, groups } = await kernelFiles(dir, pkg, work, log);
    const release = pkg.slice('linux-image-'.length);

    log('compiling the agent');
    const agent = join(work, 'init');
    await run('gcc', ['-static', '-Os', '-s', '-Wall', '-o', agent, AGENT_SOURCE]);
    for (const [bin, source] of [
      ['skiff-vm-relay', RELAY_SOURCE],
      ['skiff-vm-tsc', TSC_SOURCE],
    ])
      await run('gcc', ['-Os', '-s', '-Wall', '-o', join(work, bin), source]);

    const entries: CpioEntry[] = [
      { name: 'dev', mode: 0o40755 },
      { name: 'dev/console', mode: 0o20600, rdev: { major: 5, minor: 1 } },
      { name: 'proc', mode: 0o40755 },
      { name: 'sys', mode: 0o40755 },
      { name: 'rootfs', mode: 0o40755 },
      { name: 'init', mode: 0o100755, data: await readFile(agent) },
      { name: 'modules', mode: 0o40755 },
    ];
    const order: string[] = [];
    for (const [group, ms] of groups) {
      for (const m of ms) {
        const ko = withoutSignature(await readFile(join(kdir, `${m}.ko`)));
        entries.push({ name: `modules/${m}.ko`, mode: 0o100644, data: ko });
        order.push(`${group} ${m}\n`);
      }
    }
    entries.push({ name: 'modules/order', mode: 0o100644, data: Buffer.from(order.join('')) });

    const bzImage = await readFile(join(kdir, 'vmlinuz'));
    const vmlinux = vmlinuxFromBzImage(bzImage);
    log(vmlinux ? 'vmlinux taken out of the bzImage (PVH boot)' : 'the bzImage is booted as it is (not LZ4 or no PVH)');
    const kernel = vmlinux ? 'vmlinux' : 'vmlinuz';
    await writeFile(join(work, kernel), vmlinux ?? bzImage);

    const shares = SHARE_KINDS.filter((k) => groups.some(([g]) => g === k));
    const manifest: Manifest = { release, kernel, agent: await agentHash(), package: meta, shares };
    await writeFile(join(work, 'initrd.img'), gzipSync(cpioArchive(entries), { level: 6 }));
    // The manifest goes last: its presence means the rest is complete.
    await rm(join(dir, 'manifest.json'), { force: true });
    for (const old of ['vmlinux', 'vmlinuz', 'skiff-vm-stdin']) await rm(join(dir, old), { force: true });
    await rename(join(work, kernel), join(dir, kernel));
    await rename(join(work, 'initrd.img'), join(dir, 'initrd.img'));
    for (const bin of ['skiff-vm-relay', 'skiff-vm-tsc']) await rename(join(work, bin), join(dir, bin));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    log(`assets ready in ${dir} (kernel ${release})`);
    return (await findAssets(dir))!;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
