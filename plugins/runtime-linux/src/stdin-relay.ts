import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { ConflictError, SystemError } from '@skiff/core/plugin-api';

/**
 * conmon takes a container's stdin on its attach socket, `<bundle>/attach`, which is a
 * SOCK_SEQPACKET unix socket: Node's `net` cannot connect to those. A small Perl relay (Perl
 * and its Socket module are part of every Debian system, `perl-base`) does: it connects, prints
 * "ok", then copies its stdin to the socket as messages; when its stdin ends it closes the socket
 * and conmon closes the container's stdin. It connects through `/proc/self/fd/3/attach` (fd 3 is
 * the bundle directory) so long bundle paths never hit the 108-byte socket path limit, and it
 * shuts down its reading side: the output is read from the log file, not from the socket.
 */
const RELAY = `
use strict; use Socket;
socket(my $s, AF_UNIX, SOCK_SEQPACKET, 0) or die "socket: $!\\n";
connect($s, pack_sockaddr_un("/proc/self/fd/3/attach")) or die "connect to the attach socket: $!\\n";
shutdown($s, 0);
$SIG{PIPE} = "IGNORE";
$| = 1; print "ok\\n"; close(STDOUT);
my $buf;
while (1) {
  my $n = sysread(STDIN, $buf, 8192);
  die "read: $!\\n" unless defined $n;
  last if $n == 0;
  defined(send($s, $buf, 0)) or exit 0;
}
close($s);
`;

export async function openStdinRelay(perl: string, bundle: string): Promise<Writable> {
  let dirFd: number;
  try {
    dirFd = openSync(bundle, 'r');
  } catch (e) {
    throw new ConflictError(`task bundle ${bundle} is gone: ${(e as Error).message}`);
  }
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(perl, ['-e', RELAY], { stdio: ['pipe', 'pipe', 'pipe', dirFd], env: {} });
  } finally {
    closeSync(dirFd);
  }
  child.unref();
  const stdin = child.stdin as Writable;
  // Writes after the container has gone (EPIPE) are dropped, as dockerd drops them.
  stdin.on('error', () => {});
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  let err = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (s: string) => {
    err += s;
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    stdout.setEncoding('utf8');
    stdout.on('data', (s: string) => {
      out += s;
      if (out.startsWith('ok\n')) resolve();
    });
    child.on('error', (e) => reject(new SystemError(`stdin relay: ${e.message}`, { cause: e })));
    child.on('exit', (code) => {
      if (out.startsWith('ok\n')) return;
      const msg = err.trim() || `exit status ${code}`;
      reject(
        /connect/.test(msg) && /refused|No such file/i.test(msg)
          ? new ConflictError(`container is not running: ${msg}`)
          : new SystemError(`stdin relay: ${msg}`),
      );
    });
  });
  stdout.destroy();
  stderr.destroy();
  return stdin;
}
