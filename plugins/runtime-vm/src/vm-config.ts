import { existsSync } from 'node:fs';
// The module alone: the shim (a process per OCI command) does not load all of the host helpers.
import { capabilityMask } from '@skiff/core/host/capabilities';
import { memoryArgs, type Share, type ShareKind, shareDeviceArgs } from './share.js';

export type { Share } from './share.js';

/** qboot, shipped by Debian's qemu-system-data: jumps to the kernel without SeaBIOS's device setup. */
const QBOOT = '/usr/share/qemu/qboot.rom';

/** qboot where the host's qemu has it, else undefined (SeaBIOS). */
export function defaultFirmware(): string | undefined {
  return existsSync(QBOOT) ? QBOOT : undefined;
}

/** What the runtime hands its OCI shim (a JSON file named on the shim's command line). */
export interface ShimConfig {
  kernel: string;
  initrd: string;
  qemu: string;
  /** Needed for the virtio-fs share only. */
  virtiofsd?: string;
  /** How host directories reach the guest (the assets' kernel must have its modules). */
  share: ShareKind;
  /** qemu's `-accel` value, as probed by booting (`kvm`, `hvf` or `tcg`). */
  accel: string;
  /** qemu's `-bios` (qboot: a firmware that does little more than jump to the kernel); default SeaBIOS. */
  firmware?: string;
  /** VM memory in MiB when the container sets no limit. */
  memoryMiB: number;
  /** vCPUs when the container sets no CPU quota. */
  cpus: number;
  /** The script that runs virtiofsd and qemu under conmon (guest/monitor.sh). */
  monitor: string;
  /** The host side of a VM's stdio (guest/host-relay.c): stdin, ptys, execs. */
  relay: string;
  /** The guest's TSC frequency, measured on the host (TCG only): the guest kernel does not calibrate it. */
  tscKHz?: number;
}

/** What the guest kernel and agent need besides the container's memory limit. */
export const GUEST_OVERHEAD_MIB = 64;

/**
 * Memory for the VM: the container's limit (applied inside the guest to the container's cgroup)
 * plus the guest's own overhead, at least 128 MiB; the default when the container sets no limit.
 */
export function vmMemoryMiB(limitBytes: unknown, fallback: number): number {
  if (typeof limitBytes !== 'number' || limitBytes <= 0) return fallback;
  return Math.max(128, Math.ceil(limitBytes / (1024 * 1024)) + GUEST_OVERHEAD_MIB);
}

/** vCPUs for the VM: ceil(quota / period) when the container sets a CPU quota, else the default. */
export function vmCpus(cpu: { quota?: unknown; period?: unknown } | undefined, fallback: number): number {
  const quota = typeof cpu?.quota === 'number' ? cpu.quota : 0;
  const period = typeof cpu?.period === 'number' && cpu.period > 0 ? cpu.period : 100000;
  return quota > 0 ? Math.max(1, Math.ceil(quota / period)) : fallback;
}

/** The OCI resources the guest applies to the container's cgroup (cgroup v2 there). */
export interface GuestResources {
  memory?: { limit?: unknown; reservation?: unknown };
  cpu?: { quota?: unknown; period?: unknown; shares?: unknown };
  pids?: { limit?: unknown };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The container's limits as "FILE VALUE" lines for its cgroup v2 in the guest, converted as runc
 * converts v1 values for v2 (shares → cpu.weight). Only what `resources` sets; -1 or 0 means no
 * limit (`max`). cpuset is left out: the guest's vCPUs are not the host's CPUs (the VM's size
 * follows the quota instead).
 */
export function guestLimits(r: GuestResources): string[] {
  const out: string[] = [];
  const limit = num(r.memory?.limit);
  if (limit !== undefined) out.push(`memory.max ${limit > 0 ? limit : 'max'}`);
  const low = num(r.memory?.reservation);
  if (low !== undefined) out.push(`memory.low ${low > 0 ? low : 0}`);
  const pids = num(r.pids?.limit);
  if (pids !== undefined) out.push(`pids.max ${pids > 0 ? pids : 'max'}`);
  const quota = num(r.cpu?.quota);
  const period = num(r.cpu?.period);
  if (quota !== undefined || period !== undefined)
    out.push(`cpu.max ${quota !== undefined && quota > 0 ? quota : 'max'} ${period && period > 0 ? period : 100000}`);
  const shares = num(r.cpu?.shares);
  if (shares !== undefined && shares > 0)
    out.push(`cpu.weight ${Math.min(10000, Math.max(1, 1 + Math.floor(((shares - 2) * 9999) / 262142)))}`);
  return out;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** What the agent sets up itself (its own /proc, /sys, /dev), whatever the OCI config says. */
const GUEST_OWNED = /^\/(proc|sys|dev)(\/|$)/;
const KERNEL_FS = new Set(['proc', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2']);
const MS_FLAGS: Record<string, number> = { ro: 1, nosuid: 2, nodev: 4, noexec: 8 };

/**
 * The container's mounts in a VM: bind mounts of directories (volumes included) become shares
 * (`share FLAGS TAG DEST` for the agent, which mounts them as the VM's share kind), tmpfs mounts are made in the guest
 * (`mount tmpfs FLAGS DATA DEST`), bind mounts of files are copied in at start (`files`: a share
 * would hand the guest the file's whole directory).
 */
export function vmMounts(
  mounts: readonly OciMount[],
  isDirectory: (path: string) => boolean,
): { shares: Share[]; guest: string[]; files: { source: string; destination: string }[] } {
  const shares: Share[] = [];
  const guest: string[] = [];
  const files: { source: string; destination: string }[] = [];
  for (const m of mounts) {
    const options = m.options ?? [];
    const flags = options.reduce((f, o) => f | (MS_FLAGS[o] ?? 0), 0);
    if (GUEST_OWNED.test(m.destination) || KERNEL_FS.has(m.type ?? '')) continue;
    if (/[\n\0]/.test(m.destination) || /[\n\0]/.test(m.source ?? '')) continue;
    if (m.type === 'tmpfs') {
      const data = options.filter((o) => o.includes('=')).join(',') || '-';
      guest.push(`tmpfs ${flags} ${data} ${m.destination}`);
    } else if ((m.type === 'bind' || options.includes('bind') || options.includes('rbind')) && m.source) {
      if (!isDirectory(m.source)) {
        files.push({ source: m.source, destination: m.destination });
        continue;
      }
      const tag = `vol${shares.length}`;
      shares.push({ tag, source: m.source, readonly: (flags & 1) !== 0 });
      guest.push(`share ${flags} ${tag} ${m.destination}`);
    }
  }
  return { shares, guest, files };
}

/**
 * The process spec the agent reads from fw_cfg: NUL-terminated key/value pairs (arg, env, cwd,
 * uid, gid, gid+, hostname, mount, readonly, mask, ropath), from the OCI config.
 */
export function guestSpec(
  config: Record<string, unknown>,
  opts: { stdin?: boolean; tty?: boolean; mounts?: readonly string[] } = {},
): Buffer {
  const proc = (config.process ?? {}) as {
    args?: string[];
    env?: string[];
    cwd?: string;
    user?: { uid?: number; gid?: number; additionalGids?: number[] };
    capabilities?: Record<'bounding' | 'effective' | 'permitted' | 'inheritable', string[] | undefined>;
    noNewPrivileges?: boolean;
  };
  const resources = (config.linux as { resources?: GuestResources } | undefined)?.resources ?? {};
  const pairs: [string, string][] = [];
  for (const a of proc.args ?? []) pairs.push(['arg', a]);
  for (const e of proc.env ?? []) pairs.push(['env', e]);
  pairs.push(['cwd', proc.cwd || '/']);
  pairs.push(['uid', String(proc.user?.uid ?? 0)]);
  pairs.push(['gid', String(proc.user?.gid ?? 0)]);
  for (const g of proc.user?.additionalGids ?? []) pairs.push(['gid+', String(g)]);
  if (typeof config.hostname === 'string' && config.hostname) pairs.push(['hostname', config.hostname]);
  for (const l of guestLimits(resources)) pairs.push(['limit', l]);
  // Capability sets as hex masks: bounding, effective, permitted, inheritable (none given: all kept, as runc).
  const caps = proc.capabilities;
  if (caps) {
    const sets = [caps.bounding, caps.effective, caps.permitted, caps.inheritable];
    pairs.push(['caps', sets.map((s) => capabilityMask(s).toString(16)).join(' ')]);
  }
  if (proc.noNewPrivileges) pairs.push(['nnp', '1']);
  if (opts.stdin) pairs.push(['stdin', '1']);
  if (opts.tty) pairs.push(['tty', '1']);
  for (const m of opts.mounts ?? []) pairs.push(['mount', m]);
  const linux = (config.linux ?? {}) as { maskedPaths?: unknown; readonlyPaths?: unknown };
  for (const [key, paths] of [
    ['mask', linux.maskedPaths],
    ['ropath', linux.readonlyPaths],
  ] as const) {
    if (Array.isArray(paths)) for (const p of paths) if (typeof p === 'string') pairs.push([key, p]);
  }
  if ((config.root as { readonly?: unknown } | undefined)?.readonly === true) pairs.push(['readonly', '1']);
  return Buffer.from(pairs.map(([k, v]) => `${k}\0${v.replaceAll('\0', '')}\0`).join(''));
}

/**
 * The guest kernel's command line. `cryptomgr.notests`: no self-tests of the kernel's crypto
 * algorithms at boot (over half a second under TCG; the guest's crypto is the container's business).
 */
export const KERNEL_CMDLINE =
  'console=ttyS0 quiet panic=-1 tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.noaux i8042.nokbd cryptomgr.notests';

/**
 * The command line for a VM whose shares are of `kind` (`skiff.share=` tells the agent how to
 * mount them) and whose TSC ticks at `tscKHz` (when known: see guest/host-tsc.c).
 */
export function kernelCmdline(kind: ShareKind, tscKHz?: number): string {
  return `${KERNEL_CMDLINE}${tscKHz ? ` tsc_early_khz=${tscKHz}` : ''} skiff.share=${kind}`;
}

/**
 * PCI slots (of q35's root bus: 0x1e holds the hot-plug ports, 0x1f is the LPC bridge) for the
 * rootfs, virtio-serial, the NIC, then shares.
 */
const PCI_SLOTS = Array.from({ length: 28 }, (_, i) => `0x${(i + 2).toString(16)}`);

/** How many shares a VM can have besides its rootfs (the PCI slots left). */
export const MAX_SHARES = PCI_SLOTS.length - 3;

/**
 * NICs a running VM can take besides the one it boots with (one per network the container joins
 * later): q35's root bus takes no hot-plugged device, so the VM has a PCIe-to-PCI bridge (`hp`,
 * slot 0x1e) whose slots 1… take them (ACPI hot plug). One bridge costs ~30 ms of a TCG boot;
 * a PCIe root port per NIC cost ~13 ms each.
 */
export const HOTPLUG_NICS = 31;

/** The bridge network connects plug NICs into (the shim plugs NIC n into slot n). */
const HOTPLUG_BRIDGE = ['-device', 'pcie-pci-bridge,id=hp,bus=pcie.0,addr=0x1e'];

/** qemu's command line for one container VM (run with the VM's state dir as cwd). */
export function qemuArgs(
  c: ShimConfig,
  vm: {
    memoryMiB: number;
    cpus: number;
    rootfs: string;
    tap?: string;
    stdin?: boolean;
    tty?: boolean;
    shares?: readonly Share[];
  },
): string[] {
  // A NIC on a tap in the container's network namespace (the shim mirrors it to the container's eth0).
  const nic = vm.tap
    ? [
        '-netdev',
        `tap,id=net0,ifname=${vm.tap},script=no,downscript=no`,
        '-device',
        `virtio-net-pci,netdev=net0,romfile=,addr=${PCI_SLOTS[2]}`,
        ...HOTPLUG_BRIDGE,
      ]
    : [];
  // stdin or a tty: qemu waits (wait=on) for the host relay to connect, so no byte is lost.
  const relayed = vm.tty ? 'tty' : vm.stdin ? 'stdin' : undefined;
  const stdio = relayed
    ? [
        '-chardev',
        `socket,id=${relayed},path=${relayed}.sock,server=on,wait=on`,
        '-device',
        `virtserialport,bus=vs.0,chardev=${relayed},name=${relayed}`,
      ]
    : [];
  return [
    c.qemu,
    '-name',
    'skiff-vm',
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-accel',
    c.accel,
    // q35, not pc: enabling a PCI device on the i440fx evaluates the AML of its PIRQ link (a
    // chipset register read and written through ACPI), ~0.2 s per link under TCG; q35's links are
    // fixed GSIs. Measured: the agent's phase (modules, device setup) 0.6 s → 0.25 s.
    '-M',
    'q35',
    // A hardware accelerator (kvm, hvf) passes the host's CPU through; TCG emulates all it can.
    '-cpu',
    c.accel === 'tcg' ? 'max' : 'host',
    ...memoryArgs(c.share, vm.memoryMiB),
    '-smp',
    String(vm.cpus),
    ...(c.firmware ? ['-bios', c.firmware] : []),
    '-kernel',
    c.kernel,
    '-initrd',
    c.initrd,
    '-append',
    kernelCmdline(c.share, c.tscKHz),
    '-serial',
    'file:console.log',
    ...shareDeviceArgs(c.share, { tag: 'rootfs', source: vm.rootfs, readonly: false }, PCI_SLOTS[0]!),
    '-device',
    `virtio-serial-pci,id=vs,max_ports=8,addr=${PCI_SLOTS[1]}`,
    '-chardev',
    'file,id=out,path=/dev/fd/3',
    '-device',
    'virtserialport,bus=vs.0,chardev=out,name=stdout',
    '-chardev',
    'file,id=err,path=/dev/fd/4',
    '-device',
    'virtserialport,bus=vs.0,chardev=err,name=stderr',
    '-chardev',
    'file,id=status,path=status',
    '-device',
    'virtserialport,bus=vs.0,chardev=status,name=status',
    '-chardev',
    'pipe,id=ctl,path=ctl',
    '-device',
    'virtserialport,bus=vs.0,chardev=ctl,name=ctl',
    '-chardev',
    'pipe,id=exec,path=exec',
    '-device',
    'virtserialport,bus=vs.0,chardev=exec,name=exec',
    '-fw_cfg',
    'name=opt/skiff/spec,file=spec',
    '-qmp',
    'unix:qmp.sock,server=on,wait=off',
    ...stdio,
    ...nic,
    ...(vm.shares ?? []).flatMap((s, i) => shareDeviceArgs(c.share, s, PCI_SLOTS[3 + i]!)),
  ];
}
