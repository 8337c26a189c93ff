#!/usr/bin/env bash
# Starts the portal on its embedded defaults: frontend on :3000, backend on
# :7007, SQLite under .data/, the local executor, the example agents in
# catalog/. Provisions Node 22 + Yarn 4 and the packages first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/install.sh
mkdir -p .data/sqlite
exec yarn start "$@"
