import { release } from 'node:os';
import { InvalidParameterError } from '../plugin-api/errors.js';

/**
 * Seccomp profiles: skiff's default (deny by default, an allow-list modelled on moby's
 * `profiles/seccomp/default.json`) and Docker-format profiles from `--security-opt seccomp=…`,
 * both turned into the OCI `linux.seccomp` for one container the way moby's `setupSeccomp` does:
 * rules are kept or dropped by the container's capabilities, the host's architecture and kernel.
 */

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type SeccompOp =
  'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOp;
}

/** One OCI `linux.seccomp.syscalls` entry. */
export interface SeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

/** OCI `linux.seccomp` (runtime-spec config-linux.md). */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: SeccompSyscall[];
}

/** moby's rule filter: `includes` keeps a rule only when all match, `excludes` drops it when any does. */
interface RuleFilter {
  caps?: string[];
  /** Go architecture names: amd64, x86, x32, arm, arm64, s390, s390x, ppc64le, riscv64… */
  arches?: string[];
  minKernel?: string;
}

interface DockerRule extends SeccompSyscall {
  includes?: RuleFilter;
  excludes?: RuleFilter;
}

/** The Docker (moby/profiles `seccomp.Seccomp`) profile format accepted by `--security-opt seccomp=`. */
export interface DockerSeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures: string[] | null }>;
  flags?: string[];
  syscalls: DockerRule[];
}

const ALLOW = 'SCMP_ACT_ALLOW';
const EPERM = 1;
const ENOSYS = 38;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone without CAP_SYS_ADMIN must have none. */
const CLONE_NAMESPACE_MASK = 0x7e020000;
const AF_ALG = 38;
const AF_VSOCK = 40;

/**
 * Allowed for every container: moby's unconditional rule (no io_uring since moby 25, no keyring
 * syscalls: the kernel keyring is not namespaced).
 */
const ALWAYS_ALLOWED = `
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2
fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait
futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid
getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom
getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64
ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr
_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret
mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat
openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev
pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall riscv_hwprobe
rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32
setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32
setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
set_tid_address setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd
signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statmount statx
symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname
unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write
writev`;

const words = (s: string): string[] => s.trim().split(/\s+/);
const allow = (names: string, more: Omit<DockerRule, 'names' | 'action'> = {}): DockerRule => ({
  names: words(names),
  action: ALLOW,
  ...more,
});
const withCap = (cap: string, names: string): DockerRule => allow(names, { includes: { caps: [cap] } });
const onArch = (arches: string, names: string): DockerRule => allow(names, { includes: { arches: words(arches) } });
const argIs = (index: number, value: number, op: SeccompOp = 'SCMP_CMP_EQ'): SeccompArg[] => [{ index, value, op }];

/** skiff's default profile, in Docker's format so that the same code serves custom profiles. */
export const DEFAULT_DOCKER_PROFILE: DockerSeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: EPERM,
  archMap: [
    // moby also lists SCMP_ARCH_X32: each architecture costs runc ~6 ms to compile at every create,
    // and the x32 ABI is off in stock kernels (syscall.x32=n); its calls now meet the bad-arch action.
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    { architecture: 'SCMP_ARCH_MIPS64', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64N32'] },
    { architecture: 'SCMP_ARCH_MIPS64N32', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64'] },
    { architecture: 'SCMP_ARCH_MIPSEL64', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32'] },
    { architecture: 'SCMP_ARCH_MIPSEL64N32', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64'] },
    { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
    { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
    { architecture: 'SCMP_ARCH_LOONGARCH64', subArchitectures: null },
  ],
  syscalls: [
    allow(ALWAYS_ALLOWED),
    allow('process_vm_readv process_vm_writev ptrace', { includes: { minKernel: '4.8' } }),
    // Every socket family but AF_ALG (kernel crypto) and AF_VSOCK (host channel).
    allow('socket', { args: argIs(0, AF_ALG, 'SCMP_CMP_LT') }),
    allow('socket', { args: argIs(0, AF_ALG + 1) }),
    allow('socket', { args: argIs(0, AF_VSOCK, 'SCMP_CMP_GT') }),
    // personality(): PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the 0xffffffff query.
    ...[0, 8, 0x20000, 0x20008, 0xffffffff].map((v) => allow('personality', { args: argIs(0, v) })),
    onArch('ppc64le', 'sync_file_range2 swapcontext'),
    onArch('arm arm64', 'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'),
    onArch('amd64 x32', 'arch_prctl'),
    onArch('amd64 x32 x86', 'modify_ldt'),
    onArch('s390 s390x', 's390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'),
    onArch('riscv64', 'riscv_flush_icache'),
    withCap('CAP_DAC_READ_SEARCH', 'open_by_handle_at'),
    withCap(
      'CAP_SYS_ADMIN',
      `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr
       lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl
       quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare`,
    ),
    allow('clone', {
      args: argIs(0, CLONE_NAMESPACE_MASK, 'SCMP_CMP_MASKED_EQ'),
      excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
    }),
    // s390 passes clone's flags second.
    allow('clone', {
      args: argIs(1, CLONE_NAMESPACE_MASK, 'SCMP_CMP_MASKED_EQ'),
      includes: { arches: ['s390', 's390x'] },
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    // clone3's flags live in memory seccomp cannot read: ENOSYS makes libc fall back to clone.
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, excludes: { caps: ['CAP_SYS_ADMIN'] } },
    withCap('CAP_SYS_BOOT', 'reboot'),
    withCap('CAP_SYS_CHROOT', 'chroot'),
    withCap('CAP_SYS_MODULE', 'delete_module init_module finit_module'),
    withCap('CAP_SYS_PACCT', 'acct'),
    withCap('CAP_SYS_PTRACE', 'kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'),
    withCap('CAP_SYS_RAWIO', 'iopl ioperm'),
    withCap('CAP_SYS_TIME', 'settimeofday stime clock_settime clock_settime64'),
    withCap('CAP_SYS_TTY_CONFIG', 'vhangup'),
    withCap('CAP_SYS_NICE', 'get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
    withCap('CAP_SYSLOG', 'syslog'),
    withCap('CAP_BPF', 'bpf'),
    withCap('CAP_PERFMON', 'perf_event_open'),
  ],
};

/** Node's `process.arch` → Go's GOARCH, the names profile rules use. */
const GOARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: '386',
  arm: 'arm',
  arm64: 'arm64',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips64el: 'mips64le',
  loong64: 'loong64',
};

/** GOARCH → the native libseccomp architecture (moby's `nativeToSeccomp`). */
const NATIVE: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  '386': 'SCMP_ARCH_X86',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  s390x: 'SCMP_ARCH_S390X',
  riscv64: 'SCMP_ARCH_RISCV64',
  mips64le: 'SCMP_ARCH_MIPSEL64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
};

function kernelAtLeast(kernel: string, min: string): boolean {
  const have = kernel.split(/[.-]/).map((n) => Number.parseInt(n, 10) || 0);
  const want = min.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < want.length; i++) {
    const h = have[i] ?? 0;
    if (h !== want[i]) return h > want[i]!;
  }
  return true;
}

export interface SeccompTarget {
  /** The container's bounding set (what moby matches `caps` rules against). */
  capabilities: readonly string[];
  /** `process.arch`. */
  arch?: string;
  /** `os.release()`. */
  kernel?: string;
}

/** moby's `setupSeccomp`: the OCI profile of a Docker-format profile for one container. */
export function toOciSeccomp(profile: DockerSeccompProfile, target: SeccompTarget): SeccompProfile {
  const goarch = GOARCH[target.arch ?? process.arch] ?? target.arch ?? process.arch;
  const kernel = target.kernel ?? release();
  const held = new Set(target.capabilities);
  const native = NATIVE[goarch];
  let architectures: string[] = [];
  if (profile.architectures?.length) {
    architectures = [...profile.architectures];
  } else {
    for (const a of profile.archMap ?? []) {
      if (a.architecture === native) architectures.push(a.architecture, ...(a.subArchitectures ?? []));
    }
  }
  const keep = (r: DockerRule): boolean => {
    const inc = r.includes ?? {};
    const exc = r.excludes ?? {};
    // moby's rule arches say `x86` for 386.
    const archNames = goarch === '386' ? ['386', 'x86'] : [goarch];
    if (inc.arches?.length && !inc.arches.some((a) => archNames.includes(a))) return false;
    if (inc.caps?.length && !inc.caps.every((c) => held.has(c))) return false;
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return false;
    if (exc.arches?.some((a) => archNames.includes(a))) return false;
    if (exc.caps?.some((c) => held.has(c))) return false;
    return true;
  };
  const syscalls: SeccompSyscall[] = profile.syscalls.filter(keep).map((r) => ({
    names: [...r.names],
    action: r.action,
    ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
    ...(r.args?.length ? { args: r.args.map((a) => ({ ...a })) } : {}),
  }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    ...(architectures.length ? { architectures } : {}),
    ...(profile.flags?.length ? { flags: [...profile.flags] } : {}),
    syscalls,
  };
}

/** The default profile for a container holding `capabilities`, on `arch` (`process.arch`). */
export function defaultSeccompProfile(
  capabilities: readonly string[],
  arch: string = process.arch,
  kernel?: string,
): SeccompProfile {
  return toOciSeccomp(DEFAULT_DOCKER_PROFILE, { capabilities, arch, ...(kernel ? { kernel } : {}) });
}

const ACTIONS = new Set<string>([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
]);
const OPS = new Set<string>([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);
const MAX_PROFILE_BYTES = 1 << 20;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function bad(why: string): never {
  throw new InvalidParameterError(`invalid seccomp profile: ${why}`);
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '' || x.length > 64)) {
    bad(`${what} must be a list of names`);
  }
  return v as string[];
}

function errno(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4095) bad(`${what} must be an errno (0-4095)`);
  return v;
}

function filter(v: unknown, what: string): RuleFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) bad(`${what} must be an object`);
  const out: RuleFilter = {};
  const caps = strings(v.caps, `${what}.caps`);
  const arches = strings(v.arches, `${what}.arches`);
  if (caps.length) out.caps = caps;
  if (arches.length) out.arches = arches;
  if (v.minKernel !== undefined && v.minKernel !== '') {
    if (typeof v.minKernel !== 'string' || !/^\d+\.\d+(\.\d+)?$/.test(v.minKernel))
      bad(`${what}.minKernel must look like 4.8`);
    out.minKernel = v.minKernel;
  }
  return out;
}

/**
 * Parses a Docker-format profile as the docker CLI sends it (`seccomp=<file content>`): every field
 * is checked, so a bad profile is a 400 at create rather than a runtime failure at start.
 */
export function parseSeccompProfile(text: string): DockerSeccompProfile {
  if (text.length > MAX_PROFILE_BYTES) bad(`larger than ${MAX_PROFILE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    bad((e as Error).message);
  }
  if (!isObj(raw)) bad('not a JSON object');
  const action = (v: unknown, what: string): SeccompAction => {
    if (typeof v !== 'string' || !ACTIONS.has(v)) bad(`${what}: unknown action ${JSON.stringify(v)}`);
    return v as SeccompAction;
  };
  const architectures = strings(raw.architectures, 'architectures');
  const archMap: DockerSeccompProfile['archMap'] = [];
  if (raw.archMap !== undefined && raw.archMap !== null) {
    if (!Array.isArray(raw.archMap)) bad('archMap must be a list');
    for (const a of raw.archMap as unknown[]) {
      if (!isObj(a) || typeof a.architecture !== 'string') bad('archMap entries need an architecture');
      archMap.push({ architecture: a.architecture, subArchitectures: strings(a.subArchitectures, 'subArchitectures') });
    }
  }
  if (architectures.length && archMap.length)
    bad("'architectures' and 'archMap' were specified in the seccomp profile");
  if (raw.syscalls !== undefined && raw.syscalls !== null && !Array.isArray(raw.syscalls))
    bad('syscalls must be a list');
  const syscalls: DockerRule[] = [];
  for (const [i, s] of ((raw.syscalls ?? []) as unknown[]).entries()) {
    const where = `syscalls[${i}]`;
    if (!isObj(s)) bad(`${where} must be an object`);
    const names = strings(s.names, `${where}.names`);
    if (typeof s.name === 'string' && s.name !== '') {
      if (names.length) bad("use either 'name' or 'names'");
      names.push(s.name);
    }
    if (names.length === 0) bad(`${where} names no syscall`);
    const rule: DockerRule = { names, action: action(s.action, where) };
    const ret = errno(s.errnoRet, `${where}.errnoRet`);
    if (ret !== undefined) rule.errnoRet = ret;
    if (s.args !== undefined && s.args !== null) {
      if (!Array.isArray(s.args) || s.args.length > 6) bad(`${where}.args must be a list of at most 6`);
      rule.args = (s.args as unknown[]).map((a) => {
        if (!isObj(a)) bad(`${where}.args entries must be objects`);
        const num = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
        if (!num(a.index) || (a.index as number) > 5) bad(`${where}.args index must be 0-5`);
        if (!num(a.value) || (a.valueTwo !== undefined && !num(a.valueTwo)))
          bad(`${where}.args values must be unsigned integers`);
        if (typeof a.op !== 'string' || !OPS.has(a.op)) bad(`${where}.args: unknown operator ${JSON.stringify(a.op)}`);
        return {
          index: a.index as number,
          value: a.value as number,
          ...(a.valueTwo !== undefined ? { valueTwo: a.valueTwo as number } : {}),
          op: a.op as SeccompOp,
        };
      });
    }
    const inc = filter(s.includes, `${where}.includes`);
    const exc = filter(s.excludes, `${where}.excludes`);
    if (inc) rule.includes = inc;
    if (exc) rule.excludes = exc;
    syscalls.push(rule);
  }
  const profile: DockerSeccompProfile = { defaultAction: action(raw.defaultAction, 'defaultAction'), syscalls };
  const defaultErrnoRet = errno(raw.defaultErrnoRet, 'defaultErrnoRet');
  if (defaultErrnoRet !== undefined) profile.defaultErrnoRet = defaultErrnoRet;
  if (architectures.length) profile.architectures = architectures;
  if (archMap.length) profile.archMap = archMap;
  const flags = strings(raw.flags, 'flags');
  if (flags.length) profile.flags = flags;
  return profile;
}
