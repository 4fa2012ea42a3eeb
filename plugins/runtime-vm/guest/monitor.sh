#!/bin/sh
# Runs one container VM: a virtiofsd for each line of ./shares ("TAG ro|rw SOURCE": the rootfs, then
# the container's directory mounts), then qemu; exits with the container process's status (reported
# by the guest agent on the "status" port), or 128+n when qemu was killed by signal n. conmon
# supervises this script like a container process (its pid is the "container").
# Usage (cwd: the VM's state dir): monitor.sh VIRTIOFSD QEMU [QEMU ARGS...]
virtiofsd=$1
shift
# Into the VM's cgroups on the host (docker stats/top), before anything is forked.
for d in $SKIFF_VM_CGROUPS; do echo $$ >"$d/cgroup.procs"; done 2>/dev/null
# Our stdin is conmon's (a pipe with -i): kept as fd 5 for the stdin relay.
exec 5<&0 </dev/null
: >virtiofsd.pid
# virtiofsd names its pid file (and lock) after the socket path: make the path unique but short.
while read -r tag mode src; do
  sock="../${PWD##*/}/$tag.sock"
  if [ "$mode" = ro ]; then
    # Read-only for the host's sake too: virtiofsd serves a read-only bind of the source, made in a
    # mount namespace of its own (the guest could remount its side read-write).
    unshare --mount --propagation private sh -c \
      'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && exec "$2" --socket-path="$3" -o source="$1" -o cache=auto -o xattr' \
      sh "$src" "$virtiofsd" "$sock" </dev/null >"virtiofsd-$tag.log" 2>&1 5<&- &
  else
    "$virtiofsd" --socket-path="$sock" -o source="$src" -o cache=auto -o xattr </dev/null >"virtiofsd-$tag.log" 2>&1 5<&- &
  fi
  echo $! >>virtiofsd.pid
done <shares
# Ready once it listens (the socket file appears at bind(), a moment before).
i=0
while read -r tag mode src; do
  until grep -q "Waiting for vhost-user socket connection" "virtiofsd-$tag.log" 2>/dev/null; do
    i=$((i + 1))
    for pid in $(cat virtiofsd.pid); do
      if [ $i -gt 1000 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "skiff vm: virtiofsd did not start for $src: $(tail -n 3 "virtiofsd-$tag.log")" >&2
        kill $(cat virtiofsd.pid) 2>/dev/null
        exit 255
      fi
    done
    sleep 0.005
  done
done <shares
# The guest's stdout and stderr ports write to fds 3 and 4: conmon's pipes.
"$@" </dev/null 3>&1 4>&2 >qemu.log 2>&1 5<&- &
qemu=$!
echo $qemu >qemu.pid
if [ -n "$SKIFF_VM_STDIN" ]; then
  "$SKIFF_VM_RELAY" stdin stdin.sock <&5 5<&- >/dev/null 2>&1 &
fi
# The exec port's frames to each exec's relay (ends with qemu).
"$SKIFF_VM_RELAY" demux . </dev/null >/dev/null 2>&1 5<&- &
exec 5<&-
wait $qemu
rc=$?
kill $(cat virtiofsd.pid) 2>/dev/null
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
