#!/usr/bin/env bash
# Provides a dockerd to compare skiffd with (test/src/harness/dockerd-peer.ts) WITHOUT installing
# Debian's docker.io: installing it would start a system-wide dockerd and rewrite iptables. The
# packages are fetched with `apt-get download` and unpacked with `dpkg -x` into a cache dir:
#   docker.io   dockerd, docker-init (a symlink to tini-static)
#   containerd  containerd, containerd-shim-runc-v2
#   tini        tini-static, the target of docker-init
# runc comes from the system (setup.sh installs it). A library dockerd needs that the machine lacks
# (libdevmapper) is unpacked too; the harness puts the cache's lib dirs on LD_LIBRARY_PATH.
#
# Prints the dockerd path. Cache dir: $SKIFF_PEER_DIR, default /var/cache/skiff-test/dockerd-peer.
# On a machine where the cache is ready it only checks a few files (a few ms). Safe to run
# concurrently (flock), and a half-done unpack never becomes the cache (staging dir + rename).
set -euo pipefail

say() { printf 'dockerd-peer: %s\n' "$*" >&2; }

dir=${SKIFF_PEER_DIR:-/var/cache/skiff-test/dockerd-peer}
dockerd=$dir/usr/sbin/dockerd

ready() {
  [[ -x $1/usr/sbin/dockerd && -x $1/usr/bin/containerd && -x $1/usr/bin/containerd-shim-runc-v2 && -x $1/usr/bin/docker-init ]]
}

if ready "$dir"; then
  printf '%s\n' "$dockerd"
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  say "no dockerd under $dir, and only root can fetch it (run as root: $0)"
  exit 1
fi
for tool in apt-get dpkg flock; do
  command -v "$tool" >/dev/null || {
    say "$tool not found: this script needs a Debian host"
    exit 1
  }
done

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if ready "$dir"; then # another run finished it while we waited
  printf '%s\n' "$dockerd"
  exit 0
fi

work=$(mktemp -d "$dir.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/debs" "$work/root"

# `apt-get download` works as root without touching dpkg's state; it needs package lists, which a
# fresh clone may lack: update them only then.
download() {
  (cd "$work/debs" && apt-get download -qq "$@" >"$work/apt.log" 2>&1)
}
if ! download docker.io containerd tini; then
  say "apt-get download failed ($(tail -n 1 "$work/apt.log")); running apt-get update"
  apt-get update -qq >/dev/null
  download docker.io containerd tini || {
    say "apt-get download docker.io containerd tini failed:"
    cat "$work/apt.log" >&2
    exit 1
  }
fi
for deb in "$work"/debs/*.deb; do
  dpkg -x "$deb" "$work/root"
done

missing_libs() {
  LD_LIBRARY_PATH="$work/root/lib/x86_64-linux-gnu:$work/root/usr/lib/x86_64-linux-gnu" \
    ldd "$work/root/usr/sbin/dockerd" "$work/root/usr/bin/containerd" 2>/dev/null | awk '/not found/ {print $1}' | sort -u
}
if [[ -n $(missing_libs) ]]; then
  download libdevmapper1.02.1 || {
    cat "$work/apt.log" >&2
    exit 1
  }
  dpkg -x "$work"/debs/libdevmapper*.deb "$work/root"
  if [[ -n $(missing_libs) ]]; then
    say "dockerd or containerd still lacks: $(missing_libs | tr '\n' ' ')"
    exit 1
  fi
fi

if ! ready "$work/root"; then
  say "the unpacked packages lack dockerd, containerd, containerd-shim-runc-v2 or docker-init"
  exit 1
fi
"$work/root/usr/sbin/dockerd" --version >/dev/null

rm -rf "$dir"
mv "$work/root" "$dir"
printf '%s\n' "$dockerd"
