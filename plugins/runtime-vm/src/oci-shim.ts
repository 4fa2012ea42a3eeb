/**
 * The vm runtime's OCI runtime command line (what conmon runs in place of runc): `create` starts
 * the VM (virtiofsd + qemu under guest/monitor.sh) and reports the monitor's pid as the
 * container's; `start` tells the guest agent to run the process; `kill` forwards a signal to it
 * (SIGKILL ends the VM when the agent does not); `pause`/`resume` stop and continue the VM through
 * qemu's monitor (QMP); `state` and `delete` work on `<root>/<id>/`; `network` (the vm runtime's own)
 * plugs and unplugs NICs after a network connect or disconnect.
 *
 * Usage: node oci-shim.js --config FILE [--root=DIR] [--log=FILE] [--log-format=json] CMD [ARGS] ID
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { constants as osConstants } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import {
  GUEST_OVERHEAD_MIB,
  guestLimits,
  type GuestResources,
  guestSpec,
  HOTPLUG_NICS,
  MAX_SHARES,
  type OciMount,
  qemuArgs,
  type ShimConfig,
  vmCpus,
  vmMemoryMiB,
  vmMounts,
} from './vm-config.js';
import { makeCgroups, removeCgroups } from './host-cgroup.js';
import { virtiofsdLines } from './share.js';
import { sleepSync } from './sleep-sync.js';

class ShimError extends Error {}

interface VmState {
  id: string;
  pid: number;
  bundle: string;
  started: boolean;
  /** Stopped by QMP `stop` (docker pause): the whole VM is frozen. */
  paused?: boolean;
  /** The VM's cgroup directories on the host (monitor, qemu, virtiofsd). */
  cgroups?: string[];
  /** The tap of the NIC the VM boots with, in the container's (own) network namespace. */
  tap?: string;
  /** The container interface the boot NIC stands for (its MAC), once started. */
  bootNic?: { ifname: string; mac: string };
  /** NICs plugged into the running VM for the container's other interfaces (network connect). */
  nics?: HotplugNic[];
  /** The VM's memory, fixed when it started. */
  memoryMiB?: number;
}

/** A NIC plugged into slot `port` of the VM's hot-plug bridge, on tap `skiff-vm<port>`, for the container's `ifname`. */
interface HotplugNic {
  ifname: string;
  mac: string;
  port: number;
}

interface Globals {
  config?: string;
  root: string;
  log?: string;
}

const VALUE_FLAGS = new Set([
  '--bundle',
  '-b',
  '--pid-file',
  '--console-socket',
  '--preserve-fds',
  '--process',
  '--resources',
  '-r',
]);

function parse(argv: string[]): { g: Globals; cmd: string; flags: Map<string, string | true>; rest: string[] } {
  const g: Globals = { root: '/run/skiff-vm' };
  let i = 0;
  const globalValue = (name: string): string | undefined => {
    const a = argv[i]!;
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
    if (a === name) return argv[++i];
    return undefined;
  };
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const v = globalValue('--config') ?? undefined;
    if (v !== undefined) {
      g.config = v;
      continue;
    }
    const r = globalValue('--root');
    if (r !== undefined) {
      g.root = r;
      continue;
    }
    const l = globalValue('--log');
    if (l !== undefined) g.log = l;
    // Other global flags (--log-format, --systemd-cgroup) do not apply.
  }
  const cmd = argv[i++] ?? '';
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(0, eq), a.slice(eq + 1));
      else if (VALUE_FLAGS.has(a)) flags.set(a, argv[++i] ?? '');
      else flags.set(a, true);
    } else rest.push(a);
  }
  return { g, cmd, flags, rest };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie monitor (conmon has not reaped it yet) has exited.
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(st);
  } catch {
    return false;
  }
}

function readState(dir: string, id: string): VmState {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as VmState;
  } catch {
    throw new ShimError(`container ${id} does not exist`);
  }
}

function signalNumber(s: string): number {
  const name = s.toUpperCase().replace(/^SIG/, '');
  if (/^\d+$/.test(name)) return Number(name);
  const n = (osConstants.signals as Record<string, number>)[`SIG${name}`];
  if (n === undefined) throw new ShimError(`invalid signal ${s}`);
  return n;
}

/** The last words of qemu or virtiofsd, for an error message. */
function vmFailure(dir: string): string {
  for (const f of ['qemu.log', 'virtiofsd-rootfs.log']) {
    try {
      const text = readFileSync(join(dir, f), 'utf8').trim();
      if (text) return text.split('\n').slice(-3).join(' ');
    } catch {
      // Not started that far.
    }
  }
  return 'no output from qemu';
}

/** Writes a line to the guest agent's control port (qemu keeps the fifo open for reading). */
function control(dir: string, line: string, waitMs: number, monitorPid?: number): void {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(join(dir, 'ctl.in'), constants.O_WRONLY | constants.O_NONBLOCK);
      try {
        writeSync(fd, `${line}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (e) {
      // ENXIO: qemu has not opened the fifo yet.
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw e;
      if (monitorPid !== undefined && !alive(monitorPid)) throw new ShimError(`the VM stopped: ${vmFailure(dir)}`);
      sleepSync(10);
    }
  }
}

function create(g: Globals, flags: Map<string, string | true>, id: string): void {
  if (!g.config) throw new ShimError('no --config');
  const cfg = JSON.parse(readFileSync(g.config, 'utf8')) as ShimConfig;
  const consoleSocket = flags.get('--console-socket');
  const bundle = resolve(String(flags.get('--bundle') ?? flags.get('-b') ?? '.'));
  const oci = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Record<string, unknown>;
  const rootPath = (oci.root as { path?: string } | undefined)?.path ?? 'rootfs';
  const rootfs = isAbsolute(rootPath) ? rootPath : join(bundle, rootPath);
  const resources = ((oci.linux as Record<string, unknown> | undefined)?.resources ?? {}) as {
    memory?: { limit?: unknown };
    cpu?: { quota?: unknown; period?: unknown };
  };
  const dir = join(g.root, id);
  if (existsSync(join(dir, 'state.json'))) throw new ShimError(`container with id ${id} already exists`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // With a terminal, the relay's pty carries stdin; otherwise conmon hands us a pipe for `-i`.
  const tty = typeof consoleSocket === 'string';
  const stdin = !tty && stdinIsPipe();
  const mounts = vmMounts(ociMounts(oci), isDirectory);
  if (mounts.shares.length > MAX_SHARES) throw new ShimError(`a VM takes at most ${MAX_SHARES} directory mounts`);
  for (const f of mounts.files) {
    if ((statSync(f.source, { throwIfNoEntry: false })?.size ?? 0) > MAX_FILE_MOUNT)
      throw new ShimError(`${f.destination}: a VM takes files of up to 256 KiB as bind mounts (mount its directory)`);
  }
  writeFileSync(join(dir, 'spec'), guestSpec(oci, { stdin, tty, mounts: mounts.guest }));
  // virtio-fs: the monitor starts a virtiofsd for each line: the rootfs, then the directory mounts.
  const shares = [{ tag: 'rootfs', source: rootfs, readonly: false }, ...mounts.shares];
  writeFileSync(join(dir, 'shares'), virtiofsdLines(cfg.share, shares));
  execFileSync('mkfifo', ['-m', '0600', ...['ctl.in', 'ctl.out', 'exec.in', 'exec.out'].map((f) => join(dir, f))]);
  // The monitor (the task's pid for the core) and qemu live in the container's network namespace:
  // the core attaches the container's interfaces to /proc/<pid>/ns/net between create and start.
  const namespaces = ((oci.linux as { namespaces?: { type: string; path?: string }[] } | undefined)?.namespaces ??
    []) as { type: string; path?: string }[];
  const netns = namespaces.find((n) => n.type === 'network');
  // Only a namespace of its own gets a NIC (a joined one belongs to another container).
  const tap = netns && !netns.path ? 'skiff-vm0' : undefined;
  if (tty) {
    // Returns once conmon has the pty's master; its child relays the slave to the VM's tty port.
    execFileSync(cfg.relay, ['tty', consoleSocket, join(dir, 'tty.sock'), join(dir, 'ctl.in')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const vm = {
    rootfs,
    tap,
    stdin,
    tty,
    shares: mounts.shares,
    memoryMiB: vmMemoryMiB(resources.memory?.limit, cfg.memoryMiB),
    cpus: vmCpus(resources.cpu, cfg.cpus),
  };
  // Our stdio are conmon's pipes: the monitor (and qemu, for the guest's output) inherit them.
  const enter = !netns ? [] : netns.path ? ['nsenter', `--net=${netns.path}`] : ['unshare', '--net'];
  const argv = [...enter, '/bin/sh', cfg.monitor, cfg.virtiofsd ?? '-', ...qemuArgs(cfg, vm)];
  const cgroupsPath = (oci.linux as { cgroupsPath?: unknown } | undefined)?.cgroupsPath;
  const cgroups = typeof cgroupsPath === 'string' ? makeCgroups(cgroupsPath) : [];
  // conmon runs us in its directory for the task, where it looks for the `oom` marker.
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: dir,
    detached: true,
    stdio: 'inherit',
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      SKIFF_VM_OOM_FILE: join(process.cwd(), 'oom'),
      SKIFF_VM_CGROUPS: cgroups.join(' '),
      SKIFF_VM_RELAY: cfg.relay,
      ...(stdin ? { SKIFF_VM_STDIN: '1' } : {}),
    },
  });
  if (!child.pid) throw new ShimError('cannot start the VM monitor');
  child.unref();
  if (netns) awaitNetns(child.pid, netns.path);
  const state: VmState = { id, pid: child.pid, bundle, started: false, tap, cgroups, memoryMiB: vm.memoryMiB };
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
  const pidFile = flags.get('--pid-file');
  if (typeof pidFile === 'string') writeFileSync(pidFile, String(child.pid));
}

/**
 * Waits until `pid` (unshare or nsenter, then the monitor) is in its network namespace: `path`'s,
 * or a new one. The core moves the container's interfaces into /proc/<pid>/ns/net once create
 * returns (runc returns only then too); before unshare(2) that is still our own namespace.
 */
function awaitNetns(pid: number, path: string | undefined): void {
  const ours = statSync('/proc/self/ns/net').ino;
  const want = path ? statSync(path).ino : undefined;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ino = statSync(`/proc/${pid}/ns/net`, { throwIfNoEntry: false })?.ino;
    if (ino !== undefined && (want === undefined ? ino !== ours : ino === want)) return;
    if (!alive(pid)) throw new ShimError('the VM monitor exited before it had its network namespace');
    if (Date.now() > deadline) {
      process.kill(-pid, 'SIGKILL');
      throw new ShimError('the VM monitor did not enter its network namespace in 10 s');
    }
    sleepSync(1);
  }
}

/** Files bind-mounted into a VM are copied in, as hex on the control port. */
const MAX_FILE_MOUNT = 256 * 1024;

function ociMounts(oci: Record<string, unknown>): OciMount[] {
  return Array.isArray(oci.mounts) ? (oci.mounts as OciMount[]) : [];
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Runs a command in the VM's network namespace; its stderr goes into the error it throws. */
function inNetns(pid: number, cmd: string, args: string[]): string {
  return execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, cmd, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** qemu makes a tap after its chardevs (or on netdev_add): a start right after can come before it. */
function waitForTap(st: VmState, tap: string): void {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      inNetns(st.pid, 'ip', ['link', 'show', 'dev', tap]);
      return;
    } catch (e) {
      if (!alive(st.pid) || Date.now() > deadline) throw e;
      sleepSync(20);
    }
  }
}

interface Link {
  ifname: string;
  address?: string;
  mtu?: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

/** The container's interfaces in the VM's network namespace (not lo, not the VM's own taps). */
function containerLinks(st: VmState): Link[] {
  const links = JSON.parse(inNetns(st.pid, 'ip', ['-j', 'addr', 'show'])) as Link[];
  return links.filter((l) => l.ifname !== 'lo' && !l.ifname.startsWith('skiff-vm') && l.address);
}

/** Frames of the container's interface go out of the VM's tap and back (tc mirred, as Kata does). */
function mirror(st: VmState, ifname: string, tap: string, mtu: number): void {
  waitForTap(st, tap);
  inNetns(st.pid, 'ip', ['link', 'set', tap, 'mtu', String(mtu), 'up']);
  for (const [from, to] of [
    [ifname, tap],
    [tap, ifname],
  ] as const) {
    inNetns(st.pid, 'tc', ['qdisc', 'add', 'dev', from, 'ingress']);
    inNetns(st.pid, 'tc', [
      ...['filter', 'add', 'dev', from, 'parent', 'ffff:', 'protocol', 'all'],
      ...['u32', 'match', 'u8', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', to],
    ]);
  }
}

/**
 * The agent's lines for one container interface: `net` (the boot NIC) or `nic` (a plugged one, which
 * the agent finds by its MAC) with the IPv4 address, then `net6` for its global IPv6 addresses.
 */
function netLines(kind: 'net' | 'nic', l: Link): string[] {
  const inet = l.addr_info?.find((a) => a.family === 'inet');
  if (!inet) return [];
  const lines = [`${kind} ${l.ifname} ${l.address} ${inet.local} ${inet.prefixlen} ${l.mtu ?? 1500}`];
  // The guest makes its own link-local address from the MAC.
  for (const a of l.addr_info?.filter((x) => x.family === 'inet6' && x.scope === 'global') ?? [])
    lines.push(`net6 ${l.ifname} ${a.local} ${a.prefixlen}`);
  return lines;
}

/**
 * The agent's `routes` line: the guest's default routes become the namespace's (one per family, the
 * core keeps only its gateway endpoint's), `DEV GATEWAY` or `- -` for each of IPv4 and IPv6.
 */
function routesLine(st: VmState): string {
  const first = (family: '-4' | '-6') => {
    const [r] = JSON.parse(inNetns(st.pid, 'ip', ['-j', family, 'route', 'show', 'default'])) as {
      gateway?: string;
      dev?: string;
    }[];
    return r?.gateway && r.dev ? `${r.dev} ${r.gateway}` : '- -';
  };
  return `routes ${first('-4')} ${first('-6')}`;
}

/** The container's interface the VM boots with a NIC for: the one with the default route, else the first. */
function primaryLink(st: VmState, links: Link[]): Link | undefined {
  const routes = JSON.parse(inNetns(st.pid, 'ip', ['-j', 'route', 'show', 'default'])) as { dev?: string }[];
  return (
    links.find((l) => l.ifname === routes[0]?.dev) ?? links.find((l) => l.addr_info?.some((a) => a.family === 'inet'))
  );
}

/** The /etc files the core prepared (hosts, resolv.conf, hostname), as the agent's `file` lines. */
function fileLines(st: VmState): string[] {
  const oci = JSON.parse(readFileSync(join(st.bundle, 'config.json'), 'utf8')) as Record<string, unknown>;
  const lines: string[] = [];
  for (const f of vmMounts(ociMounts(oci), isDirectory).files) {
    try {
      lines.push(`file ${f.destination} ${readFileSync(f.source).toString('hex')}`);
    } catch {
      // Not prepared (no network): the image's own file stays.
    }
  }
  return lines;
}

/**
 * Brings the VM's NICs in line with the container's interfaces (networks connected before the
 * start, or while it runs): a NIC is plugged (QMP netdev_add + device_add into a free bridge slot,
 * with the interface's MAC) and mirrored for each new interface, and unplugged for each interface
 * that is gone. Waits until the agent has configured each new one. The boot NIC cannot leave: when
 * its interface is gone the agent takes it down (its routes go; the other networks' stay). Updates
 * `st.nics` and `st.bootNic`. `deadline`: when to give up on the agent's answer (at the start, the
 * agent reads the lines only once the guest has booted).
 */
async function syncNics(dir: string, st: VmState, links: Link[], deadline: number): Promise<void> {
  const nics = [...(st.nics ?? [])];
  if (st.bootNic && !links.some((l) => l.ifname === st.bootNic!.ifname && l.address === st.bootNic!.mac)) {
    control(dir, `down ${st.bootNic.ifname}`, 5000, st.pid);
    st.bootNic = undefined;
  }
  const covered = (l: Link) =>
    (st.bootNic?.ifname === l.ifname && st.bootNic.mac === l.address) ||
    nics.some((n) => n.ifname === l.ifname && n.mac === l.address);
  for (const gone of nics.filter((n) => !links.some((l) => l.ifname === n.ifname && l.address === n.mac))) {
    await unplug(dir, gone.port, deadline);
    nics.splice(nics.indexOf(gone), 1);
  }
  for (const l of links.filter((x) => !covered(x))) {
    const port = Array.from({ length: HOTPLUG_NICS }, (_, i) => i + 1).find((p) => !nics.some((n) => n.port === p));
    if (port === undefined)
      throw new ShimError(`a VM takes ${HOTPLUG_NICS + 1} networks at most: ${l.ifname} is one too many`);
    const tap = `skiff-vm${port}`;
    try {
      await qmp(
        dir,
        [
          {
            execute: 'netdev_add',
            arguments: { type: 'tap', id: `net${port}`, ifname: tap, script: 'no', downscript: 'no' },
          },
          {
            execute: 'device_add',
            arguments: {
              driver: 'virtio-net-pci',
              id: `nic${port}`,
              netdev: `net${port}`,
              bus: 'hp',
              addr: `0x${port.toString(16)}`,
              mac: l.address,
              romfile: '',
            },
          },
        ],
        deadline,
      );
      mirror(st, l.ifname, tap, l.mtu ?? 1500);
      const mark = statusLength(dir);
      for (const line of netLines('nic', l)) control(dir, line, 5000, st.pid);
      awaitStatus(dir, mark, `nic ${l.ifname} `, st.pid, deadline);
    } catch (e) {
      // Nothing half-plugged stays (the port is free for the next try).
      await unplug(dir, port, deadline).catch(() =>
        qmp(dir, [{ execute: 'netdev_del', arguments: { id: `net${port}` } }], deadline).catch(() => {}),
      );
      throw e;
    }
    nics.push({ ifname: l.ifname, mac: l.address!, port });
  }
  st.nics = nics;
}

/** Takes NIC `port` out of the VM: the guest lets go of the device (ACPI), then its tap goes. */
function unplug(dir: string, port: number, deadline: number): Promise<void> {
  return qmp(
    dir,
    [
      {
        execute: 'device_del',
        arguments: { id: `nic${port}` },
        until: { event: 'DEVICE_DELETED', device: `nic${port}` },
      },
      { execute: 'netdev_del', arguments: { id: `net${port}` } },
    ],
    deadline,
  );
}

function statusLength(dir: string): number {
  return statSync(join(dir, 'status'), { throwIfNoEntry: false })?.size ?? 0;
}

/** Waits for the agent's status line starting with `prefix` (after byte `from`); fails on `… failed`. */
function awaitStatus(dir: string, from: number, prefix: string, monitorPid: number, deadline: number): void {
  for (;;) {
    const text = existsSync(join(dir, 'status')) ? readFileSync(join(dir, 'status')).subarray(from).toString() : '';
    // Whole lines only: qemu may have written part of the last one yet.
    const line = text
      .split('\n')
      .slice(0, -1)
      .find((x) => x.startsWith(prefix));
    if (line?.endsWith(' ok')) return;
    if (line) throw new ShimError(`the VM could not configure ${prefix.trim().split(' ')[1]}: ${line}`);
    if (!alive(monitorPid)) throw new ShimError(`the VM stopped: ${vmFailure(dir)}`);
    if (Date.now() > deadline) throw new ShimError(`the VM did not configure ${prefix.trim()} in time`);
    sleepSync(10);
  }
}

/**
 * What the agent needs before the process starts: the boot NIC's configuration (the core attached
 * the container's interfaces to our namespace after create; the primary one's traffic is mirrored
 * to the VM's tap, and the guest's NIC takes its name, MAC and address), and the /etc files.
 */
function bootNicSetup(st: VmState, links: Link[]): string[] {
  if (!st.tap) return [];
  const primary = primaryLink(st, links);
  if (!primary) return [];
  mirror(st, primary.ifname, st.tap, primary.mtu ?? 1500);
  st.bootNic = { ifname: primary.ifname, mac: primary.address! };
  return netLines('net', primary);
}

async function start(g: Globals, id: string): Promise<void> {
  const dir = join(g.root, id);
  const st = readState(dir, id);
  if (!alive(st.pid)) throw new ShimError(`container ${id} is not running: the VM stopped: ${vmFailure(dir)}`);
  if (st.started) throw new ShimError(`container ${id} is already running`);
  // The guest may still be booting (a slow TCG boot on a busy host takes tens of seconds): the agent
  // answers once it runs, so every wait here is bounded by the boot's deadline.
  const deadline = Date.now() + 120_000;
  const links = st.tap ? containerLinks(st) : [];
  for (const line of [...bootNicSetup(st, links), ...fileLines(st)]) control(dir, line, 30_000, st.pid);
  // The container's other networks (connected before the start): plugged before the process runs.
  if (st.tap) {
    await syncNics(dir, st, links, deadline);
    control(dir, routesLine(st), 30_000, st.pid);
  }
  control(dir, 'start', 30_000, st.pid);
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ ...st, started: true }));
  // Like runc, return once the process runs: the agent says so on the status port (after the boot).
  for (;;) {
    const status = existsSync(join(dir, 'status')) ? readFileSync(join(dir, 'status'), 'utf8') : '';
    if (/^(started|exit )/m.test(status) || !alive(st.pid)) return;
    if (Date.now() > deadline) throw new ShimError(`container ${id}: the VM did not start its process in time`);
    sleepSync(10);
  }
}

/**
 * `network ID` (not an OCI command: the vm runtime runs it after a network connect or disconnect of
 * a running container): plugs and unplugs NICs to match the container's interfaces, and hands the
 * agent the default routes and the rewritten /etc/hosts and resolv.conf.
 */
async function network(g: Globals, id: string): Promise<void> {
  const dir = join(g.root, id);
  const st = readState(dir, id);
  if (!alive(st.pid) || !st.started) throw new ShimError(`container ${id} is not running`);
  if (st.paused) throw new ShimError(`container ${id} is paused: unpause it to change its networks`);
  if (!st.tap) return;
  await syncNics(dir, st, containerLinks(st), Date.now() + 30_000);
  writeFileSync(join(dir, 'state.json'), JSON.stringify(st));
  // Returns once the agent has the new files: a process looking up a name next must see them.
  const mark = statusLength(dir);
  const token = randomBytes(4).toString('hex');
  for (const line of [routesLine(st), ...fileLines(st), `sync ${token}`]) control(dir, line, 5000, st.pid);
  awaitStatus(dir, mark, `sync ${token} `, st.pid, Date.now() + 30_000);
}

function state(g: Globals, id: string): void {
  const dir = join(g.root, id);
  const st = readState(dir, id);
  const running = alive(st.pid);
  const status = !running ? 'stopped' : st.paused ? 'paused' : st.started ? 'running' : 'created';
  process.stdout.write(
    JSON.stringify({ ociVersion: '1.0.2', id, pid: running ? st.pid : 0, status, bundle: st.bundle }),
  );
}

function kill(g: Globals, id: string, sig: string): void {
  const dir = join(g.root, id);
  const st = readState(dir, id);
  if (!alive(st.pid)) throw new ShimError(`container ${id} is not running`);
  const n = signalNumber(sig);
  const sigkill = n === osConstants.signals.SIGKILL;
  // Any signal before the process exists, SIGKILL to a frozen VM: the VM goes (the monitor's process group).
  if (!st.started || (sigkill && st.paused)) {
    process.kill(-st.pid, sigkill ? 'SIGKILL' : 'SIGTERM');
    return;
  }
  if (!sigkill) {
    control(dir, `signal ${n}`, 1000);
    return;
  }
  // SIGKILL through the agent first, so what the process wrote before it died still reaches the
  // log (a killed qemu drops the console data in flight); the VM itself when the agent is slow.
  const deadline = Date.now() + 2000;
  try {
    control(dir, `signal ${n}`, 500);
    while (alive(st.pid) && Date.now() < deadline) sleepSync(10);
  } catch {
    // The control port is gone: the VM is going anyway.
  }
  if (alive(st.pid)) process.kill(-st.pid, 'SIGKILL');
}

function stdinIsPipe(): boolean {
  const st = fstatSync(0);
  return st.isFIFO() || st.isSocket();
}

/**
 * `exec --process FILE --pid-file P --detach [--console-socket S] ID`: the relay (guest/host-relay.c)
 * becomes the process conmon supervises for the exec: it asks the agent to run the process and
 * relays its stdio (a pty with a console socket); execs run side by side (the monitor's `demux`
 * hands each its frames of the exec port).
 */
function exec(g: Globals, flags: Map<string, string | true>, id: string): void {
  if (!g.config) throw new ShimError('no --config');
  const cfg = JSON.parse(readFileSync(g.config, 'utf8')) as ShimConfig;
  const dir = join(g.root, id);
  const st = readState(dir, id);
  if (!alive(st.pid) || !st.started) throw new ShimError(`container ${id} is not running`);
  if (st.paused) throw new ShimError('cannot exec in a paused container (use resume)');
  const proc = JSON.parse(readFileSync(String(flags.get('--process')), 'utf8')) as Record<string, unknown>;
  const consoleSocket = flags.get('--console-socket');
  const tty = typeof consoleSocket === 'string';
  const pidFile = flags.get('--pid-file');
  if (typeof pidFile !== 'string') throw new ShimError('exec needs --pid-file');
  // Never 0: the agent's name for the container's main process.
  const token = ((randomBytes(4).readUInt32BE(0) | 1) >>> 0).toString(16);
  const spec = guestSpec({ process: proc }, { tty, stdin: !tty && stdinIsPipe() });
  writeFileSync(join(dir, `exec-${token}.req`), `exec ${token} ${spec.toString('hex')}\n`);
  execFileSync(cfg.relay, ['exec', dir, token, pidFile, ...(tty ? [consoleSocket] : [])], { stdio: 'inherit' });
}

interface QmpCommand {
  execute: string;
  arguments?: Record<string, unknown>;
  /** Done when this event (for this device) has come, not at the command's return (device_del). */
  until?: { event: string; device: string };
}

/**
 * Runs QMP commands in turn on the VM's monitor socket (after the capabilities handshake). Gives up
 * when qemu stays silent for 10 s or until `deadline` if later (a TCG guest booting on a busy host
 * can keep qemu's main loop from answering for longer).
 */
function qmp(dir: string, commands: QmpCommand[], deadline = 0): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // Relative, like qemu made it: the absolute path can exceed a unix socket address's 108 bytes.
    process.chdir(dir);
    const sock = connect('qmp.sock');
    const fail = (why: string) => {
      sock.destroy();
      reject(new ShimError(`qemu's monitor: ${why}`));
    };
    const silence = Math.max(10_000, deadline - Date.now());
    sock.setTimeout(silence, () => fail(`no answer in ${Math.round(silence / 1000)} s`));
    sock.on('error', (e) => fail(e.message));
    const seen = new Set<string>();
    let buf = '';
    let next = -1;
    let returned = false;
    const advance = () => {
      const until = commands[next]?.until;
      if (!returned || (until && !seen.has(`${until.event} ${until.device}`))) return;
      next++;
      returned = false;
      if (next === commands.length) {
        sock.end();
        return resolvePromise();
      }
      sock.write(`${JSON.stringify({ execute: commands[next]!.execute, arguments: commands[next]!.arguments })}\n`);
    };
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as {
          QMP?: unknown;
          return?: unknown;
          error?: { desc?: string };
          event?: string;
          data?: { device?: string };
        };
        buf = buf.slice(nl + 1);
        if (msg.error) return fail(msg.error.desc ?? 'error');
        if (msg.QMP) sock.write('{"execute":"qmp_capabilities"}\n');
        else if (msg.event) seen.add(`${msg.event} ${msg.data?.device ?? ''}`);
        else if (msg.return !== undefined) returned = true;
        if (!msg.QMP) advance();
      }
    });
  });
}

/** docker pause / unpause: the whole VM stops or continues (QMP `stop` / `cont`), as a frozen cgroup. */
async function setPaused(g: Globals, id: string, paused: boolean): Promise<void> {
  const dir = join(g.root, id);
  const st = readState(dir, id);
  if (!alive(st.pid) || !st.started) throw new ShimError(`container ${id} is not running`);
  if (Boolean(st.paused) === paused) throw new ShimError(`container ${id} is ${paused ? 'already' : 'not'} paused`);
  await qmp(dir, [{ execute: paused ? 'stop' : 'cont' }]);
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ ...st, paused }));
}

function del(g: Globals, flags: Map<string, string | true>, id: string): void {
  const dir = join(g.root, id);
  if (!existsSync(dir)) {
    if (flags.has('--force')) return;
    throw new ShimError(`container ${id} does not exist`);
  }
  const st = existsSync(join(dir, 'state.json')) ? readState(dir, id) : undefined;
  if (st && alive(st.pid)) {
    if (!flags.has('--force')) throw new ShimError(`cannot delete container ${id} that is not stopped`);
    try {
      process.kill(-st.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  removeCgroups(st?.cgroups ?? []);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * `update --resources FILE|- ID` (docker update): the new limits go to the container's cgroup in
 * the guest. The VM's own size stays: a memory limit above what the VM has takes a restart.
 */
function update(g: Globals, flags: Map<string, string | true>, id: string): void {
  const dir = join(g.root, id);
  const st = readState(dir, id);
  if (!alive(st.pid) || !st.started) throw new ShimError(`container ${id} is not running`);
  const from = flags.get('--resources') ?? flags.get('-r') ?? '-';
  const r = JSON.parse(readFileSync(from === '-' || from === true ? 0 : from, 'utf8')) as GuestResources;
  const limit = r.memory?.limit;
  const room = ((st.memoryMiB ?? 0) - GUEST_OVERHEAD_MIB) * 1024 * 1024;
  if (typeof limit === 'number' && limit > 0 && st.memoryMiB && limit > room)
    throw new ShimError(
      `the VM was started with ${st.memoryMiB} MiB: a memory limit above ${room / 1024 / 1024} MiB takes a restart of the container`,
    );
  for (const line of guestLimits(r)) control(dir, `limit ${line}`, 5000, st.pid);
}

async function main(argv: string[]): Promise<void> {
  const { g, cmd, flags, rest } = parse(argv);
  const id = rest[rest.length - 1] ?? '';
  try {
    switch (cmd) {
      case 'pause':
        return await setPaused(g, id, true);
      case 'resume':
        return await setPaused(g, id, false);
      case 'create':
        return create(g, flags, id);
      case 'start':
        return await start(g, id);
      case 'network':
        return await network(g, id);
      case 'state':
        return state(g, id);
      case 'kill':
        // kill [--all] ID [SIGNAL]
        return kill(g, rest[0] ?? '', rest[1] ?? 'TERM');
      case 'delete':
        return del(g, flags, id);
      case 'exec':
        return exec(g, flags, id);
      case 'update':
        return update(g, flags, id);
      case '--version':
      case 'version':
        process.stdout.write('skiff-vm-oci version 0.1.0\n');
        return;
      default:
        throw new ShimError(`${cmd || 'no command'}: not supported by the vm runtime`);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const line = `${JSON.stringify({ level: 'error', msg, time: new Date().toISOString() })}\n`;
    process.stderr.write(line);
    if (g.log) {
      try {
        appendFileSync(g.log, line);
      } catch {
        // The log is a courtesy.
      }
    }
    process.exitCode = 1;
  }
}

await main(process.argv.slice(2));
