/*
 * Host side of a VM container's stdin (docker run -i): copies our stdin (conmon's pipe) to qemu's
 * "stdin" chardev socket; ending the connection at EOF is what the guest sees as EOF.
 * Usage: skiff-vm-stdin SOCKET. Built with the guest assets.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return 2;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, argv[1]);
  int s = -1;
  for (int tries = 0; tries < 3000; tries++) {
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0) break;
    if (s >= 0) close(s);
    s = -1;
    usleep(5000);
  }
  if (s < 0) return 1;
  char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(s, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return 1;
      off += w;
    }
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
