import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ExecSpec,
  type ExitStatus,
  type LogEntry,
  type Logger,
  type LogOptions,
  type Runtime,
  type RuntimeCapabilities,
  SystemError,
  type TaskSpec,
  type TaskState,
} from '@skiff/core/plugin-api';
import { LinuxRuntime } from '@skiff/runtime-linux';
import { pickAccel } from './accel.js';
import type { VmAssets } from './assets.js';
import type { ShareKind } from './share.js';
import { hostTscKHz } from './tsc.js';
import type { ShimConfig } from './vm-config.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The shim's file name: runtime-linux keeps its state under `roots/<name>`. */
const SHIM_NAME = 'skiff-vm-oci';

export interface VmRuntimeOptions {
  stateDir: string;
  assets: VmAssets;
  qemu: string;
  /** Needed for the virtio-fs share only. */
  virtiofsd?: string;
  share: ShareKind;
  /** qemu's `-bios`: qboot where Debian's qemu has it (faster than SeaBIOS); default SeaBIOS. */
  firmware?: string;
  conmon?: string;
  /** `auto` (probe the platform's hardware accelerator by booting, else TCG), `kvm`, `hvf` or `tcg`. */
  accel: string;
  memoryMiB: number;
  cpus: number;
  name?: string;
  log?: Logger;
}

/**
 * Runs each container in its own qemu VM (the Kata model). The VM is supervised exactly like a
 * runc container: conmon runs this plugin's OCI shim (`oci-shim.js`) in place of runc, so the
 * logs (k8s-file, rotation), exit files and live restore are runtime-linux's; the "container
 * process" conmon waits on is the VM's monitor script, which exits with the guest process's status.
 */
export class VmRuntime implements Runtime {
  readonly name: string;
  private inner: Promise<LinuxRuntime> | undefined;

  constructor(private readonly opts: VmRuntimeOptions) {
    this.name = opts.name ?? 'vm';
  }

  capabilities(): RuntimeCapabilities {
    return { terminal: true, stdin: true, survivesDaemonRestart: true };
  }

  /** Probes the accelerator, writes the shim's config and wrapper, on first use. */
  private runtime(): Promise<LinuxRuntime> {
    this.inner ??= (async () => {
      const o = this.opts;
      await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
      const accel = await pickAccel(o.accel, {
        qemu: o.qemu,
        kernel: o.assets.kernel,
        initrd: o.assets.initrd,
        firmware: o.firmware,
      });
      // Under TCG the guest's TSC is the host's: the guest is told its rate (see guest/host-tsc.c).
      const tscKHz = accel === 'tcg' ? await hostTscKHz(o.assets.tsc) : undefined;
      o.log?.info('vm runtime ready', { accel, kernel: o.assets.release, ...(tscKHz ? { tscKHz } : {}) });
      const config: ShimConfig = {
        kernel: o.assets.kernel,
        initrd: o.assets.initrd,
        qemu: o.qemu,
        virtiofsd: o.virtiofsd,
        share: o.share,
        accel,
        firmware: o.firmware,
        memoryMiB: o.memoryMiB,
        cpus: o.cpus,
        monitor: join(here, '..', 'guest', 'monitor.sh'),
        relay: o.assets.relay,
        tscKHz,
      };
      const configFile = join(o.stateDir, 'vm.json');
      await writeFile(configFile, JSON.stringify(config));
      const shim = join(o.stateDir, SHIM_NAME);
      const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
      await writeFile(
        shim,
        `#!/bin/sh\nexec ${q(process.execPath)} ${q(join(here, 'oci-shim.js'))} --config ${q(configFile)} "$@"\n`,
      );
      await chmod(shim, 0o755);
      return new LinuxRuntime({
        binary: shim,
        stateDir: join(o.stateDir, 'conmon'),
        conmon: o.conmon,
        name: this.name,
        log: o.log,
      });
    })();
    this.inner.catch(() => (this.inner = undefined));
    return this.inner;
  }

  async create(spec: TaskSpec): Promise<{ pid: number }> {
    return (await this.runtime()).create(spec);
  }

  async start(id: string): Promise<void> {
    return (await this.runtime()).start(id);
  }

  async kill(id: string, signal: string | number, opts?: { all?: boolean }): Promise<void> {
    return (await this.runtime()).kill(id, signal, opts);
  }

  async wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    return (await this.runtime()).wait(id, signal);
  }

  async state(id: string): Promise<TaskState> {
    return (await this.runtime()).state(id);
  }

  async delete(id: string): Promise<void> {
    return (await this.runtime()).delete(id);
  }

  logs(id: string, logPath: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const rt = this.runtime();
    return {
      async *[Symbol.asyncIterator]() {
        yield* (await rt).logs(id, logPath, opts);
      },
    };
  }

  async openStdin(id: string, execId?: string): Promise<NodeJS.WritableStream> {
    return (await this.runtime()).openStdin(id, execId);
  }

  async exec(id: string, spec: ExecSpec): Promise<{ pid: number }> {
    return (await this.runtime()).exec(id, spec);
  }

  /** The whole VM stops (QMP `stop`): its processes, its clock and its devices, as a frozen cgroup would. */
  async pause(id: string): Promise<void> {
    return (await this.runtime()).pause(id);
  }

  async resume(id: string): Promise<void> {
    return (await this.runtime()).resume(id);
  }

  /** docker update: the container's limits in the guest (the VM keeps the size it started with). */
  async update(id: string, resources: Record<string, unknown>): Promise<void> {
    return (await this.runtime()).update(id, resources);
  }

  /**
   * What the VM costs the host (its cgroup there holds the monitor, qemu and virtiofsd), against
   * the VM's size: the memory limit `docker stats` shows is the VM's RAM, not the host's.
   */
  async stats(id: string): Promise<Record<string, unknown>> {
    const stats = await (await this.runtime()).stats(id);
    const vmBytes = (await this.vmMemoryMiB(id)) * 1024 * 1024;
    const memory = (stats.memory_stats ?? {}) as { limit?: number };
    if (vmBytes > 0 && !(typeof memory.limit === 'number' && memory.limit > 0 && memory.limit < vmBytes))
      stats.memory_stats = { ...memory, limit: vmBytes };
    return stats;
  }

  /**
   * A network connect or disconnect of the running container: the shim plugs a NIC into the VM for
   * each new interface of the container's namespace (and unplugs the gone ones), and hands the
   * agent the new /etc/hosts.
   */
  async networkChanged(id: string): Promise<void> {
    await this.runtime();
    await new Promise<void>((resolve, reject) => {
      execFile(join(this.opts.stateDir, SHIM_NAME), [`--root=${this.shimRoot}`, 'network', id], (err, _out, stderr) => {
        if (!err) return resolve();
        // The shim's error is one JSON log line ({"level":"error","msg":…}), as runc's.
        let msg: string | undefined;
        try {
          msg = (JSON.parse(stderr.trim().split('\n').at(-1) ?? '') as { msg?: string }).msg;
        } catch {
          // Not a log line (the shim crashed): its stderr as it is.
        }
        reject(new SystemError(msg ?? (stderr.trim() || err.message)));
      });
    });
  }

  /** The shim's state root (runtime-linux keeps an OCI runtime's under `roots/<name>`). */
  private get shimRoot(): string {
    return join(this.opts.stateDir, 'conmon', 'roots', SHIM_NAME);
  }

  /** The RAM the VM was started with (the shim's state), or 0 when unknown. */
  private async vmMemoryMiB(id: string): Promise<number> {
    const state = join(this.shimRoot, id, 'state.json');
    try {
      const mib = (JSON.parse(await readFile(state, 'utf8')) as { memoryMiB?: unknown }).memoryMiB;
      return typeof mib === 'number' && mib > 0 ? mib : 0;
    } catch {
      return 0;
    }
  }

  /** The VM's host processes (qemu, virtiofsd, the monitor): the guest's are not listed. */
  async pids(id: string): Promise<number[]> {
    return (await this.runtime()).pids(id);
  }

  async resize(id: string, width: number, height: number, execId?: string): Promise<void> {
    return (await this.runtime()).resize(id, width, height, execId);
  }

  async waitExec(id: string, execId: string, signal?: AbortSignal): Promise<ExitStatus> {
    return (await this.runtime()).waitExec(id, execId, signal);
  }

  async close(): Promise<void> {
    if (this.inner) await (await this.inner).close();
  }
}
