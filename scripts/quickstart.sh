#!/usr/bin/env bash
# npm run quickstart [-- --keep]: set up, then build a busybox image, start a local registry and
# skiffd, and run a container with the docker CLI and the skiff CLI. No internet needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
exec node test/dist/harness/quickstart.js "$@"
