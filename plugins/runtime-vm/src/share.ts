/**
 * The host-side file sharing seam: how a host directory (the container's rootfs, its volumes and
 * bind mounts) reaches the guest. `virtiofs` needs a virtiofsd per directory (Linux only) and guest
 * memory it can map; `9p` is served by qemu itself (qemu's 9p runs on Linux and macOS) and needs a
 * guest kernel with 9p modules (Debian's generic kernel, not the cloud one).
 */
export type ShareKind = 'virtiofs' | '9p';

export const SHARE_KINDS: readonly ShareKind[] = ['virtiofs', '9p'];

/** A host directory shared with the guest under `tag`. */
export interface Share {
  tag: string;
  source: string;
  readonly: boolean;
}

/** The share a platform uses by default: virtio-fs where virtiofsd runs, 9p elsewhere. */
export function defaultShareKind(platform: NodeJS.Platform = process.platform): ShareKind {
  return platform === 'linux' ? 'virtiofs' : '9p';
}

/** The guest modules each kind needs, in load order (after the virtio core). */
export const SHARE_MODULES: Record<ShareKind, readonly string[]> = {
  virtiofs: ['fuse', 'virtiofs'],
  '9p': ['netfs', 'fscache', '9pnet', '9pnet_virtio', '9p'],
};

/** qemu's option syntax: a comma inside a value is doubled. */
function optValue(s: string): string {
  return s.replaceAll(',', ',,');
}

/** qemu's arguments for one share on PCI slot `addr` (virtio-fs: the socket of its virtiofsd, `<tag>.sock`). */
export function shareDeviceArgs(kind: ShareKind, s: Share, addr: string): string[] {
  if (kind === 'virtiofs') {
    return [
      '-chardev',
      `socket,id=${s.tag},path=${s.tag}.sock`,
      '-device',
      `vhost-user-fs-pci,chardev=${s.tag},tag=${s.tag},addr=${addr}`,
    ];
  }
  // passthrough: the guest sees the files' real owners and modes (qemu runs as root, like virtiofsd).
  return [
    '-fsdev',
    `local,id=${s.tag},path=${optValue(s.source)},security_model=passthrough${s.readonly ? ',readonly=on' : ''}`,
    '-device',
    `virtio-9p-pci,fsdev=${s.tag},mount_tag=${s.tag},addr=${addr}`,
  ];
}

/** qemu's memory arguments: virtio-fs's vhost-user daemons map guest memory, so it must be shared memfd. */
export function memoryArgs(kind: ShareKind, mib: number): string[] {
  if (kind !== 'virtiofs') return ['-m', String(mib)];
  return [
    '-m',
    String(mib),
    '-object',
    `memory-backend-memfd,id=mem,size=${mib}M,share=on`,
    '-numa',
    'node,memdev=mem',
  ];
}

/** The lines of the monitor's `shares` file: the virtiofsds it starts (none for 9p, which qemu serves). */
export function virtiofsdLines(kind: ShareKind, shares: readonly Share[]): string {
  if (kind !== 'virtiofs') return '';
  return shares.map((s) => `${s.tag} ${s.readonly ? 'ro' : 'rw'} ${s.source}\n`).join('');
}
