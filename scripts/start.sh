#!/usr/bin/env bash
# Starts the portal on its embedded defaults: frontend on :3000, backend on
# :7007, SQLite under .data/, the local executor, the example agents in
# catalog/. Provisions Node 22 + Yarn 4 and the packages first if needed.
# Local runs are sandboxed with bubblewrap: installed here when missing and run
# as root, else the one command to install it is printed (the portal then
# starts, but refuses to run agents and says why in /api/infra-control-plane/health).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "[start] installing bubblewrap (the sandbox of local agent runs)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap) >&2 ||
      echo "[start] could not install bubblewrap: agents will not run until it is installed" >&2
  else
    echo "[start] bubblewrap is missing: agents will not run until you install it with: sudo apt-get install bubblewrap" >&2
  fi
fi
. scripts/install.sh
mkdir -p .data/sqlite
exec yarn start "$@"
