/*
 * skiff VM agent: PID 1 of the guest. Loads the virtio modules, mounts the container's rootfs
 * (the host's share "rootfs", virtio-fs or 9p), reads the process spec from fw_cfg, waits for "start" on the control
 * port, runs the process in the rootfs (moved over "/" in a mount namespace of its own) with its stdout/stderr on the "stdout"/"stderr"
 * virtio-serial ports, forwards "signal N" lines to it, and reports its exit status on the
 * "status" port before powering the VM off. Built static at `skiff-vm-assets` time.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPEC_PATH "/sys/firmware/qemu_fw_cfg/by_name/opt/skiff/spec/raw"
#define MAX_ITEMS 4096

static int status_fd = -1;

/* Seconds since boot at: init entered, rootfs ready, process started (for the benchmark's breakdown). */
static double t_init, t_ready, t_start;

static double uptime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void logmsg(const char *fmt, const char *arg) {
  dprintf(2, "skiff-agent: ");
  dprintf(2, fmt, arg);
  dprintf(2, "\n");
}

/* docker run -t: the process's pty master and the "tty" port it is relayed to. */
static int main_pty = -1, main_tty_port = -1;

static void poweroff_oom(int code, int oom) {
  /* What the process wrote last is still in the pty (non-blocking: EIO or EAGAIN once empty). */
  char buf[16384];
  for (ssize_t n; main_pty >= 0 && main_tty_port >= 0 && ((n = read(main_pty, buf, sizeof buf)) > 0 || errno == EINTR);)
    if (n > 0 && write(main_tty_port, buf, (size_t)n) < 0) break;
  if (status_fd >= 0) dprintf(status_fd, "exit %d%s\n", code, oom ? " oom" : "");
  dprintf(1, "skiff-agent: timing init=%.6f ready=%.6f start=%.6f exit=%.6f\n", t_init, t_ready, t_start, uptime());
  sync();
  reboot(RB_POWER_OFF);
  _exit(code);
}

static void poweroff(int code) { poweroff_oom(code, 0); }

static void die(const char *what) {
  logmsg("%s", what);
  dprintf(2, "skiff-agent: %s: %s\n", what, strerror(errno));
  poweroff(255);
}

/* Whether a virtio network device is on the PCI bus (transitional 1af4:1000 or modern 1af4:1041). */
static int has_virtio_net(void) {
  DIR *d = opendir("/sys/bus/pci/devices");
  if (!d) return 1;
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    char p[512], vendor[16] = {0}, device[16] = {0};
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/vendor", e->d_name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, vendor, sizeof vendor - 1);
    close(fd);
    snprintf(p, sizeof p, "/sys/bus/pci/devices/%s/device", e->d_name);
    if (n <= 0 || strncmp(vendor, "0x1af4", 6) || (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) continue;
    n = read(fd, device, sizeof device - 1);
    close(fd);
    found = n > 0 && (!strncmp(device, "0x1000", 6) || !strncmp(device, "0x1041", 6));
  }
  closedir(d);
  return found;
}

/*
 * The modules in /modules/order ("GROUP NAME" lines): "base" always, the share kind's group, "net"
 * only for a VM with a NIC (each module costs time under TCG).
 */
static void load_modules(const char *share) {
  FILE *f = fopen("/modules/order", "r");
  if (!f) return;
  int net = has_virtio_net();
  char line[256], group[64], name[128];
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%63s %127s", group, name) != 2) continue;
    if (strcmp(group, "base") && strcmp(group, share) && !(net && !strcmp(group, "net"))) continue;
    char path[512];
    snprintf(path, sizeof path, "/modules/%s.ko", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) logmsg("cannot load module %s", name);
    close(fd);
  }
  fclose(f);
}

/* /dev/vportNpM of the virtio-serial port named `name` (waits for udev-less hotplug to settle). */
static int open_port(const char *name, int flags) {
  for (int tries = 0; tries < 2000; tries++) {
    DIR *d = opendir("/sys/class/virtio-ports");
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[512], buf[128] = {0};
        snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
        int fd = open(p, O_RDONLY);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
        if (strcmp(buf, name) == 0) {
          snprintf(p, sizeof p, "/dev/%s", e->d_name);
          int pfd = open(p, flags | O_CLOEXEC);
          if (pfd >= 0) {
            closedir(d);
            return pfd;
          }
        }
      }
      closedir(d);
    }
    usleep(1000);
  }
  /* For the error message: the ports there are. */
  DIR *d = opendir("/sys/class/virtio-ports");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char p[512], buf[128] = {0};
    snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
    int fd = open(p, O_RDONLY);
    if (fd >= 0 && read(fd, buf, sizeof buf - 1) >= 0) dprintf(2, "skiff-agent: port %s: %s", e->d_name, buf);
    if (fd >= 0) close(fd);
  }
  if (d) closedir(d);
  return -1;
}

/* The spec: NUL-terminated "key", "value" pairs (arg, env, cwd, uid, gid, gid+, hostname). */
struct spec {
  char *args[MAX_ITEMS];
  int nargs;
  char *env[MAX_ITEMS];
  int nenv;
  const char *cwd;
  const char *hostname;
  uid_t uid;
  gid_t gid;
  gid_t gids[256];
  int ngids;
  char *limits[16]; /* "FILE VALUE": the container's cgroup limits (memory.max, pids.max, cpu.max, ...) */
  int nlimits;
  int stdin;
  int tty;
  int readonly;
  int caps; /* the capability sets below are given */
  unsigned long long cap_bnd, cap_eff, cap_prm, cap_inh;
  int nnp;
  char *mounts[256];
  int nmounts;
  char *masked[64]; /* OCI maskedPaths */
  int nmasked;
  char *ropaths[64]; /* OCI readonlyPaths */
  int nropaths;
};

static char *read_file(const char *path, size_t *len) {
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 2000; tries++) {
    fd = open(path, O_RDONLY);
    if (fd < 0) usleep(1000);
  }
  if (fd < 0) return NULL;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + n, cap - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

static void parse_spec(struct spec *s, char *buf, size_t len) {
  memset(s, 0, sizeof *s);
  s->cwd = "/";
  for (size_t i = 0; i < len;) {
    char *key = buf + i;
    i += strlen(key) + 1;
    if (i >= len) break;
    char *val = buf + i;
    i += strlen(val) + 1;
    if (!strcmp(key, "arg") && s->nargs < MAX_ITEMS - 1) s->args[s->nargs++] = val;
    else if (!strcmp(key, "env") && s->nenv < MAX_ITEMS - 1) s->env[s->nenv++] = val;
    else if (!strcmp(key, "cwd")) s->cwd = val;
    else if (!strcmp(key, "hostname")) s->hostname = val;
    else if (!strcmp(key, "uid")) s->uid = (uid_t)strtoul(val, NULL, 10);
    else if (!strcmp(key, "gid")) s->gid = (gid_t)strtoul(val, NULL, 10);
    else if (!strcmp(key, "limit") && s->nlimits < 16) s->limits[s->nlimits++] = val;
    else if (!strcmp(key, "stdin")) s->stdin = 1;
    else if (!strcmp(key, "tty")) s->tty = 1;
    else if (!strcmp(key, "readonly")) s->readonly = 1;
    else if (!strcmp(key, "nnp")) s->nnp = 1;
    else if (!strcmp(key, "caps"))
      s->caps = sscanf(val, "%llx %llx %llx %llx", &s->cap_bnd, &s->cap_eff, &s->cap_prm, &s->cap_inh) == 4;
    else if (!strcmp(key, "mount") && s->nmounts < 256) s->mounts[s->nmounts++] = val;
    else if (!strcmp(key, "mask") && s->nmasked < 64) s->masked[s->nmasked++] = val;
    else if (!strcmp(key, "ropath") && s->nropaths < 64) s->ropaths[s->nropaths++] = val;
    else if (!strcmp(key, "gid+") && s->ngids < 256) s->gids[s->ngids++] = (gid_t)strtoul(val, NULL, 10);
  }
}

static const char *getenv_in(char **env, const char *name) {
  size_t n = strlen(name);
  for (; *env; env++)
    if (!strncmp(*env, name, n) && (*env)[n] == '=') return *env + n + 1;
  return NULL;
}

/* execvpe with the container's PATH (execvpe would use ours). */
static void exec_in_path(char **args, char **env) {
  if (strchr(args[0], '/')) {
    execve(args[0], args, env);
    return;
  }
  const char *path = getenv_in(env, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int saved = ENOENT;
  char *copy = strdup(path);
  for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", dir, args[0]);
    execve(full, args, env);
    if (errno != ENOENT && errno != ENOTDIR) saved = errno;
  }
  errno = saved;
}

static void mount_container_fs(void) {
  mkdir("/rootfs/proc", 0555);
  mkdir("/rootfs/sys", 0555);
  mkdir("/rootfs/dev", 0755);
  mount("proc", "/rootfs/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("sysfs", "/rootfs/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
  mount("tmpfs", "/rootfs/dev", "tmpfs", MS_NOSUID, "mode=755,size=65536k");
  static const struct { const char *name; mode_t mode; int major, minor; } devs[] = {
      {"null", 0666, 1, 3}, {"zero", 0666, 1, 5}, {"full", 0666, 1, 7},
      {"random", 0666, 1, 8}, {"urandom", 0666, 1, 9}, {"tty", 0666, 5, 0},
  };
  for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
    char p[64];
    snprintf(p, sizeof p, "/rootfs/dev/%s", devs[i].name);
    mknod(p, S_IFCHR | devs[i].mode, makedev(devs[i].major, devs[i].minor));
    chmod(p, devs[i].mode);
  }
  mkdir("/rootfs/dev/pts", 0755);
  mount("devpts", "/rootfs/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  symlink("pts/ptmx", "/rootfs/dev/ptmx");
  mkdir("/rootfs/dev/shm", 01777);
  mount("shm", "/rootfs/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  symlink("/proc/self/fd", "/rootfs/dev/fd");
  symlink("/proc/self/fd/0", "/rootfs/dev/stdin");
  symlink("/proc/self/fd/1", "/rootfs/dev/stdout");
  symlink("/proc/self/fd/2", "/rootfs/dev/stderr");
}

/* mkdir -p of /rootfs + dest (created in the container's rw layer, as runc creates mount targets). */
static void make_target(char *path) {
  for (char *p = path + strlen("/rootfs/"); (p = strchr(p, '/')); p++) {
    *p = 0;
    mkdir(path, 0755);
    *p = '/';
  }
  mkdir(path, 0755);
}

/*
 * OCI maskedPaths and readonlyPaths, as runc applies them: a masked directory gets an empty
 * read-only tmpfs, anything else masked a bind of /dev/null; a read-only path a read-only bind of
 * itself. Called in the main process's mount namespace, inside its rootfs. Only paths in /proc and
 * /sys (all of Docker's are): kernel file systems mounted there by the agent and the process, with
 * no symlink of the image's on the way. A path this kernel lacks is skipped.
 */
static int protect_path(const char *path, int mask) {
  if (strncmp(path, "/proc/", 6) && strncmp(path, "/sys/", 5)) return 0;
  if (strstr(path, "/../") || strstr(path, "/./")) return 0;
  const char *target = path;
  struct stat st;
  if (lstat(target, &st) != 0 || S_ISLNK(st.st_mode)) return 0;
  int rc;
  if (!mask) {
    rc = mount(target, target, NULL, MS_BIND | MS_REC, NULL);
    if (rc == 0)
      rc = mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  } else if (S_ISDIR(st.st_mode)) {
    rc = mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0");
  } else {
    rc = mount("/dev/null", target, NULL, MS_BIND, NULL);
  }
  if (rc != 0) dprintf(2, "cannot %s %s: %s\n", mask ? "mask" : "make read-only", path, strerror(errno));
  return rc;
}

/* How the host's directories are shared: "virtiofs" or "9p" (skiff.share= on the command line). */
static char share_kind[16] = "virtiofs";

/* Mounts the host's share `tag` on `target`. */
static int mount_share(const char *tag, const char *target, unsigned long flags) {
  if (!strcmp(share_kind, "9p"))
    /* cache=mmap: shared writable mappings work (as on virtio-fs); data is not cached otherwise. */
    return mount(tag, target, "9p", flags, "trans=virtio,version=9p2000.L,cache=mmap,msize=524288");
  return mount(tag, target, "virtiofs", flags, NULL);
}

/*
 * "share FLAGS TAG DEST": a directory the host shares (virtio-fs or 9p); "tmpfs FLAGS DATA DEST":
 * a tmpfs (DATA "-" for none). FLAGS: MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC bits.
 */
static void container_mount(const char *line) {
  char kind[16], arg[1024];
  unsigned long flags;
  int off = 0;
  if (sscanf(line, "%15s %lu %1023s %n", kind, &flags, arg, &off) != 3 || off == 0 || line[off] != '/') {
    logmsg("bad mount: %s", line);
    return;
  }
  char target[4096];
  snprintf(target, sizeof target, "/rootfs%s", line + off);
  make_target(target);
  flags &= MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  int rc = !strcmp(kind, "share")   ? mount_share(arg, target, flags)
           : !strcmp(kind, "tmpfs")  ? mount("tmpfs", target, "tmpfs", flags, strcmp(arg, "-") ? arg : NULL)
                                     : -1;
  if (rc != 0) {
    dprintf(2, "skiff-agent: cannot mount %s on %s: %s\n", kind, line + off, strerror(errno));
    poweroff(255);
  }
}

#define CGROUP "/sys/fs/cgroup/container"

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n < 0 ? -1 : 0;
}

/* "FILE VALUE": one of the container cgroup's limit files (the host computes the values). */
static void set_limit(const char *line) {
  static const char *const files[] = {"memory.max", "memory.low", "pids.max", "cpu.max", "cpu.weight"};
  const char *sp = strchr(line, ' ');
  if (!sp) return;
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    if (strlen(files[i]) != (size_t)(sp - line) || strncmp(line, files[i], (size_t)(sp - line))) continue;
    char path[64];
    snprintf(path, sizeof path, CGROUP "/%s", files[i]);
    if (write_file(path, sp + 1) != 0) logmsg("cannot set %s", files[i]);
    return;
  }
}

/* The container's processes run in a cgroup with the container's limits (an OOM kill is reported). */
static int setup_cgroup(struct spec *s) {
  mkdir("/sys/fs/cgroup", 0755);
  if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) != 0) return -1;
  for (const char *const *c = (const char *const[]){"+memory", "+pids", "+cpu", NULL}; *c; c++)
    if (write_file("/sys/fs/cgroup/cgroup.subtree_control", *c) != 0) logmsg("cannot enable the %s controller", *c + 1);
  if (mkdir(CGROUP, 0755) != 0) return -1;
  for (int i = 0; i < s->nlimits; i++) set_limit(s->limits[i]);
  return 0;
}

static int oom_killed(void) {
  int fd = open(CGROUP "/memory.events", O_RDONLY);
  if (fd < 0) return 0;
  char buf[512] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  char *p = strstr(buf, "oom_kill ");
  return p && atoi(p + 9) > 0;
}

static int cgroup_ok;

/* The container's main process: its pid and mount namespaces are the ones execs join. */
static pid_t main_pid = -1;

/*
 * Starts the spec's process in the container; stdio are the given fds (a pty slave with tty). The
 * main process is PID 1 of a pid namespace of its own, as with runc (clone with CLONE_NEWPID works
 * as fork for the caller); an exec joins its pid and mount namespaces.
 */
static pid_t spawn_process(struct spec *s, sigset_t *mask, int in, int out, int err) {
  int own_pidns = -1, main_mntns = -1;
  pid_t pid;
  if (main_pid > 0) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/mnt", main_pid);
    main_mntns = open(p, O_RDONLY | O_CLOEXEC);
    snprintf(p, sizeof p, "/proc/%d/ns/pid", main_pid);
    int main_pidns = open(p, O_RDONLY | O_CLOEXEC);
    own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    /* setns on a pid namespace applies to the children forked after it: ours, then back. */
    int ok = main_mntns >= 0 && main_pidns >= 0 && own_pidns >= 0 && setns(main_pidns, CLONE_NEWPID) == 0;
    if (main_pidns >= 0) close(main_pidns);
    pid = ok ? fork() : -1;
    if (own_pidns >= 0 && ok) setns(own_pidns, CLONE_NEWPID);
    if (own_pidns >= 0) close(own_pidns);
    if (pid != 0) {
      if (main_mntns >= 0) close(main_mntns);
      return pid;
    }
  } else {
    pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0);
    if (pid != 0) {
      if (pid > 0) main_pid = pid;
      return pid;
    }
  }
  sigprocmask(SIG_UNBLOCK, mask, NULL);
  setsid();
  if (cgroup_ok) write_file(CGROUP "/cgroup.procs", "0");
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  if (s->tty) ioctl(0, TIOCSCTTY, 0);
  /*
   * Into the container's rootfs as switch_root does (pivot_root refuses an initramfs root): in a
   * mount namespace of its own, the rootfs mount moves over "/" and becomes the root. A chroot
   * escape then ends on that mount, never in the agent's initramfs (its ports and devices).
   */
  if (main_mntns >= 0) {
    /* The namespace's root is the moved rootfs (setns looks "/" up through the mounts). */
    if (setns(main_mntns, CLONE_NEWNS) != 0 || chdir("/") != 0) {
      dprintf(2, "entering the container: %s\n", strerror(errno));
      _exit(127);
    }
  } else {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 || chdir("/rootfs") != 0 ||
        mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0) {
      dprintf(2, "entering the rootfs: %s\n", strerror(errno));
      _exit(127);
    }
    /* A /proc of the new pid namespace, then the OCI masked and read-only paths on it and /sys. */
    if (umount2("/proc", MNT_DETACH) != 0 || mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
      dprintf(2, "mounting /proc: %s\n", strerror(errno));
      _exit(127);
    }
    for (int i = 0; i < s->nmasked; i++)
      if (protect_path(s->masked[i], 1) != 0) _exit(127);
    for (int i = 0; i < s->nropaths; i++)
      if (protect_path(s->ropaths[i], 0) != 0) _exit(127);
  }
  if (chdir(s->cwd) != 0) {
    dprintf(2, "chdir to cwd (\"%s\") set in config.json failed: %s\n", s->cwd, strerror(errno));
    _exit(127);
  }
  /* The bounding set first: dropping needs CAP_SETPCAP, which the user change may take away. */
  for (int c = 0; s->caps && c < 64; c++)
    if (!(s->cap_bnd >> c & 1) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
      dprintf(2, "cannot drop capability %d: %s\n", c, strerror(errno));
      _exit(127);
    }
  if (setgroups((size_t)s->ngids, s->gids) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0) {
    dprintf(2, "cannot set user %u:%u: %s\n", s->uid, s->gid, strerror(errno));
    _exit(127);
  }
  if (s->caps) {
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2] = {
        {(uint32_t)s->cap_eff, (uint32_t)s->cap_prm, (uint32_t)s->cap_inh},
        {(uint32_t)(s->cap_eff >> 32), (uint32_t)(s->cap_prm >> 32), (uint32_t)(s->cap_inh >> 32)},
    };
    /* A user other than root has none left after setuid: raising them fails, as it should. */
    if (syscall(SYS_capset, &h, d) != 0 && s->uid == 0) {
      dprintf(2, "cannot set capabilities: %s\n", strerror(errno));
      _exit(127);
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  }
  if (s->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    dprintf(2, "cannot set no_new_privs: %s\n", strerror(errno));
    _exit(127);
  }
  s->env[s->nenv] = NULL;
  s->args[s->nargs] = NULL;
  exec_in_path(s->args, s->env);
  int e = errno;
  dprintf(2, "exec: \"%s\": %s\n", s->args[0], e == ENOENT ? "executable file not found in $PATH" : strerror(e));
  _exit(e == ENOENT ? 127 : 126);
}

/* Bytes waiting for a process's input (its stdin pipe or pty master), written as it reads them. */
struct outq {
  int fd;
  char *buf;
  size_t len, cap;
  int close_after; /* the input ended: close fd once the queue is empty */
};

static void outq_push(struct outq *q, const char *data, size_t n) {
  if (q->fd < 0) return;
  if (q->len + n > q->cap) {
    q->cap = (q->len + n) * 2;
    q->buf = realloc(q->buf, q->cap);
  }
  memcpy(q->buf + q->len, data, n);
  q->len += n;
}

static void outq_reset(struct outq *q) {
  if (q->fd >= 0) close(q->fd);
  q->fd = -1;
  q->len = 0;
  q->close_after = 0;
}

/* Writes what the reader takes now; closes the fd after the end of input once all is written. */
static void outq_flush(struct outq *q) {
  while (q->fd >= 0 && q->len > 0) {
    ssize_t w = write(q->fd, q->buf, q->len);
    if (w <= 0) {
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) return;
      q->len = 0; /* the reader is gone */
      break;
    }
    memmove(q->buf, q->buf + w, q->len - (size_t)w);
    q->len -= (size_t)w;
  }
  if (q->fd >= 0 && q->len == 0 && q->close_after) outq_reset(q);
}

/* A pty in the container's devpts (so `tty` names /dev/pts/N there); the slave in *slave. */
static int container_pty(int *slave) {
  int m = open("/rootfs/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return -1;
  int unlock = 0;
  if (ioctl(m, TIOCSPTLCK, &unlock) != 0 || (*slave = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0) {
    close(m);
    return -1;
  }
  fcntl(m, F_SETFL, O_NONBLOCK);
  return m;
}

static void set_size(int pty, const char *rows_cols) {
  unsigned rows, cols;
  if (pty < 0 || sscanf(rows_cols, "%u %u", &rows, &cols) != 2) return;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  ioctl(pty, TIOCSWINSZ, &ws);
}

/* Reads what is left in a pty master after its process exited (non-blocking) to `port`. */
static void drain_pty(int pty, void (*to)(void *, const char *, size_t), void *arg) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(pty, buf, sizeof buf);
    if (n > 0) to(arg, buf, (size_t)n);
    else if (n < 0 && errno == EINTR) continue;
    else return;
  }
}

/*
 * An exec. Execs run side by side (up to MAX_EXECS); their output goes to the "exec" port in frames
 * (type 1 stdout, 2 stderr, 3 exit status; a 4-byte token from the request; a 4-byte length) that
 * the host demultiplexes by token. With a tty, out is the pty master (input goes to it too); with
 * stdin, input goes to a pipe.
 */
#define MAX_EXECS 16
struct exec_state {
  pid_t pid;
  int out, err; /* read ends, -1 once drained */
  int status;   /* -1 while running */
  int tty;
  uint32_t token;
  struct outq in;
};

static int exec_port = -1;

static void frame(int port, uint8_t type, uint32_t token, const void *data, uint32_t len) {
  unsigned char h[9] = {type, token >> 24, token >> 16, token >> 8, token, len >> 24, len >> 16, len >> 8, len};
  struct iovec iov[2] = {{h, 9}, {(void *)data, len}};
  if (writev(port, iov, 2) < 0) logmsg("%s", "exec port write failed");
}

static void exec_output(void *arg, const char *data, size_t n) {
  frame(exec_port, 1, ((struct exec_state *)arg)->token, data, (uint32_t)n);
}

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes hex in place; returns the byte count. */
static size_t unhex(char *hex) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) hex[i] = (char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
  return n;
}

/* The running exec with `token`, or NULL. */
static struct exec_state *exec_of(struct exec_state *xs, uint32_t token) {
  for (int i = 0; i < MAX_EXECS; i++)
    if (xs[i].pid > 0 && xs[i].token == token) return &xs[i];
  return NULL;
}

/* An exec that cannot start: its error, then exit code 126 (as runc's exec failures). */
static void exec_refused(uint32_t token, const char *msg) {
  frame(exec_port, 2, token, msg, (uint32_t)strlen(msg));
  unsigned char c = 126;
  frame(exec_port, 3, token, &c, 1);
}

/* "exec <token hex> <spec hex>", in a free slot of xs. */
static void start_exec(struct exec_state *xs, char *req, sigset_t *mask) {
  char *sp = strchr(req, ' ');
  if (!sp) return;
  *sp = 0;
  uint32_t token = (uint32_t)strtoul(req, NULL, 16);
  char *blob = sp + 1;
  size_t n = unhex(blob);
  static struct spec es;
  parse_spec(&es, blob, n);
  struct exec_state *x = NULL;
  for (int i = 0; i < MAX_EXECS && !x; i++)
    if (xs[i].pid <= 0) x = &xs[i];
  if (!x || es.nargs == 0) {
    exec_refused(token, es.nargs == 0 ? "exec: empty command\n" : "exec: too many execs running in this VM\n");
    return;
  }
  int in, out, err, slave = -1, pi[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
  if (es.tty) {
    int m = container_pty(&slave);
    if (m < 0) {
      exec_refused(token, "exec: cannot allocate a pty\n");
      return;
    }
    in = out = err = slave;
    x->out = m;
    x->err = -1;
    x->in.fd = m;
  } else {
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) die("pipe");
    if (es.stdin) {
      if (pipe2(pi, O_CLOEXEC) != 0) die("pipe");
      fcntl(pi[1], F_SETFL, O_NONBLOCK);
      in = pi[0];
    } else {
      in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    out = po[1];
    err = pe[1];
    x->out = po[0];
    x->err = pe[0];
    x->in.fd = pi[1];
  }
  x->token = token;
  x->tty = es.tty;
  x->status = -1;
  x->pid = spawn_process(&es, mask, in, out, err);
  if (slave >= 0) close(slave);
  else {
    close(in);
    close(out);
    close(err);
  }
  if (x->pid < 0) {
    /* No process: free the slot and end the exec (its relay waits for an exit frame). */
    if (x->in.fd == x->out) x->in.fd = -1; /* a pty master is both */
    if (x->out >= 0) close(x->out);
    if (x->err >= 0) close(x->err);
    x->out = x->err = -1;
    outq_reset(&x->in);
    x->pid = 0;
    exec_refused(token, "exec: cannot start the process in the VM\n");
  }
}

/* "stdin TOKEN [HEX]": input for the exec TOKEN; no data is the end of its input. */
static void exec_stdin(struct exec_state *xs, char *args) {
  char *sp = strchr(args, ' ');
  if (sp) *sp = 0;
  struct exec_state *x = exec_of(xs, (uint32_t)strtoul(args, NULL, 16));
  if (!x || x->in.fd < 0) return;
  if (sp) outq_push(&x->in, sp + 1, unhex(sp + 1));
  else if (!x->tty) x->in.close_after = 1;
  outq_flush(&x->in);
}

static void finish_exec(struct exec_state *x) {
  if (x->pid <= 0 || x->status < 0) return;
  /* With a tty the process's exit is the end (a background child may hold the pty open). */
  if (x->tty && x->out >= 0) {
    drain_pty(x->out, exec_output, x);
    x->in.fd = -1;
    close(x->out);
    x->out = -1;
  }
  if (x->out >= 0 || x->err >= 0) return;
  unsigned char c = (unsigned char)x->status;
  frame(exec_port, 3, x->token, &c, 1);
  outq_reset(&x->in);
  x->pid = 0;
}

/* ifreq ioctls on `name`; -1 with errno on failure. */
static int if_ioctl(int sock, const char *name, unsigned long req, struct ifreq *ifr) {
  strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
  return ioctl(sock, req, ifr);
}

static int if_up(int sock, const char *name) {
  struct ifreq ifr = {0};
  if (if_ioctl(sock, name, SIOCGIFFLAGS, &ifr) != 0) return -1;
  ifr.ifr_flags |= IFF_UP;
  return if_ioctl(sock, name, SIOCSIFFLAGS, &ifr);
}

static void set_in(struct sockaddr *sa, const char *ip) {
  struct sockaddr_in *in = (struct sockaddr_in *)sa;
  memset(in, 0, sizeof *in);
  in->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &in->sin_addr);
}

/*
 * The guest interface whose MAC is `mac` ("aa:bb:..."), waiting up to `ms` for a hot-plugged one.
 * A parked boot NIC ("unused0", see nic_down) is never it: a network connected again may give the
 * new interface the same address, hence the same MAC.
 */
static int find_if_by_mac(const char *mac, char name[IFNAMSIZ], int ms) {
  for (int waited = 0;; waited += 20) {
    DIR *d = opendir("/sys/class/net");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.' || strlen(e->d_name) >= IFNAMSIZ || !strncmp(e->d_name, "unused", 6)) continue;
      char path[300], addr[32] = {0};
      snprintf(path, sizeof path, "/sys/class/net/%s/address", e->d_name);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = read(fd, addr, sizeof addr - 1);
      close(fd);
      if (n > 0 && !strncasecmp(addr, mac, strlen(mac))) {
        strcpy(name, e->d_name);
        closedir(d);
        return 0;
      }
    }
    if (d) closedir(d);
    if (waited >= ms) return -1;
    usleep(20000);
  }
}

/*
 * "net|nic IFNAME MAC IP PREFIX MTU": a guest NIC stands for the container's interface
 * IFNAME and takes its name, MAC and address (the host mirrors frames between that interface and
 * the NIC's tap, as Kata does). `net`: the NIC the VM boots with (eth0). `nic`: one the host has
 * just hot-plugged with the interface's MAC, found by it (the kernel names NICs in probe order);
 * the status port then says "nic IFNAME ok" (or "failed") for the host to wait on.
 */
static int configure_net(char *line, int plugged) {
  char want[IFNAMSIZ + 1], mac[32], ip[64], dev[IFNAMSIZ] = "eth0";
  int prefix, mtu;
  if (sscanf(line, "%15s %31s %63s %d %d", want, mac, ip, &prefix, &mtu) != 5) return -1;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  struct ifreq ifr = {0};
  unsigned int b[6];
  if (plugged) {
    if (find_if_by_mac(mac, dev, 10000) != 0) {
      logmsg("no interface with the container interface's MAC %s appeared", mac);
      close(sock);
      return -1;
    }
  } else if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) == 6) {
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    for (int i = 0; i < 6; i++) ifr.ifr_hwaddr.sa_data[i] = (char)b[i];
    if (if_ioctl(sock, dev, SIOCSIFHWADDR, &ifr) != 0) logmsg("%s", "cannot set the MAC of eth0");
  }
  /* Down, as a fresh NIC is, so it can take the container's name for it. */
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_newname, want, IFNAMSIZ - 1);
  if (strcmp(dev, want) != 0 && if_ioctl(sock, dev, SIOCSIFNAME, &ifr) == 0) strcpy(dev, want);
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_mtu = mtu;
  if_ioctl(sock, dev, SIOCSIFMTU, &ifr);
  memset(&ifr, 0, sizeof ifr);
  set_in(&ifr.ifr_addr, ip);
  if (if_ioctl(sock, dev, SIOCSIFADDR, &ifr) != 0) logmsg("cannot set the address of %s", dev);
  memset(&ifr, 0, sizeof ifr);
  struct sockaddr_in *nm = (struct sockaddr_in *)&ifr.ifr_netmask;
  nm->sin_family = AF_INET;
  nm->sin_addr.s_addr = htonl(prefix == 0 ? 0 : 0xffffffffu << (32 - prefix));
  if_ioctl(sock, dev, SIOCSIFNETMASK, &ifr);
  if (if_up(sock, dev) != 0) logmsg("cannot bring %s up", dev);
  close(sock);
  return 0;
}

/*
 * "down IFNAME": the container's interface is gone (its network disconnected) but its NIC, the one
 * the VM booted with, cannot leave: without its address, down (its routes go), and out of the way
 * as "unused0" so a NIC plugged later can take the name.
 */
static void nic_down(const char *name) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return;
  struct ifreq ifr = {0};
  set_in(&ifr.ifr_addr, "0.0.0.0");
  if_ioctl(sock, name, SIOCSIFADDR, &ifr);
  memset(&ifr, 0, sizeof ifr);
  if (if_ioctl(sock, name, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags &= ~IFF_UP;
    if_ioctl(sock, name, SIOCSIFFLAGS, &ifr);
  }
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_newname, "unused0");
  if (if_ioctl(sock, name, SIOCSIFNAME, &ifr) != 0) logmsg("cannot rename %s", name);
  close(sock);
}

/* The kernel's in6_ifreq (<linux/ipv6.h> clashes with the libc headers). */
struct in6_ifreq_k {
  struct in6_addr addr;
  uint32_t prefixlen;
  int ifindex;
};

/*
 * "net6 IFNAME IP PREFIX": an IPv6 address of the container's interface IFNAME (after "net"
 * brought it up), without duplicate address detection: the host side already holds it, as with
 * runc, and a tentative address would not answer for a second.
 */
static void configure_net6(char *line) {
  char dev[IFNAMSIZ + 1], ip[64], dad[64 + IFNAMSIZ];
  int prefix;
  if (sscanf(line, "%15s %63s %d", dev, ip, &prefix) != 3) return;
  snprintf(dad, sizeof dad, "/proc/sys/net/ipv6/conf/%s/accept_dad", dev);
  write_file(dad, "0");
  int sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return;
  struct in6_ifreq_k req = {.prefixlen = (uint32_t)prefix, .ifindex = (int)if_nametoindex(dev)};
  if (inet_pton(AF_INET6, ip, &req.addr) != 1 || ioctl(sock, SIOCSIFADDR, &req) != 0)
    logmsg("cannot set the IPv6 address %s", ip);
  close(sock);
}

/*
 * "routes DEV4 GW4 DEV6 GW6" ("- -" for none): the guest's default routes become these, one per
 * family as in the container's namespace (the gateway network's; it changes with connects and
 * disconnects). Metrics as runc's namespaces have them: 0 for IPv4, 1024 for IPv6.
 */
static void set_default_routes(char *line) {
  char dev4[IFNAMSIZ + 1], gw4[64], dev6[IFNAMSIZ + 1], gw6[64];
  if (sscanf(line, "%15s %63s %15s %63s", dev4, gw4, dev6, gw6) != 4) return;
  int s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s4 < 0 || s6 < 0) {
    if (s4 >= 0) close(s4);
    return;
  }
  /* Every default route goes (a dst of 0/0 with no gateway or device matches any of them). */
  struct rtentry any4 = {.rt_flags = RTF_UP};
  set_in(&any4.rt_dst, "0.0.0.0");
  set_in(&any4.rt_genmask, "0.0.0.0");
  for (int i = 0; i < 64 && ioctl(s4, SIOCDELRT, &any4) == 0; i++) {
  }
  struct in6_rtmsg any6 = {.rtmsg_flags = RTF_UP};
  for (int i = 0; i < 64 && ioctl(s6, SIOCDELRT, &any6) == 0; i++) {
  }
  if (strcmp(dev4, "-") != 0) {
    struct rtentry rt = {.rt_flags = RTF_UP | RTF_GATEWAY, .rt_metric = 1 /* the kernel takes one off */, .rt_dev = dev4};
    set_in(&rt.rt_gateway, gw4);
    set_in(&rt.rt_dst, "0.0.0.0");
    set_in(&rt.rt_genmask, "0.0.0.0");
    if (ioctl(s4, SIOCADDRT, &rt) != 0) logmsg("cannot add the default route via %s", gw4);
  }
  if (strcmp(dev6, "-") != 0) {
    struct in6_rtmsg rt = {.rtmsg_flags = RTF_UP | RTF_GATEWAY, .rtmsg_metric = 1024, .rtmsg_ifindex = (int)if_nametoindex(dev6)};
    if (inet_pton(AF_INET6, gw6, &rt.rtmsg_gateway) != 1 || ioctl(s6, SIOCADDRT, &rt) != 0)
      logmsg("cannot add the IPv6 default route via %s", gw6);
  }
  close(s4);
  close(s6);
}

/*
 * "file DEST HEX": the host's /etc/hosts, resolv.conf, hostname for the container, bind-mounted.
 * A DEST provided before (a network connect rewrote /etc/hosts) is rewritten in place.
 */
static void provide_file(char *line) {
  static char provided[16][1025];
  static int count;
  char *sp = strchr(line, ' ');
  if (!sp) return;
  *sp = 0;
  const char *dest = line, *hex = sp + 1;
  if (strlen(dest) > 1024 || dest[0] != '/') return;
  int n = 0;
  while (n < count && strcmp(provided[n], dest) != 0) n++;
  int again = n < count;
  if (!again) {
    if (count == 16) return;
    strcpy(provided[count++], dest);
  }
  char src[64], target[4096];
  mkdir("/run", 0755);
  snprintf(src, sizeof src, "/run/file%d", n);
  int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t len = strlen(hex) / 2;
  for (size_t i = 0; i < len; i++) {
    char c = (char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    if (write(fd, &c, 1) != 1) break;
  }
  close(fd);
  if (again) return;
  snprintf(target, sizeof target, "/rootfs%.1024s", dest);
  /* Like runc, create a missing mount target (in the container's rw layer). */
  int t = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (t >= 0) close(t);
  if (mount(src, target, NULL, MS_BIND, NULL) != 0) logmsg("cannot provide %s", dest);
}

int main(void) {
  t_init = uptime();
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  int console = open("/dev/console", O_WRONLY);
  if (console >= 0) {
    dup2(console, 1);
    dup2(console, 2);
  }
  /* An accelerator probe (the host checks that a guest boots and powers off in time). */
  char cmdline[1024] = {0};
  int cfd = open("/proc/cmdline", O_RDONLY);
  if (cfd >= 0) {
    if (read(cfd, cmdline, sizeof cmdline - 1) < 0) cmdline[0] = 0;
    close(cfd);
  }
  if (strstr(cmdline, "skiff.probe")) poweroff(0);
  const char *sk = strstr(cmdline, "skiff.share=");
  if (sk) sscanf(sk + strlen("skiff.share="), "%15[^ \n]", share_kind);
  load_modules(share_kind);
  status_fd = open_port("status", O_WRONLY);
  int out = open_port("stdout", O_WRONLY);
  int err = open_port("stderr", O_WRONLY);
  int ctl = open_port("ctl", O_RDONLY);
  int execp = open_port("exec", O_WRONLY);
  if (status_fd < 0 || out < 0 || err < 0 || ctl < 0 || execp < 0) die("virtio-serial ports missing");
  dup2(err, 2);

  size_t len = 0;
  char *raw = read_file(SPEC_PATH, &len);
  if (!raw) die("no process spec in fw_cfg");
  static struct spec s;
  parse_spec(&s, raw, len);
  if (s.nargs == 0) die("empty process args");

  mkdir("/rootfs", 0755);
  if (mount_share("rootfs", "/rootfs", 0) != 0) die("mount the rootfs share");
  mount_container_fs();
  for (int i = 0; i < s.nmounts; i++) container_mount(s.mounts[i]);
  if (s.hostname) sethostname(s.hostname, strlen(s.hostname));
  cgroup_ok = setup_cgroup(&s) == 0;
  int lo = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (lo >= 0) {
    if_up(lo, "lo");
    close(lo);
  }
  t_ready = uptime();

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC), pout = out, perr = err;
  /*
   * docker run -t: the process gets a pty of the container's devpts; its master is relayed to the
   * bidirectional "tty" port (the host relay holds the pty conmon reads). Made now, so that window
   * sizes sent before the start apply.
   */
  struct outq tty_in = {.fd = -1};
  int slave = -1;
  if (s.tty) {
    if ((main_tty_port = open_port("tty", O_RDWR)) < 0) die("tty port missing");
    if ((main_pty = tty_in.fd = container_pty(&slave)) < 0) die("cannot allocate a pty");
    in = pout = perr = slave;
  } else if (s.stdin && (in = open_port("stdin", O_RDONLY)) < 0) {
    /* docker run -i: the "stdin" port (the host relay's connection; its close is EOF). */
    die("stdin port missing");
  }

  /* Control lines: "start", "signal N", "exec TOKEN SPEC", "stdin TOKEN [HEX]", "resize TOKEN ROWS COLS". */
  static char line[1 << 20];
  size_t used = 0;
  pid_t child = -1;
  static struct exec_state xs[MAX_EXECS];
  for (int i = 0; i < MAX_EXECS; i++) xs[i] = (struct exec_state){.pid = 0, .out = -1, .err = -1, .status = -1, .in = {.fd = -1}};
  exec_port = execp;
  for (;;) {
    /* Then, for each exec slot: its output, its errors, its input. */
    enum { CTL, SIG, TTYPORT, TTY, N };
    enum { XOUT, XERR, XIN, PER_EXEC };
    struct pollfd p[N + PER_EXEC * MAX_EXECS] = {
        [CTL] = {.fd = ctl, .events = POLLIN},
        [SIG] = {.fd = sfd, .events = POLLIN},
        [TTYPORT] = {.fd = main_tty_port, .events = POLLIN},
        [TTY] = {.fd = main_pty, .events = (short)(POLLIN | (tty_in.len ? POLLOUT : 0))},
    };
    for (int e = 0; e < MAX_EXECS; e++) {
      struct exec_state *x = &xs[e];
      struct pollfd *q = &p[N + PER_EXEC * e];
      int live = x->pid > 0;
      q[XOUT] = (struct pollfd){.fd = live ? x->out : -1, .events = (short)(POLLIN | (x->tty && x->in.len ? POLLOUT : 0))};
      q[XERR] = (struct pollfd){.fd = live ? x->err : -1, .events = POLLIN};
      q[XIN] = (struct pollfd){.fd = live && x->in.len && !x->tty ? x->in.fd : -1, .events = POLLOUT};
    }
    if (poll(p, N + PER_EXEC * MAX_EXECS, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    char buf[16384];
    for (int e = 0; e < MAX_EXECS; e++) {
      struct exec_state *x = &xs[e];
      struct pollfd *q = &p[N + PER_EXEC * e];
      for (int i = XOUT; i <= XERR; i++) {
        if (q[i].fd < 0 || !(q[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(q[i].fd, buf, sizeof buf);
        if (n > 0) frame(execp, (uint8_t)(i - XOUT + 1), x->token, buf, (uint32_t)n);
        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          if (x->tty) x->in.fd = -1; /* the same fd */
          close(q[i].fd);
          if (i == XOUT) x->out = -1;
          else x->err = -1;
        }
      }
      if ((q[XIN].fd >= 0 && q[XIN].revents) || (q[XOUT].fd >= 0 && (q[XOUT].revents & POLLOUT))) outq_flush(&x->in);
    }
    if (p[TTYPORT].revents & POLLIN) {
      ssize_t n = read(main_tty_port, buf, sizeof buf);
      if (n > 0) outq_push(&tty_in, buf, (size_t)n);
      else if (n == 0) main_tty_port = -1; /* the host relay is gone; output is lost from here */
      outq_flush(&tty_in);
    }
    if (p[TTY].revents & POLLOUT) outq_flush(&tty_in);
    if (p[TTY].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(main_pty, buf, sizeof buf);
      if (n > 0 && main_tty_port >= 0) write(main_tty_port, buf, (size_t)n);
      /* Every slave closed (EIO) while the process lives on: stop watching the master. */
      else if (n <= 0 && errno != EAGAIN && errno != EINTR) main_pty = tty_in.fd = -1;
    }
    if (p[SIG].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (w == child) poweroff_oom(code, cgroup_ok && oom_killed());
        for (int e = 0; e < MAX_EXECS; e++)
          if (w == xs[e].pid) xs[e].status = code;
      }
    }
    for (int e = 0; e < MAX_EXECS; e++) finish_exec(&xs[e]);
    if (p[CTL].revents & POLLIN) {
      ssize_t n = read(ctl, line + used, sizeof line - 1 - used);
      if (n > 0) used += (size_t)n;
      char *nl;
      while ((nl = memchr(line, '\n', used))) {
        *nl = 0;
        if (!strncmp(line, "net ", 4)) {
          configure_net(line + 4, 0);
        } else if (!strncmp(line, "sync ", 5)) {
          /* The lines before this one are done (the host waits for this before it returns). */
          dprintf(status_fd, "sync %.64s ok\n", line + 5);
        } else if (!strncmp(line, "down ", 5)) {
          nic_down(line + 5);
        } else if (!strncmp(line, "nic ", 4)) {
          char name[IFNAMSIZ + 1] = "?";
          sscanf(line + 4, "%15s", name);
          int ok = configure_net(line + 4, 1) == 0;
          dprintf(status_fd, "nic %s %s\n", name, ok ? "ok" : "failed");
        } else if (!strncmp(line, "net6 ", 5)) {
          configure_net6(line + 5);
        } else if (!strncmp(line, "routes ", 7)) {
          set_default_routes(line + 7);
        } else if (!strncmp(line, "limit ", 6)) {
          /* docker update: a limit of the running container. */
          if (cgroup_ok) set_limit(line + 6);
        } else if (!strncmp(line, "file ", 5)) {
          provide_file(line + 5);
        } else if (!strcmp(line, "start") && child < 0) {
          /* --read-only: after the mount targets and files are in place, as runc does. */
          if (s.readonly && mount(NULL, "/rootfs", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0) die("read-only rootfs");
          t_start = uptime();
          child = spawn_process(&s, &mask, in, pout, perr);
          if (child < 0) die("fork");
          /* The child has the slave: its exit is then the master's hang-up. */
          if (slave >= 0) close(slave);
          dprintf(status_fd, "started\n");
        } else if (!strncmp(line, "signal ", 7) && child > 0) {
          /* To the container's main process only, as runc does (its children are not signalled). */
          kill(child, atoi(line + 7));
        } else if (!strncmp(line, "exec ", 5)) {
          start_exec(xs, line + 5, &mask);
        } else if (!strncmp(line, "stdin ", 6)) {
          exec_stdin(xs, line + 6);
        } else if (!strncmp(line, "resize ", 7)) {
          char *sp = strchr(line + 7, ' ');
          if (sp) {
            *sp = 0;
            uint32_t token = (uint32_t)strtoul(line + 7, NULL, 16);
            struct exec_state *x = token ? exec_of(xs, token) : NULL;
            if (token == 0) set_size(tty_in.fd, sp + 1);
            else if (x && x->tty) set_size(x->out, sp + 1);
          }
        }
        size_t rest = used - (size_t)(nl + 1 - line);
        memmove(line, nl + 1, rest);
        used = rest;
      }
      if (used == sizeof line - 1) used = 0;
    } else if (p[CTL].revents & (POLLHUP | POLLERR)) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
}
