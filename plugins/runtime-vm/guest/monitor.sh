#!/bin/sh
# Runs one container VM: virtiofsd for the rootfs, then qemu; exits with the container process's
# status (reported by the guest agent on the "status" port), or 128+n when qemu was killed by
# signal n. conmon supervises this script like a container process (its pid is the "container").
# Usage (cwd: the VM's state dir): monitor.sh ROOTFS VIRTIOFSD QEMU [QEMU ARGS...]
root=$1
virtiofsd=$2
shift 2
# Our stdin is conmon's (a pipe with -i): kept as fd 5 for the stdin relay.
exec 5<&0 </dev/null
# virtiofsd names its pid file (and lock) after the socket path: make the path unique but short.
"$virtiofsd" --socket-path="../${PWD##*/}/fs.sock" -o source="$root" -o cache=auto -o xattr </dev/null >virtiofsd.log 2>&1 5<&- &
echo $! >virtiofsd.pid
i=0
while [ ! -S fs.sock ]; do
  i=$((i + 1))
  if [ $i -gt 1000 ] || ! kill -0 "$(cat virtiofsd.pid)" 2>/dev/null; then
    echo "skiff vm: virtiofsd did not start: $(tail -n 3 virtiofsd.log)" >&2
    exit 255
  fi
  sleep 0.005
done
# The guest's stdout and stderr ports write to fds 3 and 4: conmon's pipes.
"$@" </dev/null 3>&1 4>&2 >qemu.log 2>&1 5<&- &
qemu=$!
echo $qemu >qemu.pid
if [ -n "$SKIFF_VM_STDIN" ]; then
  "$SKIFF_VM_STDIN" stdin stdin.sock <&5 5<&- >/dev/null 2>&1 &
fi
exec 5<&-
wait $qemu
rc=$?
kill "$(cat virtiofsd.pid)" 2>/dev/null
# The agent writes "started", then "exit CODE" or "exit CODE oom".
last=$(tail -n 1 status 2>/dev/null)
case "$last" in
"exit "*)
  set -- $last
  [ "$3" = oom ] && [ -n "$SKIFF_VM_OOM_FILE" ] && : >"$SKIFF_VM_OOM_FILE"
  exit "$2"
  ;;
esac
# Killed (docker kill, rm -f): the status of the signal, as for a process.
case $rc in 137 | 143) exit $rc ;; esac
echo "skiff vm: the VM stopped without an exit status (qemu status $rc): $(tail -n 3 qemu.log)" >&2
[ $rc -gt 128 ] && exit $rc
exit 255
