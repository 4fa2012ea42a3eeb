/*
 * Host side of a VM container's stdio, beside qemu (built with the guest assets as skiff-vm-relay).
 *
 *   stdin SOCKET
 *     docker run -i: copies our stdin (conmon's pipe) to qemu's "stdin" chardev socket; its end is
 *     EOF for the process in the guest.
 *   tty CONSOLE SOCKET CTL
 *     docker run -t: makes a pty, hands its master to conmon over CONSOLE (the OCI console-socket
 *     protocol, as runc does), and relays between the pty's slave and qemu's "tty" chardev socket.
 *     Window sizes (conmon sets them on the master: we get SIGWINCH) go to the agent as
 *     "resize 0 ROWS COLS" lines on the control fifo CTL.
 *   exec DIR TOKEN PIDFILE [CONSOLE]
 *     docker exec: the process conmon supervises for an exec. Makes the fifo DIR/exec-TOKEN.out,
 *     sends the request DIR/exec-TOKEN.req to the agent, writes the frames `demux` puts in the fifo
 *     to stdout/stderr (or the pty with CONSOLE), sends our stdin as "stdin TOKEN HEX" lines
 *     ("stdin TOKEN" at its end), and exits with the process's status.
 *   demux DIR
 *     Beside qemu for the VM's life (started by the monitor): reads the exec port's frames from
 *     DIR/exec.out and passes each to its exec's fifo, DIR/exec-TOKEN.out, so execs run side by side.
 *
 * tty and exec return once conmon has the pty master (or at once), leaving a child that does the
 * relaying: the runtime command conmon runs must return, and conmon (a subreaper) adopts the child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = {.fd = fd, .events = POLLOUT};
      poll(&pf, 1, 100);
      continue;
    }
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Connects to a unix socket, retrying while it is not there yet; a path too long for sun_path goes
 * through /proc/self/fd/N/NAME of its directory. */
static int unix_connect(const char *path, int tries) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int dir = -1;
  if (strlen(path) < sizeof sa.sun_path) {
    strcpy(sa.sun_path, path);
  } else {
    const char *slash = strrchr(path, '/');
    if (!slash) return -1;
    char *parent = strndup(path, (size_t)(slash - path));
    dir = parent ? open(*parent ? parent : "/", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    free(parent);
    if (dir < 0 || snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dir, slash + 1) >= (int)sizeof sa.sun_path)
      return -1;
  }
  int s = -1;
  for (int i = 0; i < tries; i++) {
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) break;
    if (s >= 0) close(s);
    s = -1;
    usleep(5000);
  }
  if (dir >= 0) close(dir);
  return s;
}

/* A pty whose slave is raw: the guest's pty does the line discipline, this one only carries bytes. */
static int make_pty(int *master, int *slave, char *name, size_t len) {
  *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*master < 0 || grantpt(*master) != 0 || unlockpt(*master) != 0 || ptsname_r(*master, name, len) != 0) return -1;
  *slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*slave < 0) return -1;
  struct termios t;
  if (tcgetattr(*slave, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(*slave, TCSANOW, &t);
  }
  return 0;
}

/* The console-socket protocol: the master fd as SCM_RIGHTS, with the pty's name as the message. */
static int send_console(const char *path, int fd, const char *name) {
  int s = unix_connect(path, 1);
  if (s < 0) return -1;
  char control[CMSG_SPACE(sizeof fd)];
  memset(control, 0, sizeof control);
  struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fd);
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  int rc = sendmsg(s, &msg, 0) < 0 ? -1 : 0;
  close(s);
  return rc;
}

/* One line to the agent's control fifo (lines up to PIPE_BUF are never interleaved with others). */
static int ctl_line(const char *ctl, const char *line, size_t len) {
  /* Relays of side-by-side execs write here too: a line longer than PIPE_BUF (an exec request)
   * must not interleave with theirs. */
  char lock_path[4200];
  snprintf(lock_path, sizeof lock_path, "%s.lock", ctl);
  for (int i = 0; i < 3000; i++) {
    int fd = open(ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (lock >= 0) flock(lock, LOCK_EX);
      int rc = write_all(fd, line, len);
      if (lock >= 0) close(lock);
      close(fd);
      return rc;
    }
    if (errno != ENXIO && errno != EINTR) return -1;
    usleep(5000);
  }
  return -1;
}

static void send_size(const char *ctl, const char *token, int tty) {
  struct winsize ws;
  if (ioctl(tty, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return;
  char line[96];
  int n = snprintf(line, sizeof line, "resize %s %u %u\n", token, ws.ws_row, ws.ws_col);
  ctl_line(ctl, line, (size_t)n);
}

/* Input for an exec: "stdin TOKEN HEX\n" (at most 1500 bytes a line), "stdin TOKEN\n" at the end. */
static void send_stdin(const char *ctl, const char *token, const unsigned char *data, size_t n) {
  static const char hex[] = "0123456789abcdef";
  char line[32 + 2 * 1500];
  for (size_t off = 0; off < n || n == 0;) {
    size_t chunk = n - off > 1500 ? 1500 : n - off;
    int len = snprintf(line, 32, "stdin %s%s", token, chunk ? " " : "");
    for (size_t i = 0; i < chunk; i++) {
      line[len++] = hex[data[off + i] >> 4];
      line[len++] = hex[data[off + i] & 15];
    }
    line[len++] = '\n';
    ctl_line(ctl, line, (size_t)len);
    off += chunk;
    if (n == 0) break;
  }
}

/* A raw pty whose master conmon now holds (sent over CONSOLE); its slave in *slave. */
static int console_pty(const char *console, int *slave) {
  int master;
  char name[128];
  if (make_pty(&master, slave, name, sizeof name) != 0 || send_console(console, master, name) != 0) {
    perror("skiff-vm-relay: console");
    return -1;
  }
  close(master);
  return 0;
}

/* Becomes the session leader with the pty slave as its terminal: conmon's resizes reach us as SIGWINCH. */
static int winch_fd(int slave) {
  setsid();
  ioctl(slave, TIOCSCTTY, 0);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGWINCH);
  sigprocmask(SIG_BLOCK, &m, NULL);
  return signalfd(-1, &m, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void null_stdio(void) {
  int n = open("/dev/null", O_RDWR);
  if (n < 0) return;
  for (int fd = 0; fd < 3; fd++) dup2(n, fd);
  if (n > 2) close(n);
}

static int stdin_mode(const char *path) {
  int s = unix_connect(path, 3000);
  if (s < 0) return 1;
  char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (write_all(s, buf, (size_t)n) != 0) return 1;
  }
  /*
   * Half-close: qemu reads what is buffered, then EOF, and only then drops the connection (a full
   * close makes it see a hang-up at once and lose unread bytes). Wait for that.
   */
  shutdown(s, SHUT_WR);
  while (read(s, buf, sizeof buf) > 0) {
  }
  return 0;
}

static int tty_mode(const char *console, const char *path, const char *ctl) {
  int slave;
  if (console_pty(console, &slave) != 0) return 1;
  pid_t pid = fork();
  if (pid != 0) return pid < 0 ? 1 : 0;
  null_stdio();
  int winch = winch_fd(slave);
  int s = unix_connect(path, 6000);
  if (s < 0) return 1;
  send_size(ctl, "0", slave);
  char buf[65536];
  int tty = slave;
  for (;;) {
    struct pollfd p[3] = {{.fd = tty, .events = POLLIN}, {.fd = s, .events = POLLIN}, {.fd = winch, .events = POLLIN}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (p[0].revents) {
      ssize_t n = read(slave, buf, sizeof buf);
      if (n > 0) write_all(s, buf, (size_t)n);
      else if (n < 0 && errno != EINTR && errno != EAGAIN) tty = -1; /* conmon closed the master */
    }
    if (p[1].revents) {
      ssize_t n = read(s, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR)) return 0; /* the VM is gone */
      if (n > 0) write_all(slave, buf, (size_t)n);
    }
    if (p[2].revents) {
      struct signalfd_siginfo si;
      while (read(winch, &si, sizeof si) > 0) {
      }
      send_size(ctl, "0", slave);
    }
  }
}

static char *read_whole(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) return NULL;
  char *buf = malloc((size_t)st.st_size + 1);
  size_t n = 0;
  while (buf && n < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

/*
 * The exec port's frame at buf+off: type (1 stdout, 2 stderr, 3 exit status), token and length (both
 * big-endian), data. 1 with its token and length when it is all in buf, 0 when more is needed, -1
 * when it could never fit.
 */
static int frame_at(const unsigned char *buf, size_t used, size_t off, size_t cap, unsigned long *tok, size_t *len) {
  if (used - off < 9) return 0;
  const unsigned char *h = buf + off;
  *tok = (unsigned long)h[1] << 24 | h[2] << 16 | h[3] << 8 | h[4];
  *len = (size_t)h[5] << 24 | h[6] << 16 | h[7] << 8 | h[8];
  if (*len > cap - 9) return -1;
  return used - off >= 9 + *len;
}

/* Whether qemu still holds the VM's control fifo open for reading (a writer's open then succeeds). */
static int vm_alive(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/ctl.in", dir);
  int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno != ENXIO && errno != ENOENT;
  close(fd);
  return 1;
}

static int relay_exec(const char *dir, int in, int input, int winch, const char *ctl, const char *token, int slave, int console);

static int exec_mode(const char *dir, const char *token, const char *pidfile, const char *console) {
  int slave = -1;
  if (console && console_pty(console, &slave) != 0) return 1;
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid > 0) {
    FILE *f = fopen(pidfile, "w");
    if (!f || fprintf(f, "%d", pid) < 0 || fclose(f) != 0) return 1;
    return 0;
  }
  int winch = -1;
  if (console) {
    winch = winch_fd(slave);
    for (int fd = 0; fd < 3; fd++) dup2(slave, fd);
  }
  char path[4096], ctl[4096], out[4096];
  snprintf(ctl, sizeof ctl, "%s/ctl.in", dir);
  snprintf(path, sizeof path, "%s/exec-%s.req", dir, token);
  size_t reqlen = 0;
  char *req = read_whole(path, &reqlen);
  unlink(path);
  if (!req) return 255;
  /* Ours before the request goes out: demux opens it at the exec's first frame. Non-blocking open
   * (there is no writer yet); reads block (poll) from here. */
  snprintf(out, sizeof out, "%s/exec-%s.out", dir, token);
  if (mkfifo(out, 0600) != 0) return 255;
  int in = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (in < 0 || ctl_line(ctl, req, reqlen) != 0) {
    unlink(out);
    return 255;
  }
  if (console) send_size(ctl, token, slave);
  /* Our stdin counts only when it is conmon's pipe (docker exec -i) or the pty. */
  struct stat st0;
  int input = console || (fstat(0, &st0) == 0 && (S_ISFIFO(st0.st_mode) || S_ISSOCK(st0.st_mode))) ? 0 : -1;
  int status = relay_exec(dir, in, input, winch, ctl, token, slave, console != NULL);
  unlink(out);
  return status;
}

/* The exec's frames from `in` (our fifo) to stdout/stderr, its input and window sizes to the agent. */
static int relay_exec(const char *dir, int in, int input, int winch, const char *ctl, const char *token, int slave, int console) {
  unsigned long want = strtoul(token, NULL, 16);
  static unsigned char buf[1 << 17];
  size_t used = 0;
  for (;;) {
    struct pollfd p[3] = {{.fd = in, .events = POLLIN}, {.fd = input, .events = POLLIN}, {.fd = winch, .events = POLLIN}};
    int ready = poll(p, 3, 1000);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return 255;
    }
    /* A fifo that demux never opened reports nothing: notice a VM that is gone by its control fifo. */
    if (ready == 0 && !vm_alive(dir)) return 255;
    if (p[1].revents) {
      unsigned char data[1500];
      ssize_t n = read(0, data, sizeof data);
      if (n > 0) send_stdin(ctl, token, data, (size_t)n);
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        if (!console) send_stdin(ctl, token, data, 0);
        input = -1;
      }
    }
    if (p[2].revents) {
      struct signalfd_siginfo si;
      while (read(winch, &si, sizeof si) > 0) {
      }
      send_size(ctl, token, slave);
    }
    if (!p[0].revents) continue;
    ssize_t n = read(in, buf + used, sizeof buf - used);
    if (n == 0) return 255; /* demux is gone: so is the VM */
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return 255;
    }
    used += (size_t)n;
    size_t off = 0, len;
    unsigned long tok;
    for (int r; (r = frame_at(buf, used, off, sizeof buf, &tok, &len)) != 0; off += 9 + len) {
      if (r < 0) return 255;
      unsigned char *h = buf + off;
      if (tok == want) {
        if (h[0] == 1 || h[0] == 2) write_all(h[0], h + 9, len);
        else if (h[0] == 3) return len > 0 ? h[9] : 255;
      }
    }
    memmove(buf, buf + off, used - off);
    used -= off;
  }
}

/* An exec's fifo, open from its first frame to its exit frame (fd -1: its relay is gone). */
struct route {
  unsigned long token;
  int fd;
};

/* The route of `token`, opened at its first frame; NULL when all are taken (its frames are dropped). */
static struct route *route_of(const char *dir, struct route *routes, size_t max, unsigned long token) {
  struct route *free_slot = NULL;
  for (size_t i = 0; i < max; i++) {
    if (routes[i].token == token) return &routes[i];
    if (!routes[i].token && !free_slot) free_slot = &routes[i];
  }
  if (!free_slot) return NULL;
  char path[4096];
  snprintf(path, sizeof path, "%s/exec-%lx.out", dir, token);
  /* Non-blocking: no reader (its relay was killed) fails at once instead of hanging every exec. */
  int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *free_slot = (struct route){token, fd};
  return free_slot;
}

static int demux_mode(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/exec.out", dir);
  int in = open(path, O_RDONLY | O_CLOEXEC);
  if (in < 0) return 1;
  static struct route routes[64];
  static unsigned char buf[1 << 17];
  size_t used = 0;
  for (;;) {
    ssize_t n = read(in, buf + used, sizeof buf - used);
    if (n == 0) return 0; /* qemu is gone */
    if (n < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    used += (size_t)n;
    size_t off = 0, len;
    unsigned long tok;
    for (int r; (r = frame_at(buf, used, off, sizeof buf, &tok, &len)) != 0; off += 9 + len) {
      if (r < 0) return 1;
      unsigned char *h = buf + off;
      struct route *r = route_of(dir, routes, sizeof routes / sizeof routes[0], tok);
      if (!r) continue;
      if (r->fd >= 0 && write_all(r->fd, h, 9 + len) != 0) {
        close(r->fd);
        r->fd = -1;
      }
      if (h[0] == 3) {
        if (r->fd >= 0) close(r->fd);
        *r = (struct route){0, -1};
      }
    }
    memmove(buf, buf + off, used - off);
    used -= off;
  }
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && !strcmp(argv[1], "stdin")) return stdin_mode(argv[2]);
  if (argc == 5 && !strcmp(argv[1], "tty")) return tty_mode(argv[2], argv[3], argv[4]);
  if ((argc == 5 || argc == 6) && !strcmp(argv[1], "exec")) return exec_mode(argv[2], argv[3], argv[4], argv[5]);
  if (argc == 3 && !strcmp(argv[1], "demux")) return demux_mode(argv[2]);
  fprintf(stderr, "usage: skiff-vm-relay stdin SOCKET | tty CONSOLE SOCKET CTL | exec DIR TOKEN PIDFILE [CONSOLE] | demux DIR\n");
  return 2;
}
