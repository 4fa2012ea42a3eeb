/**
 * skiff's default seccomp profile.
 *
 * Docker's profile (moby/profiles seccomp/default.json) is an allowlist: SCMP_ACT_ERRNO by default
 * and ~440 allowed syscalls. This one is the complementary *denylist*: SCMP_ACT_ALLOW by default,
 * with EPERM for exactly the syscalls that Docker's profile leaves out or gates behind a
 * capability the container does not have. The effect on a default container is the same for
 * every syscall below; syscalls newer than this list are allowed rather than refused.
 *
 * Always denied (Docker denies them whatever the capabilities): keyring (add_key, keyctl,
 * request_key), io_uring (io_uring_setup/enter/register, denied by moby ≥ 25), obsolete or
 * host-global calls (create_module, get_kernel_syms, query_module, nfsservctl, uselib, ustat,
 * sysfs, _sysctl, vm86, vm86old, lookup_dcookie, kexec_* without CAP_SYS_BOOT…).
 * Denied unless the named capability is granted, like Docker: see GATED below. `clone` and
 * `unshare` with namespace flags need CAP_SYS_ADMIN (this also blocks CLONE_NEWUSER, the
 * unprivileged-user-namespace escape surface); `clone3` answers ENOSYS so libc falls back to
 * `clone`, whose flags seccomp can inspect.
 */

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_MASKED_EQ' | 'SCMP_CMP_EQ' | 'SCMP_CMP_NE';
}

export interface SeccompSyscall {
  names: string[];
  action: 'SCMP_ACT_ERRNO' | 'SCMP_ACT_ALLOW';
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: SeccompSyscall[];
}

const EPERM = 1;
const ENOSYS = 38;

const ALWAYS_DENIED = [
  'add_key',
  'keyctl',
  'request_key',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'create_module',
  'get_kernel_syms',
  'query_module',
  'nfsservctl',
  'uselib',
  'ustat',
  'sysfs',
  '_sysctl',
  'vm86',
  'vm86old',
];

/** Syscalls Docker only allows with the given capability. */
const GATED: Readonly<Record<string, readonly string[]>> = {
  CAP_SYS_ADMIN: [
    'mount',
    'umount',
    'umount2',
    'mount_setattr',
    'move_mount',
    'open_tree',
    'fsopen',
    'fsconfig',
    'fsmount',
    'fspick',
    'pivot_root',
    'unshare',
    'setns',
    'quotactl',
    'quotactl_fd',
    'lookup_dcookie',
    'name_to_handle_at',
    'fanotify_init',
    'bpf',
    'perf_event_open',
    'swapon',
    'swapoff',
  ],
  CAP_SYS_BOOT: ['reboot', 'kexec_load', 'kexec_file_load'],
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  CAP_SYS_PTRACE: ['kcmp', 'process_madvise', 'pidfd_getfd', 'userfaultfd'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_NICE: ['get_mempolicy', 'set_mempolicy', 'set_mempolicy_home_node', 'mbind', 'move_pages'],
  CAP_SYSLOG: ['syslog'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  // Newer kernels split these out of CAP_SYS_ADMIN; moby accepts either.
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET. */
const CLONE_NAMESPACE_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

function architectures(arch: string): string[] {
  switch (arch) {
    case 'x64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'arm64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    case 'arm':
      return ['SCMP_ARCH_ARM'];
    case 'ia32':
      return ['SCMP_ARCH_X86'];
    case 'ppc64':
      return ['SCMP_ARCH_PPC64LE'];
    case 's390x':
      return ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'];
    case 'riscv64':
      return ['SCMP_ARCH_RISCV64'];
    default:
      return [];
  }
}

/** The profile for a container holding `capabilities` (effective set), on `arch` (`process.arch`). */
export function defaultSeccompProfile(capabilities: readonly string[], arch: string = process.arch): SeccompProfile {
  const held = new Set(capabilities);
  const allowed = new Set<string>();
  for (const [cap, names] of Object.entries(GATED)) {
    if (held.has(cap)) for (const n of names) allowed.add(n);
  }
  const denied = new Set<string>(ALWAYS_DENIED);
  for (const names of Object.values(GATED)) for (const n of names) if (!allowed.has(n)) denied.add(n);
  const syscalls: SeccompSyscall[] = [{ names: [...denied].sort(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }];
  if (!held.has('CAP_SYS_ADMIN')) {
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
    // s390 passes clone's flags in the second argument.
    const flagsArg = arch === 's390x' ? 1 : 0;
    for (const flag of CLONE_NAMESPACE_FLAGS) {
      syscalls.push({
        names: ['clone'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: EPERM,
        args: [{ index: flagsArg, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
      });
    }
  }
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: architectures(arch), syscalls };
}
